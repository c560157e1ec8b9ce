"""What the user sees while a long call runs; the only place progress is drawn.

`Bars` draws the `core.progress.Progress` reports of library calls (dataset check and
build, download, train, evaluate, export) as one rich bar per task. For a pipeline:
a progress bar (annotate) or a compact, refreshing stats line (live). They print to
stderr unless given a console, so JSONL on stdout stays clean.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Self

from rich.console import Console
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from core.progress import Progress as Report
from realtime.engine.stats import JobStats as PipelineStats


class EtaColumn(TimeRemainingColumn):
    """The library's own estimate (``Progress.eta``: a time budget, a probe) when it gives
    one, from its first report on; else rich's, from the rate of the last reports."""

    def render(self, task) -> Text:
        eta = task.fields.get("eta")
        if eta is None or task.finished:
            return super().render(task)
        minutes, seconds = divmod(round(eta), 60)
        hours, minutes = divmod(minutes, 60)
        return Text(f"{hours}:{minutes:02d}:{seconds:02d}", style="progress.remaining")


class Bars:
    """Draws library progress reports: one bar per task (train, export, ...); a context
    manager, and the ``on_progress`` callable itself.

    Without a terminal (a log file, a pipe) nothing redraws; with ``every_s`` set, a plain
    line per task is printed on its first report and at least every ``every_s`` seconds
    after, with its ETA, so the log of a background run shows how far it is (`lookout
    train`: every minute).
    """

    def __init__(self, console: Console | None = None, transient: bool = False,
                 every_s: float | None = None) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}[/]"), BarColumn(), MofNCompleteColumn(),
            TextColumn("[dim]{task.fields[note]}"), EtaColumn(),
            console=console or Console(stderr=True), transient=transient,
        )
        self.tasks: dict[str, int] = {}
        self.every_s = every_s
        # task → (latest report, when it came, when a line was last printed)
        self._latest: dict[str, tuple[Report, float, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    @property
    def plain(self) -> bool:
        return self.every_s is not None and not self.progress.console.is_terminal

    def __call__(self, report: Report) -> None:
        if report.task not in self.tasks:
            self.tasks[report.task] = self.progress.add_task(report.task, total=report.total,
                                                             note="", eta=None)
        self.progress.update(self.tasks[report.task], completed=report.done,
                             total=report.total, note=report.note, eta=report.eta)
        if self.plain:
            with self._lock:
                first = report.task not in self._latest
                printed = 0.0 if first else self._latest[report.task][2]
                self._latest[report.task] = (report, time.monotonic(), printed)
            finished = report.total is not None and report.done >= report.total
            if first or finished:
                self._print(report.task, finished)

    def _print(self, task: str, finished: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if task not in self._latest:
                return
            report, came, _ = self._latest.pop(task) if finished else self._latest[task]
            if not finished:
                self._latest[task] = (report, came, now)
        if report.eta is not None:  # counted down since the report came
            report = dataclasses.replace(report, eta=max(0.0, report.eta - (now - came)))
        self.progress.console.print(plain_line(report), soft_wrap=True, highlight=False,
                                    markup=False)

    def _tick(self) -> None:
        while not self._stop.wait(min(self.every_s / 4, 5.0)):
            now = time.monotonic()
            with self._lock:
                due = [t for t, (_, _came, printed) in self._latest.items()
                       if now - printed >= self.every_s]
            for task in due:
                self._print(task)

    def __enter__(self) -> Self:
        self.progress.start()
        if self.plain:
            self._ticker = threading.Thread(target=self._tick, name="progress-lines",
                                            daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(5)
        self.progress.stop()


def plain_line(report: Report) -> str:
    """``train 120/1650 (7%)  loss 0.93 ...  ETA 0:23:10`` for logs."""
    done = f"{report.done:g}" + (f"/{report.total:g} ({report.done / report.total:.0%})"
                                 if report.total else "")
    eta = ""
    if report.eta is not None:
        minutes, seconds = divmod(round(report.eta), 60)
        eta = f"  ETA {minutes // 60}:{minutes % 60:02d}:{seconds:02d}"
    return f"{report.task} {done}  {report.note}{eta}".rstrip()


class AnnotateProgress:
    """Frames done of the clip's frame count, fps and ETA; a context manager."""

    def __init__(self, console: Console, label: str) -> None:
        self.progress = Progress(
            TextColumn("[bold]annotate[/]"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[fps]:>5.1f} fps"), TextColumn("[dim]{task.fields[note]}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=console, transient=False,
        )
        self.task = self.progress.add_task(label, total=None, fps=0.0, note="")

    def update(self, stats: PipelineStats) -> None:
        note = f"{stats.decode_failures} undecodable" if stats.decode_failures else ""
        self.progress.update(self.task, completed=stats.frames_written,
                             total=stats.expected_frames, fps=stats.fps, note=note)

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


class LiveStatus:
    """One line, refreshed in place: fps, latency, frames, drops, reconnects."""

    def __init__(self, console: Console) -> None:
        self.live = Live(Text("starting…"), console=console, refresh_per_second=4,
                         transient=True)

    def update(self, stats: PipelineStats) -> None:
        from realtime.live import stats_line

        self.live.update(Text(stats_line(stats)))

    def __enter__(self) -> Self:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()
