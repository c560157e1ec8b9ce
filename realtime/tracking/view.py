"""`TrackView`: what one frame's tracking adds for the sinks to draw and write."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrackView:
    """Attributes:
        trails: ``(track id, class id, [K, 2] anchor points, oldest first)`` per track
            (empty unless trails are on).
        lines: ``(name, [2, 2] pixels, {"in": n, "out": n})`` per counting line.
        zones: ``(name, [M, 2] pixels, objects inside now)`` per zone.
        counts: the frame's JSON-ready counts (None without lines and zones).
    """

    trails: tuple[tuple[int, int, np.ndarray], ...] = ()
    lines: tuple[tuple[str, np.ndarray, dict[str, int]], ...] = ()
    zones: tuple[tuple[str, np.ndarray, int], ...] = ()
    counts: dict | None = None
