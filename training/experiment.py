"""`build_experiment`: ``[train]`` settings + a preset → a Model Garden RetinaNet
`ExperimentConfig`.

Each preset (`training.presets`) starts from one of Model Garden's registered experiments
(`official.core.exp_factory`); this changes only what a small custom dataset needs:
classes from the label map, input size, batch, steps, LR schedule, augmentation,
checkpoint cadence, and float32 (CPUs have no fast bfloat16). The resolved config is
saved as YAML in the run folder, so ``official/vision/train.py`` can rerun it.
"""

from __future__ import annotations

from training.config import TrainConfig
from training.data import input_pattern
from training.presets import PRESETS


def build_experiment(
    cfg: TrainConfig,
    num_classes: int,
    train_records: list[str],
    eval_records: list[str],
    eval_batch: int = 1,
    fit=None,
):
    """Resolve the Model Garden experiment for ``cfg`` (validated, locked).

    ``fit`` (a `training.fit.DataFit`) sets the anchors and the zoom-in augmentation
    chosen from the data; without it, Model Garden's anchors are kept.
    """
    import official.vision.configs.retinanet  # noqa: F401  (registers the experiments)
    from official.core import exp_factory
    from official.modeling import optimization

    preset = PRESETS[cfg.model]  # the preset, input size and ranges: checked by TrainConfig
    if not isinstance(cfg.input_size, int):  # "auto" is resolved by training.fit first
        raise TypeError(f"build_experiment: input_size {cfg.input_size!r} is not resolved")

    params = exp_factory.get_exp_config(preset.experiment)
    preset.adapt(params)
    task = params.task
    task.model.num_classes = num_classes
    task.model.input_size = [cfg.input_size, cfg.input_size, 3]
    task.init_checkpoint = None
    task.init_checkpoint_modules = "all"
    task.annotation_file = None
    task.per_category_metrics = True
    task.export_config.output_normalized_coordinates = True
    task.export_config.cast_num_detections_to_float = True
    task.export_config.cast_detection_classes_to_float = True
    params.runtime.mixed_precision_dtype = "float32"

    for data, records, batch, training in ((task.train_data, train_records, cfg.batch, True),
                                           (task.validation_data, eval_records, eval_batch, False)):
        data.input_path = input_pattern(records)
        data.global_batch_size = batch
        data.is_training = training
        data.dtype = "float32"
        data.shuffle_buffer_size = 256
        data.drop_remainder = training
        data.decoder.type = "simple_decoder"
        data.decoder.simple_decoder.regenerate_source_id = False
    parser = task.train_data.parser
    parser.aug_rand_hflip = cfg.aug_flip
    parser.match_threshold = parser.unmatched_threshold = cfg.match_iou
    parser.aug_scale_min = cfg.aug_scale_min
    parser.aug_scale_max = cfg.aug_scale_max
    if fit is not None:
        _apply_fit(params, fit, cfg)

    warmup = max(1, min(cfg.steps // 10, 500))
    trainer = params.trainer
    trainer.train_steps = cfg.steps
    trainer.steps_per_loop = _steps_per_loop(cfg)
    trainer.summary_interval = trainer.steps_per_loop
    trainer.checkpoint_interval = cfg.checkpoint_every
    trainer.validation_interval = cfg.steps
    trainer.validation_steps = -1
    trainer.max_to_keep = 3
    trainer.optimizer_config = optimization.OptimizationConfig({
        "optimizer": {"type": "sgd", "sgd": {"momentum": 0.9, "global_clipnorm": 10.0}},
        "learning_rate": {"type": "cosine", "cosine": {
            "initial_learning_rate": cfg.lr, "decay_steps": cfg.steps}},
        "warmup": {"type": "linear", "linear": {
            "warmup_steps": warmup, "warmup_learning_rate": cfg.lr / 10}},
    })
    params.validate()
    params.lock()
    return params


def _apply_fit(params, fit, cfg: TrainConfig) -> None:
    """Anchors (Model Garden's `Anchor` knobs and FPN levels), the boxes returned per
    image, and the zoom-in crop: Model Garden's scale jitter above 1 zooms in and crops,
    clipping the boxes the crop cuts and dropping those left empty
    (`retinanet_input.Parser`)."""
    model, a = params.task.model, fit.anchors
    model.detection_generator.max_num_detections = int(fit.max_detections)
    model.anchor.anchor_size = float(a.anchor_size)
    model.anchor.aspect_ratios = [float(r) for r in a.aspect_ratios]
    model.anchor.num_scales = int(a.num_scales)
    model.min_level, model.max_level = int(a.min_level), int(a.max_level)
    if fit.zoom:
        parser = params.task.train_data.parser
        parser.aug_scale_max = max(float(cfg.aug_scale_max), float(cfg.aug_zoom_max))


def _steps_per_loop(cfg: TrainConfig) -> int:
    """Steps per inner tf.function loop: small enough for a live progress bar and for
    the checkpoint interval to fall on a loop boundary."""
    for n in (10, 5, 2, 1):
        if cfg.checkpoint_every % n == 0 and n <= cfg.steps:
            return n
    return 1
