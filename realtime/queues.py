"""The bounded queue between two pipeline stages, with its two flow policies.

- lossless (files): ``put`` waits while the queue is full (backpressure), checking the
  stop event so a stopped pipeline never hangs on a full queue;
- drop-oldest (live): ``put`` never waits; when full, the oldest item is thrown away and
  counted, so the queue never grows and what reaches the detector is the freshest.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

END = object()  # end-of-stream marker, passed down from stage to stage
POLL_S = 0.1  # how often a waiting stage looks at the stop event


class StageQueue:
    """A `queue.Queue` with a size bound, a flow policy and a drop counter.

    Args:
        maxsize: the bound (at least 1).
        drop_oldest: live policy (True) or lossless backpressure (False).
        weight: counts the frames an item carries, for ``dropped`` (default 1 each).
    """

    def __init__(self, maxsize: int, drop_oldest: bool, weight=None) -> None:
        self._q: queue.Queue = queue.Queue(maxsize)
        self.maxsize = maxsize
        self.drop_oldest = drop_oldest
        self.dropped = 0
        self.high_water = 0
        self._weight = weight or (lambda item: 1)
        self._lock = threading.Lock()

    def put(self, item: Any, stop: threading.Event) -> bool:
        """Enqueue ``item``; False when the pipeline stopped before it fit."""
        if self.drop_oldest:
            with self._lock:  # one producer, but keep drop+put atomic w.r.t. other putters
                while True:
                    try:
                        self._q.put_nowait(item)
                        break
                    except queue.Full:
                        try:
                            old = self._q.get_nowait()
                        except queue.Empty:
                            continue
                        self.dropped += self._weight(old)
                self.high_water = max(self.high_water, self._q.qsize())
            return True
        while not stop.is_set():
            try:
                self._q.put(item, timeout=POLL_S)
                self.high_water = max(self.high_water, self._q.qsize())
                return True
            except queue.Full:
                continue
        return False

    def put_end(self, stop: threading.Event) -> bool:
        """Enqueue the end marker behind everything queued (waits for room, never drops)."""
        while not stop.is_set():
            try:
                self._q.put(END, timeout=POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def get(self, timeout: float = POLL_S) -> Any:
        """The next item; raises `queue.Empty` after ``timeout`` seconds."""
        return self._q.get(timeout=max(0.0, timeout))

    def get_nowait(self) -> Any:
        return self._q.get_nowait()

    def qsize(self) -> int:
        return self._q.qsize()
