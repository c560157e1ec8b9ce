"""`train()`: a dataset folder → a run folder with checkpoints, through Model Garden.

The training loop is Model Garden's own: `exp_factory` config (see `presets`),
`task_factory` task, `train_lib.OrbitExperimentRunner` (base trainer + orbit
controller + checkpoint manager). lookout adds what a user needs around it: checks of
the dataset, a progress bar, Ctrl+C → checkpoint, clear errors (disk full, bad --init),
and ``run.json`` describing the run for `evaluate` and `export`.

Run folder: ``params.yaml`` (Model Garden experiment, rerunnable with
``official/vision/train.py``), ``run.json``, ``label_map.pbtxt``, ``ckpt-N.*``,
``train/`` (TensorBoard: losses, learning rate), ``validation/`` (metrics, sample images).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import io
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError
from core.progress import OnProgress
from realtime.labelmap import write_label_map
from training import cluster
from training.budget import parse_duration, probe_step_seconds
from training.config import TrainConfig
from training.data import check_records, load_dataset
from training.experiment import build_experiment
from training.fit import DataFit
from training.freeze import freeze_on_build, parse_freeze
from training.health import NEAR_ZERO_AP50
from training.init import auto_init
from training.input_cache import plan_cache, use_cache
from training.plan import plan_run
from training.progress import Interrupted, ProgressAction, StopFlag, TimeUp
from training.restore import CLASSIFIER, initializer
from training.run_record import RunRecord


@dataclass
class RunInfo:
    """What `train` did. ``interrupted`` is True after Ctrl+C (a checkpoint was saved)."""

    run_dir: Path
    step: int
    steps: int
    loss: float | None
    images_per_sec: float
    checkpoint: str
    interrupted: bool = False
    metrics: dict | None = None
    stopped_by: str = "steps"  # "steps" | "time" (the budget) | "interrupt" (Ctrl+C)


def latest_checkpoint(run_dir: str | Path) -> str | None:
    import tensorflow as tf

    return tf.train.latest_checkpoint(str(run_dir))


def make_strategy(name: str):
    """``one_device | mirrored | multi_worker_mirrored`` via Model Garden's distribute_utils.

    Without GPUs, ``mirrored`` mirrors over the logical CPU devices (tests split the
    CPU in two), which distribute_utils does not offer, so it is built directly.
    """
    import tensorflow as tf
    from official.common import distribute_utils

    choices = ("one_device", "mirrored", "multi_worker_mirrored")
    if name not in choices:
        raise UserError(f"train.strategy: must be one of {' | '.join(choices)}, got {name!r}")
    if name == "multi_worker_mirrored":  # before listing devices: that starts TF's context
        return distribute_utils.get_distribution_strategy(distribution_strategy=name)
    gpus = len(tf.config.list_logical_devices("GPU"))
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    if name == "mirrored" and gpus == 0 and len(cpus) > 1:
        return tf.distribute.MirroredStrategy(devices=cpus)
    if name == "one_device":
        gpus = min(gpus, 1)
    return distribute_utils.get_distribution_strategy(distribution_strategy=name, num_gpus=gpus)


def train(
    dataset_dir: str | Path,
    run_dir: str | Path,
    cfg: TrainConfig,
    *,
    resume: bool = False,
    on_progress: OnProgress | None = None,
    evaluate_at_end: bool = True,
    cache_dir: str | Path | None = None,
    on_init: Callable[[dict], None] | None = None,
    notify=None,
) -> RunInfo:
    """Train (or resume) a RetinaNet on ``dataset_dir`` into ``run_dir``.

    Args:
        dataset_dir: output of `lookout dataset build` (``dataset.json`` + records).
        run_dir: the run folder; must not hold checkpoints unless ``resume``.
        cfg: the ``[train]`` settings. On ``resume`` the run's saved settings are used,
            except ``steps`` (so a finished run can be extended).
        evaluate_at_end: run `evaluate` on the test split after training (metrics.json,
            TensorBoard scalars and sample images).
        cache_dir: where ``train.init`` URLs are downloaded (default ``~/.cache/lookout``).
        on_progress: gets `Progress` reports (download, train, evaluate); None = silent.
        on_init: called with what ``train.init`` restores (`training.init.prepare_init`)
            before training starts.
        notify: ``notify(text, warning)`` receives what was chosen (budget, weights, input
            size, levels, anchors, steps, end time) and why, before training starts, and
            the warning of a run that is not learning (`training.health`).
    """
    import official.vision.registry_imports  # noqa: F401  (registers tasks and models)
    import tensorflow as tf
    from official.core import task_factory, train_lib, train_utils

    tf.get_logger().setLevel("ERROR")  # e.g. unused MobileNet head layers have no gradients

    clock = time.monotonic()  # the time budget counts from here
    run_dir = Path(run_dir)
    deadline = None
    existing = latest_checkpoint(run_dir) if run_dir.is_dir() else None
    if resume:
        if existing is None:
            raise UserError(f"{run_dir}: nothing to resume (no checkpoint); drop --resume")
        saved = RunRecord.read(run_dir)
        budget = parse_duration(cfg.time)  # a resumed run keeps its steps; --time adds a clock
        deadline = clock + budget if budget else None
        cfg = saved.train_config(steps=cfg.steps or saved.train["steps"], time=cfg.time)
        if cluster.is_chief(cfg.strategy):
            _remove_partial_checkpoints(run_dir)  # a kill mid-save leaves ckpt-N_temp behind
        fit = DataFit.from_dict(saved.data_fit) if saved.data_fit else None
        dataset_dir = saved.dataset if dataset_dir is None else dataset_dir
    elif existing is not None:
        raise UserError(f"{run_dir}: already holds checkpoints ({Path(existing).name}); "
                        "use --resume to continue it or choose a new --out")
    # Multi-worker collectives must be set up before TensorFlow runs its first op.
    cluster.check_multi_worker(cfg.strategy)
    chief = cluster.is_chief(cfg.strategy)
    strategy = make_strategy(cfg.strategy)

    data = load_dataset(dataset_dir)
    train_records = data.splits.get("train", [])
    test_records = data.splits.get("test", [])
    if not train_records:
        raise UserError(f"{data.root / 'dataset.json'}: has no 'train' split")
    num_train = check_records(train_records, data.names, data.label_map)
    if test_records:
        check_records(test_records, data.names, data.label_map)

    plan = None
    if not resume:
        plan = plan_run(cfg, train_records, lambda c, f: build_experiment(
            c, data.num_classes, [str(p) for p in train_records],
            [str(p) for p in test_records or train_records], fit=f),
            gpu=bool(tf.config.list_logical_devices("GPU")), clock=clock,
            probe=lambda params: probe_step_seconds(params, strategy),
            init=lambda preset: auto_init(preset, cache_dir, on_progress, cfg.weights_url or None),
            say=notify)
        fit, cfg = plan.fit, plan.cfg
        deadline = clock + plan.budget_s if plan.budget_s else None
    params = build_experiment(cfg, data.num_classes, [str(p) for p in train_records],
                              [str(p) for p in test_records or train_records], fit=fit)
    freeze = parse_freeze(cfg.freeze)
    init = None
    if cfg.init and not resume:
        from training.init import prepare_init

        init = prepare_init(cfg.init, params, cache_dir=cache_dir, on_progress=on_progress,
                            model_name=cfg.model, mirror=cfg.weights_url or None,
                            classes=data.names)
        if on_init:
            on_init(init)
    params.lock()

    if chief:  # the other workers of a multi-worker run write nothing in the run folder
        run_dir.mkdir(parents=True, exist_ok=True)
        train_utils.serialize_config(params, str(run_dir))
        write_label_map(data.names, run_dir / "label_map.pbtxt")
    run = RunRecord(
        model=cfg.model, input_size=cfg.input_size, num_classes=data.num_classes,
        classes=dict(data.names), dataset=str(data.root.resolve()), train_images=num_train,
        train=dataclasses.asdict(cfg), init=init if not resume else saved.init,
        data_fit=fit.as_dict() if fit else None,
        budget=plan.as_dict() if plan else saved.budget, status="training")
    if chief:
        run.write(run_dir)

    stop = StopFlag()
    start = time.time()
    with stop, cluster.work_dir(run_dir, chief) as work:
        with strategy.scope():
            task = task_factory.get_task(params.task, logging_dir=str(work.path))
        if init:  # restores the head too; its class outputs only from a run of these labels
            task.initialize = initializer(init["checkpoint"], init["modules"], cfg.input_size)
        freeze_on_build(task, freeze)
        cache = plan_cache(train_records, cfg.input_size,
                           params.task.train_data.parser.aug_scale_max, cfg.input_cache,
                           count=num_train)
        if cache.cache:  # decoded once; augmentation still runs every epoch
            use_cache(task, cache.side)
        if notify is not None and chief:
            notify(cache.why, False)
        with contextlib.redirect_stdout(io.StringIO()):  # orbit's "restoring..." chatter
            runner = train_lib.OrbitExperimentRunner(
                distribution_strategy=strategy, task=task, mode="train", params=params,
                model_dir=str(work.path), train_actions=[],
            )
        if not chief:
            cluster.follow_chief(runner, run_dir, resume, work)
        global_step = runner.trainer.global_step
        run.resumed_from = int(global_step.numpy()) if resume else None
        run.replicas = strategy.num_replicas_in_sync
        warned = []  # one not-learning warning per run

        def stalled(sign: str, rose: bool) -> None:
            warned.append(sign)
            if notify is not None:
                notify(_not_learning(sign, cfg, fit, train_records, data.names, rose), True)

        # a run that continues a trained model (its classifier restored: retrain) starts
        # near its lowest loss; the stall rule (the loss must fall 20%) is for fresh heads
        continues = bool(init) and CLASSIFIER in init["modules"]
        action = ProgressAction(global_step, cfg.steps, cfg.batch, stop, on_progress,
                                deadline=deadline, on_stall=None if continues else stalled,
                                step_seconds=plan.step_seconds if plan else None)
        runner.controller.train_actions = list(runner.controller.train_actions) + [action]
        interrupted, stopped_by = False, "steps"
        try:
            # orbit prints every loop's logs; the progress bar shows them instead
            with contextlib.redirect_stdout(io.StringIO()):
                runner.run()
        except (Interrupted, KeyboardInterrupt):
            interrupted, stopped_by = True, "interrupt"
            _save(runner.checkpoint_manager, global_step, run_dir)
        except TimeUp:  # the budget is spent: a finished run, evaluated as one
            stopped_by = "time"
            _save(runner.checkpoint_manager, global_step, run_dir)
        except (OSError, tf.errors.OpError) as exc:
            _raise_if_disk_full(exc, run_dir, int(global_step.numpy()))
            raise
    step = int(global_step.numpy())
    info = RunInfo(
        run_dir=run_dir, step=step, steps=cfg.steps,
        loss=action.last_logs.get("total_loss"), images_per_sec=action.mean_images_per_sec,
        checkpoint=str(latest_checkpoint(run_dir)), interrupted=interrupted,
        stopped_by=stopped_by,
    )
    run = run.replace(status="interrupted" if interrupted else "done", step=step,
                      images_per_sec=round(info.images_per_sec, 3), loss=info.loss,
                      train_seconds=round(time.time() - start, 1), stopped_by=stopped_by)
    if not chief:
        return info
    run.write(run_dir)
    if evaluate_at_end and not interrupted and test_records:
        from training.evaluate import evaluate

        info.metrics = evaluate(run_dir, on_progress=on_progress)
        ap50 = (info.metrics or {}).get("coco", {}).get("AP50")
        if ap50 is not None and ap50 < NEAR_ZERO_AP50 and not warned and notify is not None:
            notify(_not_learning(f"test AP50 is {ap50:.3f} after {step} steps", cfg, fit,
                                 train_records, data.names, action.watch.rose), True)
    return info


def _not_learning(sign: str, cfg: TrainConfig, fit, records, names, rose: bool) -> str:
    from training.health import class_boxes, not_learning

    size = fit.size if fit else None
    return not_learning(sign, input_size=cfg.input_size, steps=cfg.steps, batch=cfg.batch,
                        under_16px=size.under_target if size else None, lr=cfg.lr,
                        init=cfg.init, class_boxes=class_boxes(records, names), loss_rose=rose)


def _save(manager, global_step, run_dir: Path) -> None:
    import tensorflow as tf

    try:
        manager.save(checkpoint_number=global_step, check_interval=False)
    except (OSError, tf.errors.OpError) as exc:
        _raise_if_disk_full(exc, run_dir, int(global_step.numpy()))
        raise


def _remove_partial_checkpoints(run_dir: Path) -> None:
    """Delete TensorFlow's half-written checkpoint folders (``ckpt-N_temp``); the ones
    listed in the ``checkpoint`` file are complete and stay."""
    for tmp in run_dir.glob("*_temp*"):
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)


_DISK_FULL = ("No space left on device", "File too large", "Disk quota exceeded")


def _raise_if_disk_full(exc: Exception, run_dir: Path, step: int) -> None:
    """Turn ENOSPC / EFBIG / EDQUOT (from Python or from TF's file system) into one line,
    after removing the half-written checkpoint (the previous one stays valid)."""
    text = getattr(exc, "message", None) or str(exc)
    codes = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
    if getattr(exc, "errno", None) in codes or any(s in text for s in _DISK_FULL):
        _remove_partial_checkpoints(run_dir)
        last = latest_checkpoint(run_dir)
        kept = f"last good checkpoint {Path(last).name}" if last else "no checkpoint yet"
        raise UserError(f"{run_dir}: out of disk space while writing the checkpoint at step {step} "
                        f"({kept}); free space and rerun with --resume") from None

