"""What the batching stage works with: a captured frame, the gate type, and shrinking
frames before the detector (boxes mapped back after). The batching itself, fair across
sources and one group per input size, is `realtime.engine.streams.Engine.batch_loop`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from realtime.detections import Detections
from realtime.frames import Frame

Gate = Callable[[Frame], bool]


@dataclass
class Captured:
    """A frame and the monotonic time it was read (for capture→result latency)."""

    frame: Frame
    t_capture: float


def shrink(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """``rgb`` resized so its longer side is at most ``max_side`` (0 = unchanged), and the
    factor that maps the small image's pixels back to ``rgb``'s."""
    h, w = rgb.shape[:2]
    if max_side <= 0 or max(h, w) <= max_side:
        return rgb, 1.0
    ratio = max_side / max(h, w)
    size = (max(1, round(w * ratio)), max(1, round(h * ratio)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), w / size[0]


def scale_detections(dets: Detections, scale: float) -> Detections:
    """Boxes found on a shrunk image, in the original image's pixels."""
    if scale == 1.0 or not len(dets):
        return dets
    return Detections(dets.xyxy * np.float32(scale), dets.scores, dets.class_ids, dets.labels)
