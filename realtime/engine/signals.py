"""Ctrl+C and SIGTERM while the engine runs: a request to stop, not an exception.

Python turns SIGINT (and lookout's SIGTERM, see `lookout.cli`) into a KeyboardInterrupt
raised wherever the main thread happens to be. Inside the engine that is a hazard: on
Python 3.11/3.12 a ``Thread.join`` interrupted that way marks a thread that is still
running as stopped (CPython gh-90882), so the stopping path went on to close an mp4
writer while its sink thread was inside ``send`` ("generator already executing", once a
lost video). While `asking_to_stop` is active those signals only raise a flag the
engine's wait loop polls; every stage then stops at its own pace and closes what it
writes. Handlers other than Python's default (``watch`` sets its own) are left alone.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))


class StopRequest:
    """Set by a signal handler (only a flag: a handler must not take locks the
    interrupted main thread may hold), read by the engine's wait loop."""

    def __init__(self) -> None:
        self.asked = False

    def __call__(self, signum, frame) -> None:
        self.asked = True


@contextlib.contextmanager
def asking_to_stop() -> Iterator[StopRequest]:
    """While inside, SIGINT and SIGTERM whose handler is Python's default (raise
    KeyboardInterrupt) set the yielded request instead. Off the main thread nothing
    changes (signals are only delivered to the main thread anyway)."""
    request = StopRequest()
    taken: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in SIGNALS:
            if signal.getsignal(sig) is signal.default_int_handler:
                taken[sig] = signal.signal(sig, request)
    try:
        yield request
    finally:
        for sig, previous in taken.items():
            signal.signal(sig, previous)
