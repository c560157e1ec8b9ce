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
"""

from __future__ import annotations

import time
from pathlib import Path


def _rate(fn, n: int, batch: int) -> tuple[float, float]:
    """Images/s and CPU ms per image of ``n`` calls of ``fn`` (one batch each)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return n * batch / wall, 1000 * cpu / (n * batch)


def measure_size(data_dir: Path, size: int, batch: int, steps: int, model: str) -> dict:
    import tensorflow as tf
    from official.core import task_factory

    from training.config import TrainConfig
    from training.data import load_dataset
    from training.experiment import build_experiment

    data = load_dataset(data_dir)
    cfg = TrainConfig(model=model, input_size=size, steps=max(steps, 10), batch=batch,
                      checkpoint_every=max(steps, 10))
    params = build_experiment(cfg, data.num_classes, [str(p) for p in data.splits["train"]],
                              [str(p) for p in data.splits["test"]])
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        task = task_factory.get_task(params.task)
        net = task.build_model()
        optimizer = task.create_optimizer(params.trainer.optimizer_config, params.runtime)
        metrics = task.build_metrics(training=True)
    batches = iter(task.build_inputs(params.task.train_data))

    @tf.function
    def step(inputs):
        return task.train_step(inputs, net, optimizer, metrics)

    def wait(logs) -> None:
        float(logs["total_loss"])

    held = next(batches)  # also starts the pipeline's threads and fills its buffers
    next(batches)
    # many more batches than the pipeline's buffers hold, so they don't flatter it
    parser = _rate(lambda: next(batches), max(32, 8 * steps), batch)
    wait(step(held))  # tracing, not timed
    model_step = _rate(lambda: wait(step(held)), steps, batch)
    train = _rate(lambda: wait(step(next(batches))), steps, batch)
    tf.keras.backend.clear_session()
    return {"size": size, "parser": parser, "model_step": model_step, "train": train}


def input_speed(args, tmp: Path, fruit) -> list[dict]:
    data_dir = fruit(tmp)
    sizes = [int(s) for s in args.input_sizes.split(",")]
    print(f"model {args.model}, batch {args.batch}, {args.steps} timed steps of each kind per "
          f"size, parser {max(32, 8 * args.steps)} batches (fruit-nuts)")
    rows = []
    for size in sizes:
        r = measure_size(data_dir, size, args.batch, args.steps, args.model)
        rows.append(r)
        (p, pc), (m, mc), (t, _) = r["parser"], r["model_step"], r["train"]
        print(f"  {size:4d} px: train {t:6.2f} images/s | parser alone {p:7.2f} images/s "
              f"({pc:5.1f} ms CPU/image) | model step alone {m:6.2f} images/s "
              f"({mc:6.1f} ms CPU/image) | parser/model {p / m:5.1f}x, "
              f"train/model {t / m:4.2f}", flush=True)
    return rows
