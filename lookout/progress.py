"""What the user sees while a long call runs; the only place progress is drawn.

`Bars` draws the `core.progress.Progress` reports of library calls (dataset check and
build, download, train, evaluate, export) as one rich bar per task. For a pipeline:
a progress bar (annotate) or a compact, refreshing stats line (live). They print to
stderr unless given a console, so JSONL on stdout stays clean.
"""

from __future__ import annotations

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


class Bars:
    """Draws library progress reports: one bar per task (train, export, ...); a context
    manager, and the ``on_progress`` callable itself."""

    def __init__(self, console: Console | None = None, transient: bool = False) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}[/]"), BarColumn(), MofNCompleteColumn(),
            TextColumn("[dim]{task.fields[note]}"), TimeRemainingColumn(),
            console=console or Console(stderr=True), transient=transient,
        )
        self.tasks: dict[str, int] = {}

    def __call__(self, report: Report) -> None:
        if report.task not in self.tasks:
            self.tasks[report.task] = self.progress.add_task(report.task, total=report.total,
                                                             note="")
        self.progress.update(self.tasks[report.task], completed=report.done,
                             total=report.total, note=report.note)

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


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
