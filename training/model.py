"""A run folder's checkpoint as a detector, through Model Garden's serving module.

`load_checkpoint_model` rebuilds the model from ``params.yaml``, restores the latest (or a
given) checkpoint into Model Garden's `DetectionModule`, and returns a callable that
maps a uint8 batch ``[B, H, W, 3]`` to the TF OD API outputs (normalized boxes,
1-based float classes). Evaluation, export and the export check all use it, so they
see exactly the same preprocessing (normalize, resize with kept aspect ratio, pad).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError
from realtime.bundle import EXPORT_SCORE_THRESHOLD
from realtime.detectors.common import OUTPUT_NAMES

OUTPUT_KEYS = OUTPUT_NAMES  # what the serving module returns, in the order bundles list them


@dataclass
class RunDetector:
    """The checkpoint model of a run, wrapped for inference."""

    module: object  # official.vision.serving.detection.DetectionModule
    params: object  # ExperimentConfig
    checkpoint: str
    input_size: int

    def __call__(self, images) -> dict:
        """uint8 ``[B, H, W, 3]`` → dict of the four OD API outputs (tensors)."""
        import tensorflow as tf

        out = self.module.serve(tf.convert_to_tensor(images, tf.uint8))
        return {k: out[k] for k in OUTPUT_KEYS}


def load_params(run_dir: str | Path, overrides: dict | None = None):
    """The run's Model Garden `ExperimentConfig` from ``params.yaml``."""
    import official.vision.registry_imports  # noqa: F401
    from official.core import config_definitions, exp_factory  # noqa: F401
    from official.modeling import hyperparams

    path = Path(run_dir) / "params.yaml"
    if not path.is_file():
        raise UserError(f"{run_dir}: not a training run (no params.yaml)")
    params = exp_factory.get_exp_config("retinanet")
    params = hyperparams.override_params_dict(params, str(path), is_strict=False)
    if overrides:
        params = hyperparams.override_params_dict(params, overrides, is_strict=True)
    return params


def load_checkpoint_model(run_dir: str | Path, checkpoint: str | None = None,
                          overrides: dict | None = None, batch_size: int | None = None) -> RunDetector:
    """Build the run's model and restore ``checkpoint`` (default: the latest)."""
    import tensorflow as tf
    from official.vision.serving.detection import DetectionModule

    run_dir = Path(run_dir)
    checkpoint = checkpoint or tf.train.latest_checkpoint(str(run_dir))
    if checkpoint is None:
        raise UserError(f"{run_dir}: no checkpoint found (has training run?)")
    params = load_params(run_dir, overrides)
    size = list(params.task.model.input_size[:2])
    module = DetectionModule(params, batch_size=batch_size, input_image_size=size)
    status = tf.train.Checkpoint(model=module.model).read(checkpoint)
    status.expect_partial().assert_existing_objects_matched()
    return RunDetector(module, params, checkpoint, size[0])


def load_export_model(run_dir: str | Path, checkpoint: str | None = None,
                      batch_size: int | None = None) -> RunDetector:
    """The run's model as the bundle exports it: (almost) every candidate kept
    (`EXPORT_SCORE_THRESHOLD`); evaluation sees exactly what the export writes."""
    overrides = {"task": {"model": {"detection_generator": {
        "pre_nms_score_threshold": EXPORT_SCORE_THRESHOLD}}}}
    return load_checkpoint_model(run_dir, checkpoint, overrides, batch_size)


def serving_function(detector: RunDetector, input_name: str = "images",
                     named_outputs: bool = False):
    """A tf.function uint8 ``[batch, h, w, 3]`` → the four OD API outputs."""
    import tensorflow as tf

    spec = tf.TensorSpec([None, None, None, 3], tf.uint8, name=input_name)

    @tf.function(input_signature=[spec])
    def serve(images):
        out = detector(images)
        if named_outputs:  # TF1 tensor names for the frozen graph
            return {k: tf.identity(out[k], name=k) for k in OUTPUT_KEYS}
        return {k: out[k] for k in OUTPUT_KEYS}

    return serve
