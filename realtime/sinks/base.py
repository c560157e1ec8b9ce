"""The `Sink` interface: a context manager that receives `FrameResult`s in order."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self

from realtime.frames import FrameResult


class StopPipeline(Exception):
    """Raised by a sink's ``write`` to end the run normally (e.g. the window's ``q`` key)."""


class Sink(ABC):
    """Receives results in frame order from the pipeline's sink thread.

    ``close()`` must finalize outputs (a playable mp4, a complete JSONL) and is called
    on every kind of stop: end of input, Ctrl+C, or an error in another stage.
    """

    @abstractmethod
    def write(self, result: FrameResult) -> None:
        """Consume one result. Should return quickly; a slow sink applies backpressure."""

    def close(self) -> None:
        """Flush and finalize outputs."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
