"""Training progress as an orbit train action: reports, throughput, Ctrl+C.

Orbit calls every train action after each inner loop of ``steps_per_loop`` steps with
that loop's logs; this one reports step, loss, learning rate and images/s through
``on_progress`` (the command line draws the bar), and stops training cleanly when
Ctrl+C was pressed (see `StopFlag`).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import Self

import numpy as np

from core.progress import OnProgress, report
from training.health import LossWatch


class Interrupted(Exception):
    """Raised from the train action after Ctrl+C, between two training loops."""


class TimeUp(Exception):
    """Raised from the train action when the time budget is spent (a loop boundary)."""


class StopFlag:
    """Turns the first Ctrl+C into a request to stop after the current loop; a second
    Ctrl+C interrupts at once (KeyboardInterrupt). SIGTERM too where it acts as Ctrl+C
    (`lookout.cli` installs Python's SIGINT handler for it): a stop while the model is
    being built must not leave a run whose run.json says "training" and no checkpoint."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> Self:
        try:
            self._previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._handle)
            if signal.getsignal(signal.SIGTERM) is signal.default_int_handler:
                self._previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self._previous = {}
        return self

    def __exit__(self, *exc) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


class ProgressAction:
    """Orbit train action: progress reports + throughput bookkeeping + stop on request."""

    def __init__(self, global_step, total_steps: int, batch: int, stop: StopFlag,
                 on_progress: OnProgress | None = None, *, deadline: float | None = None,
                 step_seconds: float | None = None,
                 on_stall: Callable[[str, bool], None] | None = None) -> None:
        """
        Args:
            deadline: ``time.monotonic()`` at which the budget ends (`TimeUp` is raised at
                the loop boundary nearest to it); None: no clock.
            step_seconds: the probe's estimate, for an ETA before the first loop ends.
            on_stall: ``on_stall(sign, loss_rose)`` once, when the loss has not fallen
                (`training.health.LossWatch`).
        """
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
        self.on_progress = on_progress
        self.deadline = deadline
        self.step_seconds = step_seconds
        self.watch = LossWatch(total_steps)
        self.on_stall = on_stall
        self._loop_seconds = 0.0
        report(on_progress, "train", self._step, total_steps, "loss -  lr -  - img/s",
               eta=self.eta(self._step, time.monotonic()))

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
        if done > 0 and seconds > 0:
            self._loop_seconds = seconds
            if self.measured_seconds:  # steady state: better than the probe
                self.step_seconds = self.measured_seconds * self.batch / self.measured_images
            elif self.step_seconds is None:  # the first loop, tracing included: an upper bound
                self.step_seconds = seconds / done
        mono = time.monotonic()
        report(self.on_progress, "train", step, self.total,
               f"loss {'-' if loss is None else f'{loss:.4f}'}  "
               f"lr {'-' if lr is None else f'{lr:.2e}'}  {self.images_per_sec:.1f} img/s",
               eta=self.eta(step, mono))
        sign = self.watch.add(step, self.last_logs.get("model_loss", loss))
        if sign and self.on_stall is not None:
            self.on_stall(sign, self.watch.rose)
        if self.stop.requested:
            raise Interrupted
        if self.deadline is not None and step < self.total and \
                mono + self._loop_seconds / 2 >= self.deadline:
            raise TimeUp

    def eta(self, step: int, now: float) -> float | None:
        """Seconds left: the steps left at the measured (or probed) pace, never past the
        budget's end."""
        left = None
        if self.step_seconds:
            left = max(0, self.total - step) * self.step_seconds
        if self.deadline is not None:
            left = min(left if left is not None else float("inf"), max(0.0, self.deadline - now))
        return left

    @property
    def mean_images_per_sec(self) -> float:
        """Steady-state images/s (first loop, which traces the graph, excluded)."""
        if self.measured_seconds:
            return self.measured_images / self.measured_seconds
        return self.images_per_sec
