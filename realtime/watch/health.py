"""The health line: every ``health_every_s`` one log line a person (or a log scraper)
can read weeks later: fps, detector calls, share of frames with motion, events,
deliveries pending, reconnects and resident memory (to see it does not creep)."""

from __future__ import annotations

import logging
import resource
import threading
import time
from collections.abc import Callable

log = logging.getLogger("lookout.watch")


def rss_mb() -> float:
    """Current resident memory in MiB (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class HealthReporter:
    """Logs `line()` every ``every_s`` seconds from its own thread (so a stalled
    source still reports). ``snapshot`` returns the running counters as a dict with
    frames, detector_runs, motion_frames, events, pending, reconnects."""

    def __init__(self, snapshot: Callable[[], dict], every_s: float = 60.0) -> None:
        self.snapshot, self.every_s = snapshot, every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last = (time.monotonic(), snapshot())

    def line(self) -> str:
        now, cur = time.monotonic(), self.snapshot()
        then, prev = self._last
        self._last = (now, cur)
        dt = max(now - then, 1e-6)
        frames = cur["frames"] - prev["frames"]
        runs = cur["detector_runs"] - prev["detector_runs"]
        motion = cur["motion_frames"] - prev["motion_frames"]
        share = f"{100 * motion / frames:.0f}%" if frames else "-"
        return (f"health: {frames / dt:.1f} fps, detector {runs} calls ({runs / dt:.2f}/s), "
                f"motion {share} of frames, events {cur['events']} ({cur['open']} open), "
                f"deliveries pending {cur['pending']}, reconnects {cur['reconnects']}, "
                f"rss {rss_mb():.0f} MiB")

    def start(self) -> HealthReporter:
        self._thread = threading.Thread(target=self._loop, name="watch-health", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            log.info(self.line())

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
