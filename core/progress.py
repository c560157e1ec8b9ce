"""How a long library call says how far it is, without drawing anything.

Libraries take ``on_progress: OnProgress | None`` and call `report`; only the command
line (`lookout.progress`) turns reports into rich bars. From Python, a call without
``on_progress`` prints nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` (None = unknown) for ``task`` (train, evaluate, export, ...);
    ``note`` is a short human line (loss, the current stage, a speed); ``eta`` the
    seconds left when the library knows better than a rate (a time budget, a probe)."""

    task: str
    done: float
    total: float | None = None
    note: str = ""
    eta: float | None = None


OnProgress = Callable[[Progress], None]


def report(on_progress: OnProgress | None, task: str, done: float,
           total: float | None = None, note: str = "", eta: float | None = None) -> None:
    if on_progress is not None:
        on_progress(Progress(task, done, total, note, eta))


def counter(on_progress: OnProgress | None, task: str,
            total: float | None = None) -> Callable[[], None]:
    """An ``advance()`` that reports one more item done of ``total`` for ``task``."""
    done = 0

    def advance() -> None:
        nonlocal done
        done += 1
        report(on_progress, task, done, total)

    return advance
