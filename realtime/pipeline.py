"""One source through the engine: the single-source shape of a job.

`run_pipeline(source, detector, sinks, cfg, mode=..., gate=..., progress=...)` runs one
already opened source through `realtime.engine` (reader → batcher → detector workers →
sinks) and closes the source and sinks at the end. Two flow policies:

- ``mode="file"``: lossless and ordered; every decoded frame reaches every sink, in order.
- ``mode="live"``: drop the oldest frame, bounded latency.

Many sources, lazily opened sources, model loading: `realtime.engine.job.run_job`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from realtime.batching import Gate
from realtime.config import PipelineConfig
from realtime.detectors.base import Detector
from realtime.engine.stats import JobStats
from realtime.engine.streams import Engine, PipelineError, Stream
from realtime.sinks.base import Sink
from realtime.sources import Source

MODES = ("file", "live")
PipelineStats = JobStats  # what a run did (totals; ``.sources`` per source)

__all__ = ["MODES", "Pipeline", "PipelineError", "PipelineStats", "run_pipeline"]


def run_pipeline(source: Source, detector: Detector, sinks: Sequence[Sink],
                 cfg: PipelineConfig | None = None, mode: str = "file", gate: Gate | None = None,
                 progress: Callable[[JobStats], None] | None = None,
                 progress_every_s: float = 0.25,
                 tick: Callable[[], None] | None = None) -> JobStats:
    """Run ``source`` through ``detector`` into ``sinks`` until the source ends, a sink
    raises `StopPipeline`, Ctrl+C, or an error.

    Args:
        gate: optional ``gate(frame) -> bool`` called in frame order; frames it rejects
            skip the detector and reach the sinks as ``FrameResult(..., detected=False)``.
        progress: called on the calling thread every ``progress_every_s`` with the stats.
        tick: called on the calling thread over and over while the stages run, for work
            that must stay on that thread (the live window); it returns within a few ms,
            and raising `StopPipeline` ends the run like a sink's.

    Returns:
        The stats. Sinks and the source are closed (outputs finalized) in every case.

    Raises:
        UserError: from a stage, unchanged (e.g. a stream that never came back).
        PipelineError: any other failure, naming the stage.
    """
    pipeline = Pipeline(source, detector, sinks, cfg or PipelineConfig(), mode, gate)
    return pipeline.run(progress, progress_every_s, tick)


class Pipeline(Engine):
    """An engine with one source (its failure stops the run)."""

    def __init__(self, source: Source, detector: Detector, sinks: Sequence[Sink],
                 cfg: PipelineConfig, mode: str, gate: Gate | None) -> None:
        sinks = list(sinks)
        super().__init__([Stream(source=source, sinks=lambda _source: sinks, gate=gate)],
                         detector, cfg, mode=mode, isolate=False)
