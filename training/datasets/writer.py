"""Writing outputs safely: sharded TFRecord files and an output folder replaced atomically."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core import fileio
from core.errors import UserError
from training.datasets.paths import show

MARKER = "dataset.json"  # a folder holding this was made by us and may be replaced


class ShardedWriter:
    """Writes ``NAME.record``, or ``NAME-00000-of-0000K.record`` shards past ``shard_bytes``.

    ``shards`` > 1 deals the examples round-robin over that many files (each still split
    past ``shard_bytes``): multi-worker training reads whole files per worker when there
    are at least as many as workers.
    """

    def __init__(self, folder: Path, name: str, shard_bytes: int, shards: int = 1) -> None:
        import tensorflow as tf

        self._tf = tf
        self.folder, self.name, self.shard_bytes = folder, name, max(int(shard_bytes), 1)
        self.parts: list[Path] = []
        self.count = 0
        lanes = max(int(shards), 1)
        self._sizes = [0] * lanes
        self._writers: list = [None] * lanes

    def write(self, serialized: bytes) -> None:
        lane = self.count % len(self._writers)
        size = self._sizes[lane]
        if self._writers[lane] is None or (size and size + len(serialized) > self.shard_bytes):
            self._next_part(lane)
        self._writers[lane].write(serialized)
        self._sizes[lane] += len(serialized) + 16  # TFRecord framing: length, two CRCs
        self.count += 1

    def _next_part(self, lane: int) -> None:
        if self._writers[lane] is not None:
            self._writers[lane].close()
        part = self.folder / f".{self.name}-{len(self.parts):05d}.part"
        self.parts.append(part)
        self._writers[lane] = self._tf.io.TFRecordWriter(str(part))
        self._sizes[lane] = 0

    def close(self) -> list[str]:
        """Finish and name the files; returns their names (none for an empty split)."""
        if not self.parts:
            return []
        for writer in self._writers:
            if writer is not None:
                writer.close()
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
    """`core.fileio.atomic_dir` for a dataset folder: refuses one we did not make."""
    check_out_dir(out)
    with fileio.atomic_dir(out) as tmp:
        yield tmp
