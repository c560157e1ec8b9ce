"""`Frame`: what sources produce and every later stage carries along."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from realtime.detections import Detections

if TYPE_CHECKING:
    from realtime.tracking.view import TrackView


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes:
        source: the source's name (path, URL or ``webcam:0``).
        index: 0-based frame number in the source (counting skipped/stride frames too).
        timestamp: seconds since the start of the source (file: pts; live: wall clock less the time the stream was down).
        rgb: uint8 ``[H, W, 3]`` RGB pixels (converted from BGR once, at the source).
    """

    source: str
    index: int
    timestamp: float
    rgb: np.ndarray

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])


@dataclass(frozen=True)
class FrameResult:
    """A frame and what the detector found in it; what sinks receive.

    Attributes:
        frame: the frame.
        detections: in the frame's pixel coordinates (empty when not detected).
        detected: False when a gate (e.g. watch mode's motion gating) skipped the detector.
        latency: seconds from capture (reading the frame) to the result being ready.
        tracking: trails, lines and zones to draw and the frame's counts (None when no
            tracking step ran).
    """

    frame: Frame
    detections: Detections
    detected: bool = True
    latency: float = 0.0
    tracking: TrackView | None = None
