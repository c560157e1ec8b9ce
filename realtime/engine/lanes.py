"""Per-source queues between stages, and the round robin that reads them fairly.

A `Lane` is one source's bounded FIFO with one of the two flow policies:

- lossless (files): ``put`` waits while the lane is full (backpressure);
- drop-oldest (live): ``put`` never waits; a full lane throws its oldest item away.

The end of a source is a flag on its lane, not an item in it, so a drop-oldest lane can
never drop it. Lanes may share one `threading.Condition`: the batcher waits on it for
"any source has a frame", the readers for "my lane has room".
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

POLL_S = 0.1  # how often a waiting stage looks at the stop event


class Lane:
    """One source's bounded FIFO.

    Args:
        bound: most items held (at least 1).
        drop_oldest: live policy (True) or lossless backpressure (False).
        cond: the condition guarding it (shared by the lanes one stage reads).
    """

    def __init__(self, bound: int, drop_oldest: bool, cond: threading.Condition | None = None):
        self.bound = max(1, bound)
        self.drop_oldest = drop_oldest
        self.cond = cond or threading.Condition()
        self.items: deque[Any] = deque()
        self.ended = False
        self.total: int | None = None  # items ever put, known once ended (for the reader)
        self.dropped = 0
        self.high_water = 0

    def put(self, item: Any, stop: threading.Event) -> bool:
        """Append ``item``; False when ``stop`` was set before it fit (lossless only)."""
        with self.cond:
            if self.drop_oldest:
                while len(self.items) >= self.bound:
                    self.items.popleft()
                    self.dropped += 1
            else:
                while len(self.items) >= self.bound:
                    if stop.is_set():
                        return False
                    self.cond.wait(POLL_S)
            self.items.append(item)
            self.high_water = max(self.high_water, len(self.items))
            self.cond.notify_all()
        return True

    def end(self, total: int | None = None) -> None:
        """No more items after those queued; ``total`` = how many were ever put."""
        with self.cond:
            self.ended, self.total = True, total
            self.cond.notify_all()

    def pop(self) -> Any:
        """The oldest item (caller holds ``cond`` and checked the lane is not empty)."""
        item = self.items.popleft()
        self.cond.notify_all()  # a lossless reader may be waiting for room
        return item

    @property
    def finished(self) -> bool:
        """Ended and emptied."""
        return self.ended and not self.items

    def __len__(self) -> int:
        return len(self.items)


class RoundRobin:
    """Fair order over ``n`` lanes: each pass starts just after the lane served last, so
    a source that always has frames waiting cannot starve one that rarely does."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.cursor = 0

    def order(self) -> list[int]:
        return [(self.cursor + k) % self.n for k in range(self.n)]

    def served(self, index: int) -> None:
        self.cursor = (index + 1) % self.n


def take_fair(lanes: list[Lane], rr: RoundRobin, want: int) -> list[tuple[int, Any]]:
    """Up to ``want`` items, one per non-empty lane per pass, in round-robin order.

    Caller holds the lanes' shared condition. Returns ``(lane index, item)`` pairs; items
    of one lane keep their order.
    """
    taken: list[tuple[int, Any]] = []
    while len(taken) < want:
        progressed = False
        for i in rr.order():
            if len(taken) >= want:
                break
            if lanes[i].items:
                taken.append((i, lanes[i].pop()))
                rr.served(i)
                progressed = True
        if not progressed:
            break
    return taken
