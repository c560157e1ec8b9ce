"""``model_int8.tflite``: full-integer post-training quantization of the run's detector.

Weights and activations are int8 (per-channel weights), calibrated on a representative
set drawn from the run's own training records: up to ``samples`` images letterboxed to
the model's input size (scaled so the longer side fits, padded right and bottom), which
is what the float model's own preprocessing feeds the network.

The graph is ``model.tflite``'s (`training.tflite.detection_graph`: fixed-size input,
the runtime letterboxes into it, TFLite's NMS op), quantized: int8 network, float NMS
op and outputs, so the outputs keep the bundle's names and meaning.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from training.run_record import RunRecord


def representative_images(run: RunRecord, size: int, limit: int,
                          split: str = "train") -> list[np.ndarray]:
    """Up to ``limit`` images of the run's ``split`` records, letterboxed to ``size``."""
    from PIL import Image

    from realtime.detectors.tflite import letterbox
    from training.datasets.meta import DatasetMeta
    from training.datasets.records import iter_records

    meta = DatasetMeta.read_if_present(run.dataset)
    if meta is None:
        return []
    paths = meta.records(run.dataset, split)
    images = []
    for example in iter_records([p for p in paths if p.is_file()]):
        images.append(letterbox(np.asarray(Image.open(io.BytesIO(example.encoded))
                                           .convert("RGB")), (size, size)))
        if len(images) >= limit:
            break
    return images


def write_int8_tflite(run_dir: str | Path, checkpoint: str, path: Path,
                      images: list[np.ndarray],
                      on_sample: Callable[[int, int], None] | None = None) -> None:
    """Convert the run's checkpoint to a full-integer ``.tflite`` at ``path``.

    Args:
        images: the representative set, uint8 RGB ``[S, S, 3]`` (see `realtime.detectors.tflite.letterbox`).
        on_sample: called with (done, total) while calibrating.
    """
    import tensorflow as tf

    from training.tflite import detection_graph, with_detections_per_class

    if not images:
        raise ValueError("int8 export: no representative images")
    concrete, module, _ = detection_graph(run_dir, checkpoint)

    def dataset() -> Iterator[list[np.ndarray]]:
        for i, image in enumerate(images):
            if on_sample:
                on_sample(i + 1, len(images))
            yield [image[None]]

    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = dataset
    # int8 wherever a kernel exists; the NMS op stays float (dequantized in front of it).
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                           tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.inference_input_type = tf.uint8
    converter.allow_custom_ops = True  # TFLite_Detection_PostProcess, built into LiteRT
    path.write_bytes(with_detections_per_class(converter.convert()))
