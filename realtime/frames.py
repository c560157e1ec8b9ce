"""`Frame`: what sources produce and every later stage carries along."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes:
        source: the source's name (path, URL or ``webcam:0``).
        index: 0-based frame number in the source (counting skipped/stride frames too).
        timestamp: seconds since the start of the source (file: pts; live: wall clock).
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
