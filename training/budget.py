"""The time budget of a training run: ``--time 30m``, the step-time probe, the plan.

A budget is wall-clock time for training (data checks, the probe, building the model
and the steps; the evaluation afterwards is extra). `probe_step_seconds` times a few
real training steps of the Model Garden task (the same data pipeline, model, loss and
optimizer as the run) so the run knows, before its first step, how many steps fit; the
learning-rate schedule then decays over those steps, and the clock ends the run the way
Ctrl+C does (after the current loop, with a checkpoint), whichever comes first with
``--steps``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from core.errors import UserError

DEFAULT_STEPS = 2000  # train.steps = 0 with no budget (a GPU): the old default
# The schedule is aimed at the budget's end, not short of it: the clock cuts an overrun
# where the cosine's last percent carries under 0.1% of the learning rate, while every
# second planned short of the end is training lost (at 0.97, runs of `bench train --mode
# budget` stopped 30-80 s early of 600).
SAFETY = 1.0
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, key: str = "train.time") -> float | None:
    """``"30m"``, ``"2h"``, ``"90s"``, ``"1h30m"``, ``"1.5h"`` → seconds; ``""`` → None."""
    text = (text or "").strip().lower()
    if not text:
        return None
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhd])", text)
    if not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([smhd])", "", text).strip():
        raise UserError(f"{key}: expected a duration such as 30m, 2h or 90s, got {text!r}")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise UserError(f"{key}: must be more than 0, got {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """``5400`` → ``"1h30m"``, ``90`` → ``"1m30s"``."""
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h{m:02d}m"
    return f"{m}m{s:02d}s" if m and s else (f"{m}m" if m else f"{s}s")


@dataclass
class Budget:
    """A run's clock: the deadline and what is left of it."""

    seconds: float
    start: float  # time.monotonic() when the run began

    @property
    def deadline(self) -> float:
        return self.start + self.seconds

    def left(self, now: float | None = None) -> float:
        return max(0.0, self.deadline - (time.monotonic() if now is None else now))

    def spent(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.start


def steps_within(seconds: float, step_seconds: float, overhead: float = 0.0) -> int:
    """Training steps that fit in ``seconds`` after ``overhead`` (model build, tracing)."""
    return max(1, int(SAFETY * max(0.0, seconds - overhead) / max(step_seconds, 1e-6)))


def probe_step_seconds(params, strategy=None, steps: int = 3,
                       min_seconds: float = 4.0) -> tuple[float, float]:
    """Time real training steps of ``params`` (a Model Garden experiment).

    Builds the task's model, optimizer and training data exactly as the trainer does and
    runs steps as its loop does (``steps`` at a time inside one `tf.function`, the input
    read in the graph), traced once (not timed), then timed for at least two loops and
    ``min_seconds``. Timing one step per Python call, with the batch passed in, made the
    probe 9% slower than the run's loop, and the median loop leaves out the slow first
    ones (the input pipeline fills, memory is allocated): the run planned too few steps
    and stopped 30-80 s early of 600.

    Returns:
        ``(seconds per step, seconds building and tracing took)``; the second is what the
        run pays once more before its first step.
    """
    import statistics

    import tensorflow as tf
    from official.core import task_factory

    begin = time.perf_counter()
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        task = task_factory.get_task(params.task)
        model = task.build_model()
        optimizer = task.create_optimizer(params.trainer.optimizer_config, params.runtime)
        metrics = task.build_metrics(training=True)
    data = strategy.distribute_datasets_from_function(
        lambda ctx: task.build_inputs(params.task.train_data, ctx))
    batches = iter(data)

    @tf.function
    def loop(iterator, n):
        for _ in tf.range(n):
            strategy.run(task.train_step, args=(next(iterator), model, optimizer, metrics))

    def seconds_per_step(n: int) -> float:
        start = time.perf_counter()
        loop(batches, tf.constant(n))
        int(optimizer.iterations.numpy())  # wait for the steps
        return (time.perf_counter() - start) / n

    seconds_per_step(1)  # tracing
    setup = time.perf_counter() - begin
    n = max(1, min(steps, 50))
    times: list[float] = []
    while len(times) < 2 or (sum(times) * n < min_seconds and len(times) < 20):
        times.append(seconds_per_step(n))
    return statistics.median(times), setup
