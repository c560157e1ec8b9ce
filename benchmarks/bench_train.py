"""Training benchmarks (`lookout bench train [--mode throughput|sizes|raccoon]`).

throughput: images/s of `lookout train` and of the same Model Garden experiment run
    through raw ``official.core.train_lib.run_experiment``, in one process, same data,
    same config; prints both and the ratio (goal >= 0.9: the wrapper adds no overhead).
    Both exclude the first inner loop (graph tracing).
sizes: lookout's seconds per step at several input sizes (to pick defaults).
raccoon: from-scratch training on the raccoon tutorial's own split (160 train / 40 test)
    for a fixed wall-clock budget, then COCO AP / AP50 on the 40 test images.
finetune: fruit-nuts fine-tuned through `--init coco` from a catalogue-layout checkpoint
    served on 127.0.0.1 (a raccoon run), against the same steps from scratch: AP50 of both.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

FRUIT = REPO.parent / "shared" / "datasets" / "fruit-nuts"
RACCOON = REPO.parent / "shared" / "datasets" / "raccoon"


def _fruit(tmp: Path) -> Path:
    from training.config import DatasetConfig
    from training.datasets.build import build_dataset

    out = tmp / "fruit"
    build_dataset(FRUIT, out, DatasetConfig(max_size="400x300"))
    return out


def throughput(args, tmp: Path) -> dict:
    import tf_keras

    from training.config import TrainConfig
    from training.train import train

    data_dir = _fruit(tmp)
    cfg = TrainConfig(model=args.model, input_size=args.input_size, steps=args.steps,
                      batch=args.batch, checkpoint_every=args.steps)
    results = {}
    for round_ in range(args.rounds):
        # alternate which one goes first: the shared machine's load drifts
        order = ("lookout", "raw") if round_ % 2 == 0 else ("raw", "lookout")
        for which in order:
            run = tmp / f"{which}-{round_}"
            if which == "lookout":
                info = train(data_dir, run, cfg, evaluate_at_end=False)
                results.setdefault("lookout", []).append(info.images_per_sec)
            else:
                results.setdefault("raw", []).append(_raw_images_per_sec(data_dir, run, cfg))
            tf_keras.backend.clear_session()
    best = {k: max(v) for k, v in results.items()}
    print(f"model {args.model}, input {args.input_size}px, batch {args.batch}, "
          f"{args.steps} steps, {args.rounds} round(s), best of rounds")
    print(f"  lookout train      : {best['lookout']:.2f} images/s  (all: "
          f"{', '.join(f'{x:.2f}' for x in results['lookout'])})")
    print(f"  raw train_lib      : {best['raw']:.2f} images/s  (all: "
          f"{', '.join(f'{x:.2f}' for x in results['raw'])})")
    print(f"  ratio lookout/raw  : {best['lookout'] / best['raw']:.3f}  (goal >= 0.9)")
    return best


def _raw_images_per_sec(data_dir: Path, run: Path, cfg) -> float:
    """The same experiment through Model Garden's own ``train_lib.run_experiment``."""
    from official.core import task_factory, train_lib

    from training.data import load_dataset
    from training.presets import build_experiment
    from training.train import make_strategy

    data = load_dataset(data_dir)
    params = build_experiment(cfg, data.num_classes, [str(p) for p in data.splits["train"]],
                              [str(p) for p in data.splits["test"]])
    params.lock()
    strategy = make_strategy("one_device")
    with strategy.scope():
        task = task_factory.get_task(params.task, logging_dir=str(run))
    stamps: list[float] = []
    with contextlib.redirect_stdout(io.StringIO()):
        train_lib.run_experiment(
            distribution_strategy=strategy, task=task, mode="train", params=params,
            model_dir=str(run), train_actions=[lambda _logs: stamps.append(time.perf_counter())])
    steps = (len(stamps) - 1) * params.trainer.steps_per_loop  # first loop traces: left out
    return steps * cfg.batch / (stamps[-1] - stamps[0]) if steps else float("nan")


def sizes(args, tmp: Path) -> None:
    from training.config import TrainConfig
    from training.train import train

    data_dir = _fruit(tmp)
    print(f"model {args.model}, batch {args.batch}, {args.steps} steps per size")
    for size in [int(s) for s in args.sizes.split(",")]:
        cfg = TrainConfig(model=args.model, input_size=size, steps=args.steps, batch=args.batch,
                          checkpoint_every=args.steps)
        info = train(data_dir, tmp / f"size-{size}", cfg, evaluate_at_end=False)
        per_step = args.batch / info.images_per_sec
        print(f"  {size:4d} px: {info.images_per_sec:6.2f} images/s, {per_step:6.3f} s/step")


def _raccoon_data(tmp: Path) -> Path:
    from training.config import DatasetConfig
    from training.datasets.build import build_dataset

    data_dir = tmp / "raccoon"
    build_dataset(RACCOON / "data", data_dir, DatasetConfig(format="csv", max_size="640x640",
                                                           skip_bad=True),
                  images=RACCOON / "images")
    return data_dir


def _steps_for(args, data_dir: Path, tmp: Path, seconds: float) -> tuple[int, float]:
    """Steps that fill ``seconds``: measured on a 30-step probe whose first loop (graph
    tracing) is left out (a 10-step probe was one loop, tracing included, and planned
    12 minutes of steps for a 30-minute budget)."""
    from training.config import TrainConfig
    from training.train import train

    probe = TrainConfig(model=args.model, input_size=args.input_size, steps=30,
                        batch=args.batch, checkpoint_every=10)
    info = train(data_dir, tmp / "probe", probe, evaluate_at_end=False)
    seconds_per_step = args.batch / info.images_per_sec
    return max(20, int(seconds / seconds_per_step)), seconds_per_step


def raccoon(args, tmp: Path) -> None:
    from training.config import TrainConfig
    from training.train import train

    start = time.time()
    data_dir = _raccoon_data(tmp)
    # the budget covers everything: data, probe, training, checkpoints and the final eval
    # (about 2 % of the steps' time on this CPU)
    _, seconds_per_step = _steps_for(args, data_dir, tmp, 0)
    left = args.minutes * 60 - (time.time() - start)
    steps = max(20, int(0.97 * left / seconds_per_step))
    print(f"raccoon: {seconds_per_step:.2f} s/step at {args.input_size}px batch {args.batch} "
          f"-> {steps} steps for the {left / 60:.1f} min left of {args.minutes} min")
    cfg = TrainConfig(model=args.model, input_size=args.input_size, steps=steps,
                      batch=args.batch, lr=args.lr, checkpoint_every=max(50, steps // 10),
                      aug_scale_min=0.5, aug_scale_max=1.5)
    run = Path(args.run_dir) if args.run_dir else tmp / "raccoon-run"
    from lookout.progress import Bars

    with Bars() as bars:
        info = train(data_dir, run, cfg, on_progress=bars)
    coco = info.metrics["coco"]
    print(f"raccoon from scratch, {time.time() - start:.0f} s of {args.minutes * 60:.0f} s "
          f"budget, {steps} steps: AP {coco['AP']:.3f}  AP50 {coco['AP50']:.3f}  (goal AP50 "
          ">= 0.5; tutorial mAP 0.8 with COCO-pretrained weights on a GPU)")


def finetune(args, tmp: Path) -> None:
    """Fine-tune fruit-nuts from a catalogue checkpoint served on 127.0.0.1 vs from scratch.

    The "pretrained" weights are a raccoon run (``--pretrained RUN``, or one trained here
    for ``--minutes``), packed exactly as Model Garden publishes the preset's COCO
    checkpoint and served as a weights mirror, so the run goes through `--init coco`.
    """
    import functools
    import http.server
    import os
    import tarfile
    import threading

    import tensorflow as tf

    from training import catalogue
    from training.config import TrainConfig
    from training.train import train

    pretrained = Path(args.pretrained) if args.pretrained else None
    if pretrained is None:
        data_dir = _raccoon_data(tmp)
        steps, _ = _steps_for(args, data_dir, tmp, args.minutes * 60)
        pretrained = tmp / "raccoon-run"
        train(data_dir, pretrained, TrainConfig(
            model=args.model, input_size=args.input_size, steps=steps, batch=args.batch,
            lr=args.lr, checkpoint_every=max(50, steps // 5)),
            evaluate_at_end=False)
    prefix = tf.train.latest_checkpoint(str(pretrained))
    weights = catalogue.lookup("coco", args.model)
    mirror = tmp / "mirror"
    archive = mirror / weights.path
    archive.parent.mkdir(parents=True)
    member = Path(weights.member or "ckpt-1")
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        for part in Path(prefix).parent.glob(Path(prefix).name + ".*"):
            tar.add(part, arcname=str(member.parent / (member.name + part.name[len(Path(prefix).name):])))
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(mirror))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    os.environ[catalogue.MIRROR_ENV] = f"http://127.0.0.1:{httpd.server_address[1]}"
    fruit = _fruit(tmp)
    results = {}
    try:
        for name, init in (("scratch", ""), ("init coco (raccoon run)", "coco")):
            cfg = TrainConfig(model=args.model, input_size=args.input_size, steps=args.steps,
                              batch=args.batch, lr=args.lr, init=init,
                              checkpoint_every=args.steps)
            info = train(fruit, tmp / f"fruit-{init or 'scratch'}", cfg,
                         cache_dir=tmp / "cache")
            results[name] = info.metrics["coco"]
    finally:
        httpd.shutdown()
    print(f"fruit-nuts, {args.steps} steps at {args.input_size}px batch {args.batch}, "
          f"pretrained = {pretrained} via {weights.name} layout on 127.0.0.1")
    for name, coco in results.items():
        print(f"  {name:<24}: AP {coco['AP']:.3f}  AP50 {coco['AP50']:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lookout bench train", description=__doc__.split("\n")[0])
    parser.add_argument("--mode", default="throughput",
                        choices=["throughput", "sizes", "raccoon", "finetune"])
    parser.add_argument("--model", default="retinanet-mobilenetv2-fpn")
    parser.add_argument("--input-size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sizes", default="128,192,256,320")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--run-dir", default=None, help="raccoon mode: keep the run here")
    parser.add_argument("--pretrained", default=None,
                        help="finetune mode: the run used as pretrained weights (default: a "
                             "raccoon run of --minutes trained first)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        modes = {"throughput": throughput, "sizes": sizes, "raccoon": raccoon,
                 "finetune": finetune}
        modes[args.mode](args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
