"""The `Detector` interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from realtime.detections import Detections


class Detector(ABC):
    """Runs one model on batches of RGB images.

    Attributes:
        names: ``{class id: label}`` from the label map (1-based ids).
        kind: backend name, e.g. ``"bundle"``, ``"frozen_graph"``, ``"saved_model"``, ``"tflite"``.
        workers: how many `detect` calls may run at once, each from its own thread; the
            pipeline runs that many detector threads.
    """

    names: dict[int, str]
    kind: str
    workers: int = 1

    @abstractmethod
    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        """Detect objects in uint8 RGB ``[H, W, 3]`` images; one `Detections` per image.

        Images of the same size are run as one batch (one device call).
        """

    def warmup(self, height: int = 240, width: int = 320, batch: int = 1) -> None:
        """Run once at this frame size and batch so the first real frame is not slow
        (`load_detector` already warms up at 320x240; call again with the real size)."""

    def describe(self) -> str:
        """What runs, for the user: e.g. ``model.tflite (LiteRT/XNNPACK, 2 workers)``."""
        kind = getattr(self, "kind", type(self).__name__)
        return kind + (f" ({self.workers} workers)" if self.workers > 1 else "")

    def close(self) -> None:
        """Release the model (default: nothing to do)."""
