"""What every backend shares: the OD API output names, batching by size, fixed-batch
splitting, fixed-size resizing, device placement, and turning raw outputs into filtered,
labelled `Detections`. A backend only loads its model and implements `_call`."""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import UserError
from realtime.config import DetectorConfig
from realtime.detections import Detections, keep_index
from realtime.detectors.base import Detector
from realtime.labelmap import read_label_map

# The TF OD API's output names, in the order of `RawOutputs` (bundles, exports, graphs).
OUTPUT_NAMES = ("detection_boxes", "detection_scores", "detection_classes", "num_detections")


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

    @staticmethod
    def concat(parts: list[RawOutputs]) -> RawOutputs:
        """One batch's outputs from per-image calls."""
        num = None if parts[0].num is None else np.concatenate([p.num for p in parts])
        return RawOutputs(*(np.concatenate([getattr(p, k) for p in parts])
                            for k in ("boxes", "scores", "classes")), num)


class BatchDetector(Detector):
    """A `Detector` that groups same-size images into one `_run` call, splits batches for
    models fixed at batch 1, resizes for models fixed at one size, and applies the
    config's score / class / max-det filters.

    Subclasses call ``super().__init__``, set ``_fixed_batch`` / ``_fixed_size`` from
    their model, and implement `_call` (one model call on a batch it can take).
    """

    source: str  # what to name in messages: the model path
    labels_source: str  # where ``names`` came from, for mismatch messages
    _fixed_batch: bool = False  # the model takes one image per call
    _fixed_size: tuple[int, int] | None = None  # (height, width) the model requires
    _map: Callable = map  # how per-image calls of a fixed-batch model are spread

    def __init__(self, path: Path, names: dict[int, str], labels_source: str,
                 cfg: DetectorConfig, kind: str) -> None:
        self.kind, self.names, self.source, self.labels_source = kind, names, str(path), labels_source
        self.setup_filters(cfg)

    def setup_filters(self, cfg: DetectorConfig) -> None:
        """Validate ``cfg.classes`` against the label map and keep the filters (ranges were
        checked when ``cfg`` was built)."""
        self.min_score = float(cfg.score)
        self.max_det = int(cfg.max_det) or None  # 0: all the model returns
        by_name = {name: i for i, name in self.names.items()}
        unknown = [c for c in cfg.classes if c not in by_name]
        if unknown:
            raise UserError(
                f"detector.classes {','.join(unknown)}: not in the label map {self.labels_source} "
                f"(labels: {', '.join(self.names.values())})"
            )
        self.keep_ids = {by_name[c] for c in cfg.classes} or None

    @abstractmethod
    def _call(self, batch: np.ndarray) -> RawOutputs:
        """One model call on uint8 ``[B, H, W, 3]`` (B = 1 for a fixed-batch model)."""

    def _run(self, batch: np.ndarray, shape: tuple[int, int]) -> RawOutputs:
        """Run the model on uint8 ``[B, H, W, 3]``, already `_fit` (one call where the
        model allows); ``shape`` is the images' ``(height, width)`` before fitting."""
        if self._fixed_batch and len(batch) > 1:
            return RawOutputs.concat(list(self._map(self._call, _singles(batch))))
        return self._call(batch)

    def _fit(self, images: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """Same-size images as one uint8 ``[B, H, W, 3]`` model input, resized to the
        model's fixed size in the same pass (boxes are normalized: they map back), so a
        big frame is read once and never copied whole just to be shrunk after."""
        if self._fixed_size is None or np.shape(images[0])[:2] == self._fixed_size:
            if isinstance(images, np.ndarray) and images.dtype == np.uint8:
                return images
            return np.stack([np.asarray(im, dtype=np.uint8) for im in images])
        import cv2

        h, w = self._fixed_size
        out = np.empty((len(images), h, w, 3), np.uint8)
        for image, dst in zip(images, out, strict=True):
            cv2.resize(np.asarray(image, dtype=np.uint8), (w, h), dst=dst,
                       interpolation=cv2.INTER_AREA)
        return out

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        results: list[Detections | None] = [None] * len(images)
        for shape, indices in group_by_size(images).items():
            raw = self._run(self._fit([images[i] for i in indices]), shape)
            for row, i in enumerate(indices):
                results[i] = self._adapt(raw, row, shape[0], shape[1])
        return results  # type: ignore[return-value]

    runtime = "TensorFlow"  # what runs the model, for `describe`

    why = ""  # why this file runs (set by the loader for a bundle's choice)

    def describe(self) -> str:
        workers = f", {self.workers} workers" if self.workers > 1 else ""
        why = f"; {self.why}" if self.why else ""
        return f"{Path(self.source).name} ({self.runtime}{workers}{why})"

    def warmup(self, height: int = 240, width: int = 320, batch: int = 1) -> None:
        """Run once on grey images so the first real frame does not pay for tracing and
        memory allocation."""
        self.detect([np.full((height, width, 3), 114, np.uint8)] * batch)

    def _adapt(self, raw: RawOutputs, row: int, height: int, width: int) -> Detections:
        n = len(raw.scores[row]) if raw.num is None else int(raw.num[row])
        boxes = np.asarray(raw.boxes[row][:n], np.float32).reshape(-1, 4)
        scores = np.asarray(raw.scores[row][:n], np.float32).reshape(-1)
        ids = np.rint(np.asarray(raw.classes[row][:n], np.float32)).astype(np.int32).reshape(-1)
        unknown = sorted(set(ids[scores >= self.min_score].tolist()) - set(self.names))
        if unknown:
            raise UserError(
                f"{self.source}: the model emits class id {unknown[0]}, which the label map "
                f"{self.labels_source} lacks (ids {', '.join(map(str, self.names))}): "
                f"wrong label map for this model? (set the right one in detector.labels)"
            )
        keep = keep_index(scores, ids, self.min_score, self.keep_ids, self.max_det)
        return Detections.from_normalized(boxes[keep], scores[keep], ids[keep], height, width,
                                          self.names)


def _singles(batch: np.ndarray) -> Iterable[np.ndarray]:
    return (batch[i : i + 1] for i in range(len(batch)))


class TFDetector(BatchDetector):
    """A TensorFlow backend: placed on ``detector.device``; calls are thread-safe, so
    ``detector.workers`` (0 = 1) threads may share it."""

    def __init__(self, path: Path, names: dict[int, str], labels_source: str,
                 cfg: DetectorConfig, kind: str) -> None:
        super().__init__(path, names, labels_source, cfg, kind)
        self.workers = cfg.workers or 1
        self.device = resolve_device(cfg.device)

    def _placement(self):
        import tensorflow as tf

        return tf.device(self.device) if self.device else contextlib.nullcontext()


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
