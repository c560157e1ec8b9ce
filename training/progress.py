"""A rich progress bar for Model Garden training, as an orbit train action.

Orbit calls every train action after each inner loop of ``steps_per_loop`` steps with
that loop's logs; this one shows step, loss, learning rate, images/s and ETA, and
stops training cleanly when Ctrl+C was pressed (see `StopFlag`).
"""

from __future__ import annotations

import signal
import sys
import time
from types import FrameType
from typing import Self

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class Interrupted(Exception):
    """Raised from the train action after Ctrl+C, between two training loops."""


class StopFlag:
    """Turns the first Ctrl+C into a request to stop after the current loop; a second
    Ctrl+C interrupts at once (KeyboardInterrupt)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> Self:
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self._previous = None
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


class ProgressAction:
    """Orbit train action: progress bar + throughput bookkeeping + stop on request."""

    def __init__(self, global_step, total_steps: int, batch: int, stop: StopFlag,
                 enabled: bool = True) -> None:
        self.global_step = global_step
        self.total = total_steps
        self.batch = batch
        self.stop = stop
        self.last_logs: dict[str, float] = {}
        self.images_per_sec = 0.0
        self.measured_images = 0
        self.measured_seconds = 0.0
        self._step = int(global_step.numpy())
        self._time = time.perf_counter()
        self._first = True
        self._progress = Progress(
            TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}  lr {task.fields[lr]}  {task.fields[ips]} img/s"),
            TimeRemainingColumn(), disable=not enabled, transient=False,
            console=Console(file=sys.stdout), redirect_stdout=False,
        )
        self._task = self._progress.add_task("train", total=total_steps, completed=self._step,
                                             loss="-", lr="-", ips="-")

    def __enter__(self) -> Self:
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    def __call__(self, logs: dict) -> None:
        now = time.perf_counter()
        step = int(self.global_step.numpy())
        done, seconds = step - self._step, now - self._time
        self._step, self._time = step, now
        if done > 0 and seconds > 0:
            self.images_per_sec = done * self.batch / seconds
            if not self._first:  # the first loop includes tracing: leave it out of the mean
                self.measured_images += done * self.batch
                self.measured_seconds += seconds
            self._first = False
        self.last_logs = {k: float(np.mean(v)) for k, v in (logs or {}).items()
                          if np.size(v) >= 1 and np.issubdtype(np.asarray(v).dtype, np.number)}
        loss = self.last_logs.get("total_loss", self.last_logs.get("training_loss"))
        lr = self.last_logs.get("learning_rate")
        self._progress.update(
            self._task, completed=step,
            loss="-" if loss is None else f"{loss:.4f}",
            lr="-" if lr is None else f"{lr:.2e}",
            ips=f"{self.images_per_sec:.1f}",
        )
        if self.stop.requested:
            raise Interrupted

    @property
    def mean_images_per_sec(self) -> float:
        """Steady-state images/s (first loop, which traces the graph, excluded)."""
        if self.measured_seconds:
            return self.measured_images / self.measured_seconds
        return self.images_per_sec
