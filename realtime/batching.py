"""Group frames into detector batches: up to N frames of one size, or whatever came in
within a time limit. A gate (watch mode's motion check) can let frames skip the
detector; they stay in the batch, in order, marked as not to be detected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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


@dataclass
class Batch:
    """Consecutive frames of one size; ``detect[i]`` False = the gate skipped frame i.

    ``inputs`` holds the (possibly shrunk) images of the frames to detect and ``scale``
    the factor that maps their boxes back to the frames' pixels. ``seq`` numbers the
    batches in frame order, so results of parallel detector calls can be put back in order.
    """

    items: list[Captured]
    detect: list[bool]
    inputs: list[np.ndarray] = field(default_factory=list)
    scale: float = 1.0
    seq: int = 0

    def __len__(self) -> int:
        return len(self.items)


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


class Batcher:
    """Decides when a batch is complete. Pure logic: the pipeline's batcher thread feeds it.

    A batch goes out when it holds ``batch_size`` frames to detect, when its first frame
    has waited ``max_wait_s``, when a frame of another size arrives, or at the end.
    A frame the gate skips while nothing waits for the detector goes out at once.
    """

    def __init__(self, batch_size: int, max_wait_s: float, gate: Gate | None = None,
                 resize: int = 0) -> None:
        self.batch_size = batch_size  # >= 1 and >= 0: checked by PipelineConfig
        self.max_wait_s = max_wait_s
        self.gate = gate
        self.resize = resize
        self._items: list[Captured] = []
        self._detect: list[bool] = []
        self.deadline: float | None = None

    def add(self, item: Captured, now: float) -> list[Batch]:
        """Add one frame; returns the batches that are now complete (oldest first)."""
        out = []
        if self._items and self._items[0].frame.rgb.shape != item.frame.rgb.shape:
            out += self.flush()
        detect = True if self.gate is None else bool(self.gate(item.frame))
        if not self._items:
            self.deadline = now + self.max_wait_s
        self._items.append(item)
        self._detect.append(detect)
        if sum(self._detect) >= self.batch_size or not any(self._detect):
            out += self.flush()
        return out

    def due(self, now: float) -> list[Batch]:
        """The pending batch if its wait is over."""
        if self._items and self.deadline is not None and now >= self.deadline:
            return self.flush()
        return []

    def flush(self) -> list[Batch]:
        """Whatever is pending, as one batch (or nothing)."""
        if not self._items:
            return []
        batch = Batch(self._items, self._detect)
        self._items, self._detect, self.deadline = [], [], None
        for item, detect in zip(batch.items, batch.detect, strict=True):
            if detect:
                small, batch.scale = shrink(item.frame.rgb, self.resize)
                batch.inputs.append(small)
        return [batch]
