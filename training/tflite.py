"""``model.tflite``: the run's detector for LiteRT, and a runner with the bundle's outputs.

The graph takes one uint8 RGB image ``[1, H, W, 3]`` of any size (call
``resize_tensor_input`` first), does Model Garden's preprocessing in the graph
(normalize, resize keeping the aspect ratio, pad) and Model Garden's NMS, and returns
the four OD API outputs like the SavedModel, all built from TFLite builtin ops.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.model import OUTPUT_KEYS, load_export_model


def write_tflite(run_dir: str | Path, checkpoint: str, path: Path) -> None:
    import tensorflow as tf

    detector = load_export_model(run_dir, checkpoint, batch_size=1)

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8, name="images")])
    def serve(images):
        out = detector(images)
        return {k: out[k] for k in OUTPUT_KEYS}

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [serve.get_concrete_function()], detector.module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    path.write_bytes(converter.convert())


class TFLiteRunner:
    """Run ``model.tflite`` on a batch (one image per invoke) → the four outputs."""

    def __init__(self, path: str | Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path))
        self.runner = self.interpreter.get_signature_runner("serving_default")

    def __call__(self, batch: np.ndarray) -> dict:
        results = [self.runner(images=image[None].astype(np.uint8)) for image in batch]
        return {k: np.concatenate([r[k] for r in results]) for k in OUTPUT_KEYS}
