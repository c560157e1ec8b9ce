"""What a run did: counters per source, and their totals for the whole job.

`JobStats` answers the same questions the one-source pipeline's stats did (frames
written, fps, latency quantiles, drops, ...) summed over its sources, so a one-source
job reads like before; ``stats.sources`` has each source's own figures.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field


def _quantile(values, q: float) -> float:
    values = sorted(values)
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(q * len(values)))]


def _rate(frames: int, elapsed: float, started: float) -> float:
    """Per second of ``elapsed`` once the run ended, of the time since ``started`` until then."""
    seconds = elapsed or (time.monotonic() - started)
    return frames / seconds if seconds > 0 else 0.0


@dataclass
class SourceStats:
    """One source's counters; each is written by one stage, read by anyone.

    ``state``: ``waiting`` (not opened yet), ``running``, ``down`` (a live source
    reconnecting), ``ended`` or ``failed`` (see ``error``).
    """

    name: str = ""
    live: bool = False
    state: str = "waiting"
    error: str = ""
    frames_read: int = 0
    frames_detected: int = 0
    frames_gated: int = 0
    frames_written: int = 0
    frames_dropped: int = 0
    decode_failures: int = 0
    failure_report: str = ""
    reconnects: int = 0
    expected_frames: int | None = None
    started: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0
    latencies: deque = field(default_factory=lambda: deque(maxlen=2000))

    @property
    def fps(self) -> float:
        """Frames written per second of wall time so far."""
        return _rate(self.frames_written, self.elapsed, self.started)

    def latency(self, q: float = 0.5) -> float:
        """A quantile of capture→result latency in seconds over the recent results."""
        return _quantile(self.latencies, q)

    def line(self) -> str:
        """One line for status displays: name, fps, latency, drops, reconnects."""
        parts = [self.name, f"{self.fps:5.1f} fps",
                 f"latency {self.latency() * 1000:4.0f} ms (p95 {self.latency(0.95) * 1000:.0f})",
                 f"frames {self.frames_written}", f"dropped {self.frames_dropped}"]
        if self.reconnects:
            parts.append(f"reconnects {self.reconnects}")
        if self.decode_failures:
            parts.append(f"undecodable {self.decode_failures}")
        if self.state in ("down", "failed"):
            parts.append(self.state + (f": {self.error}" if self.error else ""))
        return " | ".join(parts)


@dataclass
class JobStats:
    """The whole run: per-source stats plus what the shared stages did."""

    sources: list[SourceStats] = field(default_factory=list)
    detector: str = ""  # `Detector.describe()`
    mode: str = "file"
    batches: int = 0
    max_queue: int = 0  # the fullest any queue got (live mode: stays at its bound)
    started: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0
    stopped_by: str = ""  # "end" | "interrupt" | "sink" (e.g. 'q') | "error" | "sigterm"

    # totals over the sources (a one-source job reads like the old pipeline stats)
    def _sum(self, name: str) -> int:
        return sum(getattr(s, name) for s in self.sources)

    @property
    def source(self) -> str:
        return ", ".join(s.name for s in self.sources)

    frames_read = property(lambda self: self._sum("frames_read"))
    frames_detected = property(lambda self: self._sum("frames_detected"))
    frames_gated = property(lambda self: self._sum("frames_gated"))
    frames_written = property(lambda self: self._sum("frames_written"))
    frames_dropped = property(lambda self: self._sum("frames_dropped"))
    decode_failures = property(lambda self: self._sum("decode_failures"))
    reconnects = property(lambda self: self._sum("reconnects"))

    @property
    def expected_frames(self) -> int | None:
        counts = [s.expected_frames for s in self.sources]
        return None if not counts or None in counts else sum(counts)

    @property
    def failure_report(self) -> str:
        return "; ".join(s.failure_report for s in self.sources if s.failure_report)

    @property
    def errors(self) -> list[str]:
        """``name: error`` of each source that failed on its own (the others ran on)."""
        return [f"{s.error}" for s in self.sources if s.state == "failed" and s.error]

    @property
    def latencies(self) -> list[float]:
        return [v for s in self.sources for v in s.latencies]

    @property
    def fps(self) -> float:
        """Aggregate frames written per second of wall time so far."""
        return _rate(self.frames_written, self.elapsed, self.started)

    def latency(self, q: float = 0.5) -> float:
        return _quantile(self.latencies, q)

    def summary(self) -> str:
        parts = [f"{self.frames_written} frames in {self.elapsed:.1f} s ({self.fps:.1f} fps)",
                 f"latency median {self.latency() * 1000:.0f} ms"]
        if len(self.sources) > 1:
            parts.insert(0, f"{len(self.sources)} sources")
        if self.frames_gated:
            parts.append(f"{self.frames_gated} gated")
        if self.frames_dropped:
            parts.append(f"{self.frames_dropped} dropped")
        if self.reconnects:
            parts.append(f"{self.reconnects} reconnects")
        if self.decode_failures:
            parts.append(f"{self.decode_failures} undecodable")
        failed = sum(s.state == "failed" for s in self.sources)
        if failed:
            parts.append(f"{failed} failed")
        return ", ".join(parts)
