"""Short per-event mp4 clips with pre-roll.

The recorder keeps the last ``pre_roll_s`` seconds of frames in a bounded ring; when
an event starts, its clip begins with them, then follows live frames until the event
ends or ``max_s`` is reached. Clips are written to a temporary name and renamed when
finalized, so ``clips/<event id>.mp4`` is always playable.
"""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path

import numpy as np

from realtime.frames import Frame
from realtime.mp4 import Mp4Writer

log = logging.getLogger("lookout.watch")
MAX_RING = 300  # frames: bounds memory whatever the stream's frame rate


class _Clip:
    def __init__(self, path: Path, fps: float, start: float) -> None:
        self.path, self.start = path, start
        self.writer = Mp4Writer(path, fps)

    def add(self, rgb: np.ndarray) -> None:
        self.writer.write(rgb)

    def finish(self) -> None:
        self.writer.close()


class ClipRecorder:
    """Feeds every frame (`push`); `start`/`stop` a clip per event id."""

    def __init__(self, root: str | Path, pre_roll_s: float = 2.0, max_s: float = 20.0) -> None:
        self.root = Path(root)
        self.dir = self.root / "clips"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pre_roll_s, self.max_s = pre_roll_s, max_s
        self._ring: deque[Frame] = deque(maxlen=MAX_RING)
        self._open: dict[str, _Clip] = {}

    def fps(self) -> float:
        """Frame rate estimated from the ring's timestamps (10 until known)."""
        ts = [f.timestamp for f in self._ring]
        if len(ts) < 2 or ts[-1] <= ts[0]:
            return 10.0
        return float(np.clip((len(ts) - 1) / (ts[-1] - ts[0]), 1.0, 60.0))

    def push(self, frame: Frame) -> None:
        self._ring.append(frame)
        while self._ring and frame.timestamp - self._ring[0].timestamp > self.pre_roll_s:
            self._ring.popleft()
        for event_id, clip in list(self._open.items()):
            clip.add(frame.rgb)
            if frame.timestamp - clip.start > self.max_s + self.pre_roll_s:
                self.stop(event_id)

    def start(self, event_id: str) -> str:
        """Open ``clips/<event_id>.mp4`` with the pre-roll; returns its path relative to root."""
        path = self.dir / f"{event_id}.mp4"
        first = self._ring[0].timestamp if self._ring else 0.0
        clip = _Clip(path, self.fps(), first)
        for f in self._ring:
            clip.add(f.rgb)
        self._open[event_id] = clip
        return str(path.relative_to(self.root))

    def stop(self, event_id: str) -> None:
        clip = self._open.pop(event_id, None)
        if clip is not None:
            try:
                clip.finish()
            except OSError as exc:
                log.warning("clip %s could not be finalized: %s", clip.path, exc)

    def close(self) -> None:
        for event_id in list(self._open):
            self.stop(event_id)
