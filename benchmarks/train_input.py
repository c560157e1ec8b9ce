"""`lookout bench train --mode input`: training images/s by input size, with the input
pipeline's time measured apart from the model's step.

For each size, on the fruit-nuts set, the task, model, optimizer and training data are
built as the trainer builds them (`training.experiment.build_experiment`, Model Garden's
``build_inputs``, as `training.budget.probe_step_seconds` does), then three figures:

- parser: batches pulled from the input pipeline alone (decode, augment, resize,
  anchor labels; at least 32 batches, more than its prefetch buffers hold), images/s
  and its CPU ms per image (its tf.data threads included);
- model step: ``train_step`` repeated on one batch already in memory (no parsing);
- train: ``train_step`` fed by the pipeline, as in `lookout train`.

If parser images/s is well above model-step images/s the input pipeline is not the
bottleneck; on a shared 2-core CPU the two compete for the same cores, so "train" can
still fall below "model step": the parser's CPU per image says by how much it can.

Parser and train are measured twice from the same task and model, in interleaved rounds
(``--rounds``): Model Garden's input reader as is ("uncached") and
`training.input_cache` ("cached": decoded, shrunk examples kept in memory, augmentation
after the cache); the cached pipeline is filled (one pass over the set) before timing.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path


def _rate(fn, n: int, batch: int) -> tuple[float, float]:
    """Images/s and CPU ms per image of ``n`` calls of ``fn`` (one batch each)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return n * batch / wall, 1000 * cpu / (n * batch)


def measure_size(data_dir: Path, size: int, batch: int, steps: int, model: str,
                 rounds: int = 2) -> dict:
    import tensorflow as tf
    from official.core import task_factory

    from training.config import TrainConfig
    from training.data import load_dataset
    from training.experiment import build_experiment
    from training.input_cache import cached_inputs, plan_cache

    data = load_dataset(data_dir)
    cfg = TrainConfig(model=model, input_size=size, steps=max(steps, 10), batch=batch,
                      checkpoint_every=max(steps, 10))
    train_records = [str(p) for p in data.splits["train"]]
    params = build_experiment(cfg, data.num_classes, train_records,
                              [str(p) for p in data.splits["test"]])
    plan = plan_cache(train_records, size, params.task.train_data.parser.aug_scale_max)
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        task = task_factory.get_task(params.task)
        net = task.build_model()
        optimizer = task.create_optimizer(params.trainer.optimizer_config, params.runtime)
        metrics = task.build_metrics(training=True)
    pipelines = {"uncached": iter(task.build_inputs(params.task.train_data)),
                 "cached": iter(cached_inputs(task.build_inputs, params.task.train_data,
                                              plan.side))}

    @tf.function
    def step(inputs):
        return task.train_step(inputs, net, optimizer, metrics)

    def wait(logs) -> None:
        float(logs["total_loss"])

    held = next(pipelines["uncached"])  # also starts the pipeline's threads
    for _ in range(-(-plan.images // batch) + 1):  # fill the cache: one pass, and a batch
        next(pipelines["cached"])
    wait(step(held))  # tracing, not timed
    model_step = _rate(lambda: wait(step(held)), steps, batch)
    out: dict = {"size": size, "model_step": model_step, "cache_mb": plan.bytes / 2**20,
                 "images": plan.images, "rounds": []}
    # many more batches than the pipeline's buffers hold, so they don't flatter it
    pulls = max(32, 8 * steps)
    for _ in range(rounds):  # interleaved: the shared machine's load weighs on both alike
        row = {}
        for name, batches in pipelines.items():
            row[f"parser_{name}"] = _rate(lambda b=batches: next(b), pulls, batch)
            row[f"train_{name}"] = _rate(lambda b=batches: wait(step(next(b))), steps, batch)
        out["rounds"].append(row)
    for key in out["rounds"][0]:
        out[key] = tuple(sum(r[key][k] for r in out["rounds"]) / rounds for k in (0, 1))
    tf.keras.backend.clear_session()
    return out


def input_speed(args, tmp: Path, fruit) -> list[dict]:
    data_dir = fruit(tmp)
    sizes = [int(s) for s in args.input_sizes.split(",")]
    print(f"model {args.model}, batch {args.batch}, {args.steps} timed steps of each kind per "
          f"size, parser {max(32, 8 * args.steps)} batches (fruit-nuts)")
    rows = []
    for size in sizes:
        r = measure_size(data_dir, size, args.batch, args.steps, args.model, args.rounds)
        rows.append(r)
        m, mc = r["model_step"]
        print(f"  {size:4d} px: model step alone {m:6.2f} images/s ({mc:6.1f} ms CPU/image); "
              f"cache {r['cache_mb']:.0f} MB for {r['images']} images", flush=True)
        for name in ("uncached", "cached"):
            (p, pc), (t, tc) = r[f"parser_{name}"], r[f"train_{name}"]
            print(f"        {name:8s}: train {t:6.2f} images/s ({tc:6.1f} ms CPU/image) | "
                  f"parser alone {p:7.2f} images/s ({pc:5.1f} ms CPU/image) | parser/model "
                  f"{p / m:5.1f}x", flush=True)
        (pu, pcu), (pc_, pcc) = r["parser_uncached"], r["parser_cached"]
        tu, tc = r["train_uncached"][0], r["train_cached"][0]
        ratios = [row["train_cached"][0] / row["train_uncached"][0] for row in r["rounds"]]
        per_round = ", ".join(f"{x:.3f}" for x in ratios)
        print(f"        cached / uncached: train {statistics.median(ratios):.3f}x (median of "
              f"rounds: {per_round}; of the means {tc / tu:.3f}x), "
              f"parser {pc_ / pu:.2f}x, parser CPU per image {pcc:.1f} vs {pcu:.1f} ms",
              flush=True)
    return rows
