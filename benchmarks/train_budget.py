"""`lookout bench train --mode costs|budget`: the figures behind training under a budget.

costs: seconds per training step at each input size and finest pyramid level (min_level 3
    and 2), measured with the run's own probe (`training.budget.probe_step_seconds`) on
    raccoon, batch 8, interleaved so the shared machine's load drifts alike over all; the
    ratios to 256 px / min_level 3 are what `training.plan.STEP_COST` holds.
budget: the previous defaults (256 px, Model Garden's anchors, a 2000-step schedule ended by
    the clock) against the new defaults (`--time`, choices made under it), each trained for
    the same `--time` on the small-object mosaics (`--grid`, 12 for the issue's 12x12) and
    on raccoon, from scratch and from the same checkpoint (a raccoon run packed as the
    preset's COCO checkpoint, standing in for COCO); AP / AP50 per run and the ratios
    (goal: mosaics AP50 >= 1.5x at equal time; raccoon within the noise of two runs).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path


def _params(data_dir: Path, model: str, size: int, min_level: int, batch: int):
    from training.anchors import AnchorChoice
    from training.config import TrainConfig
    from training.data import load_dataset
    from training.experiment import build_experiment
    from training.fit import DataFit
    from training.presets import PRESETS

    data = load_dataset(data_dir)
    levels = PRESETS[model].levels
    fit = DataFit(size, AnchorChoice(min_level=min_level, max_level=levels[1]), False)
    cfg = TrainConfig(model=model, input_size=size, steps=2000, batch=batch, init="none")
    records = [str(p) for p in data.splits["train"]]
    return build_experiment(cfg, data.num_classes, records, records, fit=fit)


def costs(args, tmp: Path) -> dict:
    """Seconds per step of each size x min_level against 256 px / level 3, interleaved.

    The reference model and each other one are built side by side and their steps timed
    in turns (A B A B ...), so a shared machine's changing load weighs on both alike; the
    ratio of their median step times is what `training.plan.STEP_COST` holds.
    """
    import statistics

    import tf_keras
    from bench_train import _raccoon_data

    data_dir = _raccoon_data(tmp)
    pairs = [(int(s), int(lv)) for s, lv in (p.split("/") for p in args.pairs.split(","))]
    ref = _Stepper(_params(data_dir, args.model, 256, 3, args.batch))
    print(f"model {args.model}, batch {args.batch}: seconds per training step, each against "
          f"256 px / level 3 in turns ({args.turns} turns, medians)", flush=True)
    ratios = {(256, 3): 1.0}
    for size, level in pairs:
        other = _Stepper(_params(data_dir, args.model, size, level, args.batch))
        a, b = [], []
        for _ in range(args.turns):
            a.append(ref.time())
            b.append(other.time())
        ratio = statistics.median(b) / statistics.median(a)
        ratios[(size, level)] = ratio
        print(f"  {size:4d} px, min_level {level}: {statistics.median(b):6.3f} s/step against "
              f"{statistics.median(a):6.3f}: ratio {ratio:5.2f}", flush=True)
        del other
        tf_keras.backend.clear_session()
    return ratios


class _Stepper:
    """One model's real training step (the probe's machinery), traced once, timed per call."""

    def __init__(self, params) -> None:
        import tensorflow as tf
        from official.core import task_factory

        self.task = task = task_factory.get_task(params.task)
        model = task.build_model()
        optimizer = task.create_optimizer(params.trainer.optimizer_config, params.runtime)
        metrics = task.build_metrics(training=True)
        self.batches = iter(task.build_inputs(params.task.train_data))
        self.step = tf.function(lambda x: task.train_step(x, model, optimizer, metrics))
        self.time()  # tracing

    def time(self) -> float:
        batch = next(self.batches)
        start = time.perf_counter()
        float(self.step(batch)["total_loss"])
        return time.perf_counter() - start


def budget(args, tmp: Path) -> None:
    """Previous defaults against the new ones, equal --time, scratch and checkpoint."""

    from bench_train import _raccoon_data, _score, _tutorial
    from small_objects import build_mosaic_dataset

    from training.budget import parse_duration
    from training.run_record import RunRecord

    seconds = parse_duration(args.time, "--time")
    mosaics = build_mosaic_dataset(_tutorial("raccoon"), tmp, grid=args.grid, canvas=args.canvas)
    racc = _raccoon_data(tmp)
    checkpoint = (_stand_in_checkpoint(args, racc, tmp, seconds) if "checkpoint" in args.starts
                  else tmp / "no-mirror")
    print(f"budget {args.time} of training per run, batch {args.batch}, model {args.model}; "
          f"checkpoint standing in for COCO: {checkpoint}", flush=True)
    variants = _variants(args, mosaics)
    rows = []
    sets = [x for x in (("mosaics", mosaics), ("raccoon", racc)) if x[0] in args.sets]
    for set_name, data_dir in sets:
        for start in [s for s in ("scratch", "checkpoint") if s in args.starts]:
            repeats = args.repeats or (2 if set_name == "raccoon" else 1)
            for repeat in range(repeats):  # rounds: each variant once, then again
                for name, cfg in variants.items():
                    if name == "data" and set_name != "mosaics":
                        continue
                    init = "none" if start == "scratch" else (
                        "coco" if name == "previous" else "auto")
                    run = tmp / f"{set_name}-{start}-{name}-{repeat}"
                    info, lines, took = _timed_run(data_dir, run, dataclasses.replace(
                        cfg, init=init), tmp, checkpoint,
                        seconds if name == "previous" else None)
                    coco = _score(run, data_dir)[0]
                    size = RunRecord.read(run).input_size
                    rows.append((set_name, start, name, repeat, size, info.step, took, coco))
                    print(f"[{set_name} / {start} / {name} / run {repeat + 1}] {size} px, "
                          f"{info.step} steps in {took:.0f} s: AP {coco['AP']:.3f} "
                          f"AP50 {coco['AP50']:.3f}", flush=True)
                    for line in lines:
                        print("    " + line, flush=True)
    _table(rows)


def _variants(args, mosaics: Path) -> dict:
    """The configurations `--variants` names. previous: 256 px, Model Garden's anchors, no
    zoom-in, 100 boxes an image, its 2000-step schedule ended by the clock (a timer's
    SIGINT, as Ctrl+C: the previous release had no clock); new: the defaults under
    `--time`; data: the input the mosaics' boxes alone ask for (issue 18's rule) under
    the same clock; the others take one new choice back (anchors, zoom-in, 100 boxes)
    or try one more lever (match IoU, learning rate) to see which one pays."""
    from training.config import TrainConfig
    from training.data import load_dataset
    from training.fit import fit_to_data

    new = TrainConfig(model=args.model, batch=args.batch, time=args.time)
    known = {
        "previous": lambda: TrainConfig(model=args.model, input_size=256, anchors="default",
                                        aug_zoom="off", steps=2000, batch=args.batch,
                                        max_detections=100),
        "new": lambda: new,
        "new-anchors-default": lambda: dataclasses.replace(new, anchors="default"),
        "new-zoom-on": lambda: dataclasses.replace(new, aug_zoom="on"),
        "new-match-0.4": lambda: dataclasses.replace(new, match_iou=0.4),
        "new-lr-0.02": lambda: dataclasses.replace(new, lr=0.02),
        "new-100-boxes": lambda: dataclasses.replace(new, max_detections=100),
        "data": lambda: dataclasses.replace(new, input_size=fit_to_data(
            new, load_dataset(mosaics).splits["train"]).input_size),
    }
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"--variants: unknown {', '.join(unknown)} (known: {', '.join(known)})")
    return {n: known[n]() for n in names}


def _timed_run(data_dir: Path, run: Path, cfg, tmp: Path, mirror: Path,
               seconds: float | None):
    """Train ``cfg``; ``seconds``: a timer interrupts it then, as Ctrl+C would (the
    previous release had no clock of its own)."""
    import os
    import signal
    import threading

    from training import catalogue
    from training.train import train

    lines: list[str] = []
    os.environ[catalogue.MIRROR_ENV] = str(mirror)  # a folder laid out as the mirror
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT)) if seconds else None
    start = time.time()
    if timer:
        timer.start()
    try:
        info = train(data_dir, run, cfg, evaluate_at_end=False, cache_dir=tmp / "cache",
                     notify=lambda text, warn: lines.append(("warning: " if warn else "") + text))
    finally:
        if timer:
            timer.cancel()
    return info, lines, time.time() - start


def _stand_in_checkpoint(args, data_dir: Path, tmp: Path, seconds: float) -> Path:
    """A raccoon run (default anchors, 256 px) packed as the preset's COCO checkpoint in a
    mirror folder, so `--init coco` / `auto` restore it as they would COCO's."""
    import tarfile

    import tensorflow as tf

    from training import catalogue
    from training.config import TrainConfig
    from training.train import train

    mirror = tmp / "mirror"
    weights = catalogue.lookup("coco", args.model)
    archive = mirror / weights.path
    if archive.is_file():
        return mirror
    run = Path(args.pretrained) if args.pretrained else tmp / "stand-in"
    if not args.pretrained:
        train(data_dir, run, TrainConfig(model=args.model, input_size=256, anchors="default",
                                         aug_zoom="off", batch=args.batch, time=args.time,
                                         init="none"), evaluate_at_end=False)
        print(f"stand-in checkpoint: a raccoon run of {args.time} at 256 px", flush=True)
    prefix = tf.train.latest_checkpoint(str(run))
    member = Path(weights.member or "ckpt-1")
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        for part in Path(prefix).parent.glob(Path(prefix).name + ".*"):
            suffix = part.name[len(Path(prefix).name):]
            tar.add(part, arcname=str(member.parent / (member.name + suffix)))
    return mirror


def _table(rows) -> None:
    print(f"\n{'set':8s} {'start':10s} {'defaults':9s} {'run':>4s} {'input':>5s} {'steps':>6s} "
          f"{'AP':>6s} {'AP50':>6s}")
    for set_name, start, name, repeat, size, steps, _took, coco in rows:
        print(f"{set_name:8s} {start:10s} {name:9s} {repeat + 1:4d} {size:5d} {steps:6d} "
              f"{coco['AP']:6.3f} {coco['AP50']:6.3f}")
    for start in ("scratch", "checkpoint"):
        for set_name in ("mosaics", "raccoon"):
            by = {n: [r[7]["AP50"] for r in rows
                      if r[0] == set_name and r[1] == start and r[2] == n]
                  for n in ("previous", "new")}
            if not all(by.values()):
                continue
            old, new = (sum(v) / len(v) for v in (by["previous"], by["new"]))
            spread = max(max(v) - min(v) for v in by.values())
            runs = f"mean of {len(by['previous'])} and {len(by['new'])} runs"
            if set_name == "mosaics":
                print(f"mosaics, {start}: AP50 new/previous {new / max(old, 1e-9):.2f}x "
                      f"({runs}; goal >= 1.5x)")
            else:
                print(f"raccoon, {start}: AP50 new - previous {new - old:+.3f} ({runs}); "
                      f"largest run-to-run spread {spread:.3f}")
