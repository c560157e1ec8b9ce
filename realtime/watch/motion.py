"""Motion gating: run the detector only when something moves (or objects are present).

Each frame is downscaled, turned grey and blurred, then compared with a running
background (``cv2.accumulateWeighted``); the share of pixels that changed by more than
``pixel_threshold`` decides "motion". A `MotionGate` is the pipeline's ``gate``: it
says per frame whether the detector runs. While the watch sink reports objects
present, it also re-checks every ``recheck_s`` so a person standing still is not lost;
``idle_recheck_s`` (off by default) re-checks an empty scene too, which also catches an
object that was already standing there when watching started.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from realtime.frames import Frame
from realtime.watch.config import WatchMotionConfig


class MotionDetector:
    """Frame differencing against a slowly updated background, on small grey frames."""

    def __init__(self, cfg: WatchMotionConfig) -> None:
        self.cfg = cfg
        self._background: np.ndarray | None = None

    def fraction(self, rgb: np.ndarray) -> float:
        """Share of (downscaled) pixels that moved; 0.0 on the first frame."""
        h, w = rgb.shape[:2]
        width = min(self.cfg.width, w)
        height = max(1, round(h * width / w))
        small = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), (5, 5), 0)
        if self._background is None or self._background.shape != grey.shape:
            self._background = grey.astype(np.float32)
            return 0.0
        diff = cv2.absdiff(grey, cv2.convertScaleAbs(self._background))
        moving = np.count_nonzero(diff > self.cfg.pixel_threshold) / diff.size
        cv2.accumulateWeighted(grey, self._background, self.cfg.background_alpha)
        return float(moving)

    def moving(self, rgb: np.ndarray) -> bool:
        return self.fraction(rgb) >= self.cfg.min_fraction


class MotionGate:
    """The pipeline gate: ``gate(frame) -> bool`` (True = run the detector on it).

    Counters (read by the health line): ``frames``, ``motion_frames``, ``detector_runs``.
    """

    def __init__(self, cfg: WatchMotionConfig) -> None:
        self.cfg = cfg
        self.detector = MotionDetector(cfg)
        self.frames = 0
        self.motion_frames = 0
        self.detector_runs = 0
        self._objects_present = threading.Event()
        self._last_run: float | None = None

    def set_objects_present(self, present: bool) -> None:
        """Called by the watch sink: while True, re-check every ``recheck_s``."""
        if present:
            self._objects_present.set()
        else:
            self._objects_present.clear()

    def __call__(self, frame: Frame) -> bool:
        self.frames += 1
        if not self.cfg.enabled:
            run = True
        else:
            moving = self.detector.moving(frame.rgb)
            self.motion_frames += moving
            every = (self.cfg.recheck_s if self._objects_present.is_set()
                     else self.cfg.idle_recheck_s)
            due = every > 0 and (self._last_run is None
                                 or frame.timestamp - self._last_run >= every)
            run = moving or due
        if run:
            self.detector_runs += 1
            self._last_run = frame.timestamp
        return run
