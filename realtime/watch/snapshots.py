"""Event snapshots on disk: a JPEG with boxes and a clean copy, retained by count and age.

Files are ``snapshots/<event id>.jpg`` and ``snapshots/<event id>.clean.jpg``, each
written to a temporary file and renamed, so a reader (a notifier, a person) never sees
half a JPEG. `prune` keeps disk use bounded on runs that last weeks.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np

from core.fileio import atomic_write_bytes
from realtime.detections import Detections

log = logging.getLogger("lookout.watch")


def write_jpeg(path: Path, rgb: np.ndarray, quality: int = 90) -> None:
    """Encode ``rgb`` and write it atomically (temp file + rename)."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"{path}: JPEG encoding failed")
    # fsync: on disk before the event that points at it is logged
    atomic_write_bytes(path, data.tobytes(), fsync=True)


class SnapshotStore:
    """Writes and prunes the snapshots (and clips) of the events in one folder.

    Args:
        root: the events folder; snapshots go to ``root/snapshots``.
        keep: at most this many events keep their files (oldest removed first).
        max_age_days: files older than this are removed.
    """

    def __init__(self, root: str | Path, keep: int = 1000, max_age_days: float = 30.0) -> None:
        self.root = Path(root)
        self.dir = self.root / "snapshots"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self.max_age_s = max_age_days * 86400.0

    def save(self, event_id: str, rgb: np.ndarray, dets: Detections) -> tuple[str, str]:
        """Write the boxed and the clean JPEG; returns their paths relative to ``root``."""
        from realtime.drawing import draw_detections

        boxed, clean = self.dir / f"{event_id}.jpg", self.dir / f"{event_id}.clean.jpg"
        write_jpeg(clean, rgb)
        write_jpeg(boxed, draw_detections(rgb, dets))
        return str(boxed.relative_to(self.root)), str(clean.relative_to(self.root))

    def prune(self, folders: tuple[str, ...] = ("snapshots", "clips"),
              now: float | None = None) -> int:
        """Remove the files of events beyond ``keep`` or older than ``max_age_days``.

        Files are grouped by event id (the name up to the first dot), so an event's
        boxed JPEG, clean JPEG and clip go together. Returns the number of files removed.
        """
        now = time.time() if now is None else now
        groups: dict[str, list[Path]] = {}
        for name in folders:
            folder = self.root / name
            if folder.is_dir():
                for p in folder.iterdir():
                    if p.is_file() and not p.name.startswith("."):
                        groups.setdefault(p.name.split(".", 1)[0], []).append(p)
        newest = sorted(groups, key=lambda k: max(_mtime(p) for p in groups[k]), reverse=True)
        removed = 0
        for rank, key in enumerate(newest):
            files = groups[key]
            too_old = now - max(_mtime(p) for p in files) > self.max_age_s
            if rank >= self.keep or too_old:
                for p in files:
                    p.unlink(missing_ok=True)
                    removed += 1
        if removed:
            log.info("pruned %d old snapshot/clip files", removed)
        return removed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
