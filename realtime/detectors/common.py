"""What every backend shares: batching by size, device choice, and turning raw OD API
outputs into filtered, labelled `Detections`."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import UserError
from realtime.config import DetectorConfig
from realtime.detections import Detections
from realtime.detectors.base import Detector
from realtime.labelmap import read_label_map


@dataclass
class RawOutputs:
    """One backend call's outputs for a batch, as the TF OD API names them.

    Attributes:
        boxes: ``[B, N, 4]`` normalized ``ymin, xmin, ymax, xmax``.
        scores: ``[B, N]``.
        classes: ``[B, N]`` 1-based label ids (floats are rounded).
        num: ``[B]`` valid rows per image, or None when every row counts.
    """

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    num: np.ndarray | None = None


class BatchDetector(Detector):
    """A `Detector` that groups same-size images into one `_run` call and applies the
    config's score / class / max-det filters.

    Subclasses set ``kind``, ``names``, ``source`` and implement `_run`.
    """

    source: str  # what to name in messages: the model path
    labels_source: str  # where ``names`` came from, for mismatch messages

    def setup_filters(self, cfg: DetectorConfig) -> None:
        """Validate ``cfg.classes`` against the label map and keep the filters (ranges were
        checked when ``cfg`` was built)."""
        self.min_score = float(cfg.score)
        self.max_det = int(cfg.max_det)
        by_name = {name: i for i, name in self.names.items()}
        unknown = [c for c in cfg.classes if c not in by_name]
        if unknown:
            raise UserError(
                f"detector.classes {','.join(unknown)}: not in the label map {self.labels_source} "
                f"(labels: {', '.join(self.names.values())})"
            )
        self.keep_ids = {by_name[c] for c in cfg.classes} or None

    @abstractmethod
    def _run(self, batch: np.ndarray) -> RawOutputs:
        """Run the model on uint8 ``[B, H, W, 3]`` (one device call where the model allows)."""

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        results: list[Detections | None] = [None] * len(images)
        for shape, indices in group_by_size(images).items():
            batch = np.stack([np.asarray(images[i], dtype=np.uint8) for i in indices])
            raw = self._run(batch)
            for row, i in enumerate(indices):
                results[i] = self._adapt(raw, row, shape[0], shape[1])
        return results  # type: ignore[return-value]

    engine = "TensorFlow"  # what runs the model, for `describe`

    def describe(self) -> str:
        workers = f", {self.workers} workers" if self.workers > 1 else ""
        return f"{Path(self.source).name} ({self.engine}{workers})"

    def warmup(self, height: int = 240, width: int = 320, batch: int = 1) -> None:
        """Run once on grey images so the first real frame does not pay for tracing and
        memory allocation."""
        self.detect([np.full((height, width, 3), 114, np.uint8)] * batch)

    def _adapt(self, raw: RawOutputs, row: int, height: int, width: int) -> Detections:
        n = len(raw.scores[row]) if raw.num is None else int(raw.num[row])
        boxes = np.asarray(raw.boxes[row][:n], np.float32).reshape(-1, 4)
        scores = np.asarray(raw.scores[row][:n], np.float32).reshape(-1)
        ids = np.rint(np.asarray(raw.classes[row][:n], np.float32)).astype(np.int32).reshape(-1)
        dets = Detections.from_normalized(boxes, scores, ids, height, width, self.names)
        dets = dets.filter(self.min_score)
        unknown = sorted(set(dets.class_ids.tolist()) - set(self.names))
        if unknown:
            raise UserError(
                f"{self.source}: the model emits class id {unknown[0]}, which the label map "
                f"{self.labels_source} lacks (ids {', '.join(map(str, self.names))}): "
                f"wrong label map for this model? (set the right one in detector.labels)"
            )
        return dets.filter(class_ids=self.keep_ids, max_det=self.max_det)


def group_by_size(images: list[np.ndarray]) -> dict[tuple[int, int], list[int]]:
    """``{(height, width): [indices]}`` in first-seen order; checks each is ``[H, W, 3]``."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, image in enumerate(images):
        shape = np.shape(image)
        if len(shape) != 3 or shape[2] != 3:
            raise ValueError(f"detect: image {i} has shape {shape}, expected [H, W, 3] RGB")
        groups.setdefault((shape[0], shape[1]), []).append(i)
    return groups


def resolve_device(spec: str) -> str | None:
    """``auto`` → None (TensorFlow's own choice: the first GPU if any), ``cpu`` →
    ``/CPU:0``, ``gpu`` / ``gpu:N`` → ``/GPU:N`` after checking that GPU exists."""
    spec = spec.strip().lower()
    if spec == "auto":
        return None
    if spec == "cpu":
        return "/CPU:0"
    if spec == "gpu" or spec.startswith("gpu:"):
        index_text = spec.partition(":")[2] or "0"
        if not index_text.isdigit():
            raise UserError(f"detector.device {spec}: expected gpu or gpu:N with N a number")
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if int(index_text) >= len(gpus):
            found = f"{len(gpus)} GPU(s)" if gpus else "no GPU (is CUDA installed?)"
            raise UserError(f"detector.device {spec}: TensorFlow sees {found}; use cpu or auto")
        return f"/GPU:{int(index_text)}"
    raise UserError(f"detector.device {spec}: expected auto, cpu, gpu or gpu:N")


def find_labels(model: Path, cfg: DetectorConfig, *folders: Path) -> tuple[dict[int, str], str]:
    """The label map: ``cfg.labels`` if set, else ``label_map.pbtxt`` in one of ``folders``.

    Returns ``(names, where)``; raises a `UserError` saying how to give one.
    """
    if cfg.labels:
        return read_label_map(cfg.labels), str(cfg.labels)
    for folder in folders:
        candidate = folder / "label_map.pbtxt"
        if candidate.is_file():
            return read_label_map(candidate), str(candidate)
    raise UserError(
        f"{model}: no label map found (looked for label_map.pbtxt in "
        f"{', '.join(str(f) for f in folders)}); set detector.labels to one"
    )
