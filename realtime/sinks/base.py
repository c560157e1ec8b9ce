"""The `Sink` interface: a context manager that receives `FrameResult`s in order."""

from __future__ import annotations

from abc import ABC, abstractmethod

from realtime.frames import FrameResult


class Sink(ABC):
    """Receives results in frame order from the pipeline's sink thread.

    ``close()`` must finalize outputs (a playable mp4, a complete JSONL) and is called
    on every kind of stop: end of input, Ctrl+C, or an error in another stage.
    """

    @abstractmethod
    def write(self, result: FrameResult) -> None:
        """Consume one result. Should return quickly; a slow sink applies backpressure."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Flush and finalize outputs."""

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
