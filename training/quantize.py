"""``model_int8.tflite``: full-integer post-training quantization of the run's detector.

Weights and activations are int8 (per-channel weights), calibrated on a representative
set drawn from the run's own training records: up to ``samples`` images letterboxed to
the model's input size (scaled so the longer side fits, padded right and bottom), which
is what the float model's own preprocessing feeds the network.

Unlike ``model.tflite`` the graph takes one fixed-size uint8 image ``[1, S, S, 3]``: the
aspect-keeping resize stays outside (the runtime letterboxes), because quantizing the
resize's shape arithmetic breaks it for other image sizes. Inside: normalization, the
int8 network and TFLite's NMS op (float, like the outputs), so the outputs keep the
bundle's names and meaning; boxes are normalized to the padded square.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from realtime.bundle import EXPORT_SCORE_THRESHOLD
from training.model import load_params
from training.run_record import RunRecord


def representative_images(run: RunRecord, size: int, limit: int,
                          split: str = "train") -> list[np.ndarray]:
    """Up to ``limit`` images of the run's ``split`` records, letterboxed to ``size``."""
    from PIL import Image

    from training.datasets.records import iter_records

    meta_path = Path(run.dataset) / "dataset.json"
    if not meta_path.is_file():
        return []
    meta = json.loads(meta_path.read_text())
    records = (meta["splits"].get(split) or {}).get("records", [])
    paths = [meta_path.parent / r for r in records]
    images = []
    for example in iter_records([p for p in paths if p.is_file()]):
        images.append(letterbox(np.asarray(Image.open(io.BytesIO(example.encoded))
                                           .convert("RGB")), size))
        if len(images) >= limit:
            break
    return images


def letterbox(image: np.ndarray, size: int) -> np.ndarray:
    """Scale RGB ``image`` so its longer side is ``size``; pad right and bottom with 0
    (the runtime does the same: realtime.detectors.tflite)."""
    import cv2

    h, w = image.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    out = np.zeros((size, size, 3), np.uint8)
    out[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


def write_int8_tflite(run_dir: str | Path, checkpoint: str, path: Path,
                      images: list[np.ndarray],
                      on_sample: Callable[[int, int], None] | None = None) -> None:
    """Convert the run's checkpoint to a full-integer ``.tflite`` at ``path``.

    Args:
        images: the representative set, uint8 RGB ``[S, S, 3]`` (see `letterbox`).
        on_sample: called with (done, total) while calibrating.
    """
    import tensorflow as tf
    from official.vision.ops import preprocess_ops
    from official.vision.serving.detection import DetectionModule

    if not images:
        raise ValueError("int8 export: no representative images")
    # TFLite's own NMS op: int8-friendly, and per class like Model Garden's NMS.
    overrides = {"task": {"model": {"detection_generator": {
        "pre_nms_score_threshold": EXPORT_SCORE_THRESHOLD, "nms_version": "tflite",
        "tflite_post_processing": {"max_detections": 100, "use_regular_nms": True,
                                   "detections_per_class": 100,
                                   "normalize_anchor_coordinates": True,
                                   "nms_score_threshold": EXPORT_SCORE_THRESHOLD}}}}}
    params = load_params(run_dir, overrides)
    size = list(params.task.model.input_size[:2])
    module = DetectionModule(params, batch_size=1, input_image_size=size, input_type="tflite")
    status = tf.train.Checkpoint(model=module.model).read(checkpoint)
    status.expect_partial().assert_existing_objects_matched()
    mean = tf.constant(preprocess_ops.MEAN_RGB, tf.float32)
    std = tf.constant(preprocess_ops.STDDEV_RGB, tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, *size, 3], tf.uint8, name="images")])
    def serve(images):
        # Model Garden's serve() would rescale the NMS op's boxes with float ops after it,
        # which the quantizer turns into int8 (boxes in steps of 1/255): call the model
        # itself and return the op's float outputs as they are.
        det = module.model.call(images=(tf.cast(images, tf.float32) - mean) / std,
                                image_shape=tf.constant([size], tf.float32),
                                anchor_boxes=module._build_anchor_boxes(), training=False)
        # 0-based classes → label ids; int32 arithmetic is never quantized.
        classes = tf.cast(tf.cast(det["detection_classes"], tf.int32) + 1, tf.float32)
        return {"detection_boxes": det["detection_boxes"],
                "detection_scores": det["detection_scores"],
                "detection_classes": classes,
                "num_detections": tf.cast(det["num_detections"], tf.float32)}

    def dataset() -> Iterator[list[np.ndarray]]:
        for i, image in enumerate(images):
            if on_sample:
                on_sample(i + 1, len(images))
            yield [image[None]]

    with _skip_background_column():  # the NMS op's attributes are set when tracing
        concrete = serve.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = dataset
    # int8 wherever a kernel exists; the NMS op stays float (dequantized in front of it).
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                           tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.inference_input_type = tf.uint8
    converter.allow_custom_ops = True  # TFLite_Detection_PostProcess, built into LiteRT
    path.write_bytes(converter.convert())


@contextmanager
def _skip_background_column():
    """Model Garden hands the NMS op every score column, background (0) included, so
    the op would report background boxes as class 0. Declaring one class fewer makes the
    op skip column 0 (its ``label_offset``, as in the OD API's SSD models) and number the
    real classes from 0; `serve` adds the 1 back."""
    from official.vision.modeling.layers import detection_generator as dg

    original = dg._generate_detections_tflite_implements_signature
    dg._generate_detections_tflite_implements_signature = (
        lambda config: original({**config, "num_classes": config["num_classes"] - 1}))
    try:
        yield
    finally:
        dg._generate_detections_tflite_implements_signature = original
