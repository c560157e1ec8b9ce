"""Writing outputs safely: sharded TFRecord files and an output folder replaced atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import UserError
from training.datasets.paths import show

MARKER = "dataset.json"  # a folder holding this was made by us and may be replaced


class ShardedWriter:
    """Writes ``NAME.record``, or ``NAME-00000-of-0000K.record`` shards past ``shard_bytes``."""

    def __init__(self, folder: Path, name: str, shard_bytes: int) -> None:
        import tensorflow as tf

        self._tf = tf
        self.folder, self.name, self.shard_bytes = folder, name, max(int(shard_bytes), 1)
        self.parts: list[Path] = []
        self.count = 0
        self._size = 0
        self._writer = None

    def write(self, serialized: bytes) -> None:
        if self._writer is None or (self._size and self._size + len(serialized) > self.shard_bytes):
            self._next_part()
        self._writer.write(serialized)
        self._size += len(serialized) + 16  # TFRecord framing: length, two CRCs
        self.count += 1

    def _next_part(self) -> None:
        if self._writer is not None:
            self._writer.close()
        part = self.folder / f".{self.name}-{len(self.parts):05d}.part"
        self.parts.append(part)
        self._writer = self._tf.io.TFRecordWriter(str(part))
        self._size = 0

    def close(self) -> list[str]:
        """Finish and name the files; returns their names (none for an empty split)."""
        if self._writer is None:
            return []
        self._writer.close()
        total = len(self.parts)
        names = [f"{self.name}.record"] if total == 1 else [
            f"{self.name}-{i:05d}-of-{total:05d}.record" for i in range(total)]
        for part, name in zip(self.parts, names):
            os.replace(part, self.folder / name)
        return names


def check_out_dir(out: Path) -> None:
    """Refuse to replace a folder that holds anything we did not make."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise UserError(f"{show(out)}: exists and is not a lookout dataset folder (no {MARKER}); "
                        "choose another --out or remove it")


@contextmanager
def atomic_dir(out: Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; on success it becomes ``out`` in one rename.

    On any failure the temporary folder is removed and ``out`` is left as it was.
    """
    out = Path(out)
    check_out_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the result is an ordinary folder
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.rmdir(old)
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
