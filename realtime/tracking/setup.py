"""`Tracking`: how one run tracks and counts, set up once and asked per source.

Every verb that tracks (annotate, live, batch, watch) gets its tracking parts here and
nowhere else: the threshold the detector must run at (ByteTrack's second stage needs
boxes below the user's score), each source's tracker and counter, the track step in
front of a source's sinks, and where a source's counts summary goes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from realtime.config import DetectorConfig
from realtime.sinks.base import Sink
from realtime.tracking.config import TrackConfig
from realtime.tracking.counting import Counter
from realtime.tracking.step import TrackStep
from realtime.tracking.tracker import Tracker, build_tracker


@dataclass(frozen=True)
class Tracking:
    """Attributes:
        cfg: the ``[track]`` table (with the command line's flags applied).
        score: the user's detector threshold: boxes at or above it start tracks; those
            below only continue them.
        counts: where the counts summary goes (``--counts``); None = each verb's default.
    """

    cfg: TrackConfig = field(default_factory=TrackConfig)
    score: float = 0.5
    counts: str | Path | None = None

    @property
    def enabled(self) -> bool:
        return self.cfg.enabled

    @property
    def counting(self) -> bool:
        """Tracks are counted (tracking on, and lines or zones set)."""
        return self.cfg.enabled and bool(self.cfg.lines or self.cfg.zones)

    def detector_cfg(self, cfg: DetectorConfig) -> DetectorConfig:
        """``cfg`` at the threshold the detector must run at: with ByteTrack, down to
        ``low_score`` (boxes that continue no track are dropped again by the tracker)."""
        if not self.enabled or self.cfg.method != "bytetrack":
            return cfg
        return dataclasses.replace(cfg, score=min(cfg.score, self.cfg.low_score))

    def tracker(self, fps: float, *, high_score: float | None = None,
                max_missed_s: float | None = None, min_hits: int | None = None) -> Tracker:
        """A fresh tracker for one source (never shared between sources).

        Args:
            high_score: the threshold that starts tracks (default: the user's score).
            max_missed_s: forget a track unseen this long (default: ``max_missed`` frames).
            min_hits: sightings before an id (default: ``track.min_hits``).
        """
        cfg = self.cfg if min_hits is None else dataclasses.replace(self.cfg, min_hits=min_hits)
        return build_tracker(cfg, self.score if high_score is None else high_score, fps,
                             max_missed_s=max_missed_s)

    def counter(self) -> Counter:
        """A fresh line and zone counter for one source."""
        return Counter(self.cfg)

    def counts_path(self, default: str | Path | None, tag: str | None = None) -> Path | None:
        """Where one source's counts summary goes: ``--counts``, else ``default``; with
        ``tag`` (one of several sources) ``STEM-TAG.SUFFIX`` beside it, one file each."""
        path = self.counts if self.counts is not None else default
        if path is None:
            return None
        path = Path(path)
        return path if tag is None else path.with_name(f"{path.stem}-{tag}{path.suffix}")

    def step(self, sinks: list[Sink], fps: float,
             counts_path: str | Path | None = None) -> list[Sink]:
        """``sinks`` behind a `TrackStep` (its own tracker and counter) when tracking is
        on, else unchanged."""
        if not self.enabled:
            return sinks
        return [TrackStep(sinks, self.cfg, self.tracker(fps), self.counter(), counts_path)]
