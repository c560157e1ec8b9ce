"""The health line: every ``health_every_s`` log lines a person (or a log scraper) can
read weeks later: per camera its fps, detector calls, share of frames with motion and
reconnects; for the run its events, deliveries pending and resident memory (to see it
does not creep)."""

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
    """Logs `lines()` every ``every_s`` seconds from its own thread (so a stalled
    source still reports).

    ``snapshot`` returns the running counters: events, open, pending, and either one
    camera's frames, detector_runs, motion_frames, reconnects at the top level, or a
    ``cameras`` dict ``{name: those four (+ gate_frames, state)}``.
    """

    def __init__(self, snapshot: Callable[[], dict], every_s: float = 60.0) -> None:
        self.snapshot, self.every_s = snapshot, every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last = (time.monotonic(), snapshot())

    def lines(self) -> list[str]:
        now, cur = time.monotonic(), self.snapshot()
        then, prev = self._last
        self._last = (now, cur)
        dt = max(now - then, 1e-6)
        if "cameras" not in cur:
            return [f"health: {_camera(cur, prev, dt)}, {_run(cur)}"]
        out = [f"health: {len(cur['cameras'])} cameras, {_run(cur)}"]
        for name, counters in cur["cameras"].items():
            out.append(f"health [{name}]: {_camera(counters, prev['cameras'].get(name, {}), dt)}")
        return out

    def line(self) -> str:
        return "\n".join(self.lines())

    def start(self) -> HealthReporter:
        self._thread = threading.Thread(target=self._loop, name="watch-health", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            for line in self.lines():
                log.info(line)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)


def _camera(cur: dict, prev: dict, dt: float) -> str:
    def delta(key: str) -> int:
        return cur.get(key, 0) - prev.get(key, 0)

    frames, runs, motion = delta("frames"), delta("detector_runs"), delta("motion_frames")
    gated = delta("gate_frames") if "gate_frames" in cur else frames  # frames the gate saw
    share = f"{100 * motion / gated:.0f}%" if gated else "-"
    state = f", {cur['state']}" if cur.get("state") in ("ended", "failed", "opening") else ""
    return (f"{frames / dt:.1f} fps, detector {runs} calls ({runs / dt:.2f}/s), "
            f"motion {share} of frames, reconnects {cur.get('reconnects', 0)}{state}")


def _run(cur: dict) -> str:
    model = f", model {cur['model']}" if cur.get("model") else ""
    return (f"events {cur['events']} ({cur['open']} open), deliveries pending "
            f"{cur['pending']}, rss {rss_mb():.0f} MiB{model}")
