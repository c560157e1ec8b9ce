"""What a running watch shows the page (``watch --serve``): each camera's newest frame
with its last boxes, and its health.

The sink thread only swaps one reference per frame (`LatestFrame.put`: no copy, no lock,
no encoding); the page's threads read it and do the costly work at their own capped rate
(`realtime.serve.live.Tiles`). Health is the counters the console's health line reads,
turned into rates over the last few seconds.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from realtime.detections import Detections
from realtime.frames import FrameResult

RATE_WINDOW_S = 5.0  # fps and detector share over about this long
UP_STATES = frozenset({"running"})


class LatestFrame:
    """One camera's newest frame and the boxes of the last frame the detector saw (a
    gated frame has none: the tile keeps the last ones rather than flicker)."""

    def __init__(self) -> None:
        self._dets = Detections.empty()
        self._latest: tuple[int, np.ndarray, Detections] | None = None
        self._seq = 0

    def put(self, result: FrameResult) -> None:
        """Called by the camera's sink for every result; O(1)."""
        if result.detected:
            self._dets = result.detections
        self._seq += 1
        self._latest = (self._seq, result.frame.rgb, self._dets)  # one atomic swap

    def get(self) -> tuple[int, np.ndarray, Detections] | None:
        return self._latest


class WatchLive:
    """A `realtime.serve.live.LiveSource` over a running watch.

    Args:
        frames: camera name -> its `LatestFrame`, in the run's camera order.
        counters: each camera's health counters (``frames``, ``detector_runs``,
            ``events``, ``reconnects``, ``state``), as the health line reads them.
        model: which model runs now, as the health line says it ('' = not known).
    """

    def __init__(self, frames: dict[str, LatestFrame],
                 counters: Callable[[], dict[str, dict]],
                 model: Callable[[], str] = str) -> None:
        self.frames, self.counters, self._model = frames, counters, model
        self._history: dict[str, deque] = {}
        self._lock = threading.Lock()

    def latest(self, name: str) -> tuple[int, np.ndarray, Detections] | None:
        frame = self.frames.get(name)
        return frame.get() if frame is not None else None

    def model(self) -> str:
        return self._model()

    def cameras(self) -> list[dict]:
        now = time.monotonic()
        out = []
        counters = self.counters()
        with self._lock:
            for name in self.frames:
                c = counters.get(name, {})
                frames, runs = c.get("frames", 0), c.get("detector_runs", 0)
                history = self._history.setdefault(name, deque())
                history.append((now, frames, runs))
                while len(history) > 2 and now - history[1][0] >= RATE_WINDOW_S:
                    history.popleft()
                t0, frames0, runs0 = history[0]
                dt, dframes = now - t0, frames - frames0
                state = c.get("state", "waiting")
                out.append({
                    "name": name, "state": state, "up": state in UP_STATES,
                    "fps": round(dframes / dt, 2) if dt > 0 else 0.0,
                    "detector_share": round((runs - runs0) / dframes, 3) if dframes else 0.0,
                    "frames": frames, "detector_runs": runs,
                    "reconnects": c.get("reconnects", 0), "events": c.get("events", 0),
                })
        return out
