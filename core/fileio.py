"""Atomic writes: a temp file (or folder) beside the target, then one rename.

A crash or a full disk leaves either the old file or folder or the new one, never half
of one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # what open() would give; mkstemp alone gives 0600


def atomic_write_bytes(path: str | Path, data: bytes, *, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` atomically; ``fsync`` when later records point at it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str, *, fsync: bool = False) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


def atomic_write_json(path: str | Path, data: Any, **dumps: Any) -> None:
    """``json.dumps(data, **dumps)`` plus a final newline, written atomically."""
    atomic_write_text(path, json.dumps(data, **dumps) + "\n")


@contextmanager
def atomic_dir(out: str | Path, keep: str | Path | None = None) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; on success it becomes ``out`` in one rename
    (an existing ``out`` is swapped aside, then removed; or, with ``keep``, renamed to
    ``keep``, replacing an older one: a rollback copy). On any failure the temporary
    folder is removed and ``out`` is left as it was. Callers check first that ``out``
    is theirs to replace."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # what mkdir gives; mkdtemp makes it private
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    drop = Path(keep) if keep is not None else out  # what is thrown away, once replaced
    old = None
    if drop.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{drop.name}.", suffix=".old", dir=drop.parent))
        os.rmdir(old)
        os.replace(drop, old)
    if keep is not None and out.exists():
        os.replace(out, keep)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
