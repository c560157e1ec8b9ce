"""One sink written by several sources (one JSONL stream for every camera of ``lookout
live``): each source gets its own handle, writes go one at a time, and the sink is closed
when the last handle is (so a source that ends early does not cut the others off)."""

from __future__ import annotations

import threading

from realtime.frames import FrameResult
from realtime.sinks.base import Sink


class SharedSink:
    """Hands out ``users`` handles to ``sink``."""

    def __init__(self, sink: Sink, users: int) -> None:
        self.sink, self.open = sink, users
        self.lock = threading.Lock()

    def handle(self) -> Sink:
        return _Handle(self)

    def finish(self) -> None:
        """Close the sink now if handles never came back (sources that never opened)."""
        with self.lock:
            pending, self.open = self.open, 0
        if pending > 0:
            self.sink.close()


class _Handle(Sink):
    def __init__(self, shared: SharedSink) -> None:
        self.shared, self.closed = shared, False

    def write(self, result: FrameResult) -> None:
        with self.shared.lock:
            self.shared.sink.write(result)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with self.shared.lock:
            if self.shared.open <= 0:
                return  # already finished
            self.shared.open -= 1
            last = self.shared.open == 0
        if last:
            self.shared.sink.close()
