"""`RunSettings`: how a model run is set up, one object for every verb that runs a model.

``lookout predict``, ``annotate``, ``live``, ``watch`` and ``batch`` each get one, built
once from the flags and config.toml (`lookout.commands._flags.run_settings`), so a flag
or a default added there reaches all of them. The field names are the config tables'
own, so lookout's root `Config` reads the same way (its defaults are the same too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from realtime.config import AnnotateConfig, DetectorConfig, LiveConfig, PipelineConfig
from realtime.review.config import ReviewConfig
from realtime.serve.config import ServeConfig
from realtime.tracking.config import TrackConfig
from realtime.tracking.setup import Tracking
from realtime.watch.config import WatchConfig


@dataclass(frozen=True)
class RunSettings:
    """Attributes:
        detector: which model file runs and how (``[detector]``): score, classes, device.
        pipeline: batching, stride, resizing, queues (``[pipeline]``).
        track: tracking and counting (``[track]``, lines and zones included).
        annotate: how annotated videos are written (``[annotate]``: crf, preset, audio).
        live: the live window (``[live]``).
        watch: doorbell mode's rules, events folder and notifiers (``[watch]``).
        serve: the events page (``[serve]``; alerts link to ``public_url``).
        counts: where the counts summary goes (``--counts``; None = each verb's default).
        review: the review folder (``[review]``: watch --serve's review editor saves there).
    """

    detector: DetectorConfig = field(default_factory=DetectorConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    track: TrackConfig = field(default_factory=TrackConfig)
    annotate: AnnotateConfig = field(default_factory=AnnotateConfig)
    live: LiveConfig = field(default_factory=LiveConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    counts: str | Path | None = None
    review: ReviewConfig = field(default_factory=ReviewConfig)

    @classmethod
    def of(cls, config, counts: str | Path | None = None) -> RunSettings:
        """The settings a config with these tables gives (lookout's root `Config`),
        flags left out."""
        return cls(config.detector, config.pipeline, config.track, config.annotate,
                   config.live, config.watch, config.serve, counts,
                   getattr(config, "review", ReviewConfig()))

    @property
    def tracking(self) -> Tracking:
        """The run's one tracking builder (score lowering, trackers, counters, counts)."""
        return Tracking(self.track, self.detector.score, self.counts)
