"""`CallbackSink`: hand every result to a Python function (InferencePipeline's
``on_prediction``): ``CallbackSink(lambda result: print(result.detections))``."""

from __future__ import annotations

from collections.abc import Callable

from realtime.frames import FrameResult
from realtime.sinks.base import Sink


class CallbackSink(Sink):
    """Calls ``fn(result)`` for each result of its source, in frame order, on that
    source's sink thread. Raising `StopPipeline` in ``fn`` ends the whole job."""

    def __init__(self, fn: Callable[[FrameResult], object],
                 on_close: Callable[[], object] | None = None) -> None:
        self.fn, self.on_close = fn, on_close

    def write(self, result: FrameResult) -> None:
        self.fn(result)

    def close(self) -> None:
        if self.on_close is not None:
            self.on_close()
