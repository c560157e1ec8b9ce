"""What the user sees while a pipeline runs: a rich progress bar (annotate) or a compact,
refreshing stats line (live). Both print to stderr, so JSONL on stdout stays clean.
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

from realtime.pipeline import PipelineStats


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
