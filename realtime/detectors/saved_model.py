"""SavedModel backend: our bundles, TF2 OD API exports and Model Garden exports.

Runs the ``serving_default`` signature. Its input may be named ``images`` (bundles),
``input_tensor`` (TF2 OD API) or ``inputs`` (Model Garden); a signature fixed at batch 1
is run image by image, one fixed at a size gets resized images (boxes are normalized, so
they map back unchanged).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import UserError
from realtime.config import DetectorConfig
from realtime.detectors.common import OUTPUT_NAMES, RawOutputs, TFDetector

INPUT_NAMES = ("images", "input_tensor", "inputs")
REQUIRED = OUTPUT_NAMES[:3]  # num_detections is optional


class SavedModelDetector(TFDetector):
    """A SavedModel folder's ``serving_default`` signature behind the `Detector` interface."""

    def __init__(self, path: Path, names: dict[int, str], labels_source: str,
                 cfg: DetectorConfig, kind: str = "saved_model") -> None:
        import tensorflow as tf

        super().__init__(path, names, labels_source, cfg, kind)
        try:
            with self._placement():
                model = tf.saved_model.load(str(path))
        except (OSError, ValueError, RuntimeError, tf.errors.OpError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"{path}: cannot load SavedModel ({first})") from None
        signatures = dict(model.signatures)
        if "serving_default" not in signatures:
            raise UserError(f"{path}: SavedModel has no 'serving_default' signature "
                            f"(has: {', '.join(signatures) or 'none'}); re-export it for serving")
        self._model = model  # keeps the signature's variables alive
        self._fn = signatures["serving_default"]
        self._input, spec = _check_input(path, self._fn)
        self._fixed_batch = spec.shape[0] == 1
        self._fixed_size = tuple(spec.shape[1:3]) if None not in spec.shape[1:3] else None
        outputs = self._fn.structured_outputs
        missing = [k for k in REQUIRED if k not in outputs]
        if missing:
            raise UserError(f"{path}: serving_default lacks output(s) {', '.join(missing)} "
                            f"(has: {', '.join(sorted(outputs))}); not an object detector?")
        self._has_num = "num_detections" in outputs

    def _call(self, batch: np.ndarray) -> RawOutputs:
        import tensorflow as tf

        with self._placement():
            out = self._fn(**{self._input: tf.constant(batch)})
        boxes = out["detection_boxes"].numpy().astype(np.float32)
        # Model Garden exports boxes in input pixels unless output_normalized_coordinates
        # is set; normalized boxes never exceed 1 (plus rounding).
        if boxes.size and boxes.max() > 1.5:
            h, w = batch.shape[1:3]
            boxes = boxes / np.array([h, w, h, w], np.float32)
        num = out["num_detections"].numpy() if self._has_num else None
        return RawOutputs(boxes, out["detection_scores"].numpy(),
                          out["detection_classes"].numpy(), num)


def _check_input(path: Path, fn) -> tuple[str, object]:
    _, inputs = fn.structured_input_signature
    names = [n for n in INPUT_NAMES if n in inputs]
    if len(inputs) != 1 or not names:
        have = ", ".join(f"{k} {v.dtype.name}{list(v.shape)}" for k, v in inputs.items())
        raise UserError(f"{path}: serving_default must take one uint8 image batch named "
                        f"{' / '.join(INPUT_NAMES)} (has: {have or 'no inputs'})")
    spec = inputs[names[0]]
    if spec.dtype.name != "uint8" or spec.shape.rank != 4 or spec.shape[3] not in (3, None):
        raise UserError(f"{path}: serving_default input {names[0]} is {spec.dtype.name}"
                        f"{list(spec.shape)}; expected uint8 [batch, height, width, 3] "
                        f"(export with the image_tensor input type)")
    return names[0], spec
