"""Live detection on a camera or stream: a window with keys, or detections streamed.

`run_live(...)` is what ``lookout live`` calls: a job preset that runs in live mode
(drop the oldest frame, bounded latency) until ``q``, Ctrl+C or the source ends; the
window (see `realtime.sinks.window`) stays on the calling thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from realtime.detectors.base import Detector
from realtime.engine.job import Job, JobSource, run_job
from realtime.engine.stats import JobStats as PipelineStats
from realtime.settings import RunSettings
from realtime.sinks.window import Display, DisplayBoard, LiveWindow, check_display
from realtime.sources import redact_url


@dataclass
class LiveResult:
    """What a live run did: the pipeline's stats and the snapshots ``s`` saved."""

    stats: PipelineStats
    snapshots: list[Path] = field(default_factory=list)


def stats_line(stats: PipelineStats) -> str:
    """The compact status ``lookout live`` keeps refreshing: one line per source."""
    return "\n".join(source.line() for source in stats.sources)


def run_live(model: str | Path | Detector, source_spec: str | list[str],
             settings: RunSettings | None = None, *, window: bool = True,
             jsonl: str | None = None,
             progress: Callable[[PipelineStats], None] | None = None,
             display: Display | None = None) -> LiveResult:
    """Detect on one source or several (webcam index, URL, file) in live mode: one job,
    one model; with a window, one tile per source, each with its own FPS and latency.

    Call it from the main thread when ``window`` is True: the window is created, drawn,
    polled for keys and closed on the calling thread, while the job's stages run on
    their own. The display check and the sources' open come before the slow model load,
    so a headless machine or a missing camera fails at once with one line (with several
    sources, a camera that is down is retried while the others run).

    Args:
        settings: the run's settings (``settings.live``: snapshots; ``settings.track``:
            track ids and lines/zones counted per source; ``settings.counts``: where the
            counts summary goes at the end, with several sources ``NAME-1.json``,
            ``NAME-2.json``... one per source).
        jsonl: one file for every source's detections (each line names its source);
            without a window and without it, stdout.
        display: what shows the frames (default: an OpenCV window); tests may pass another.
    """
    from realtime.sinks.records import JsonlSink
    from realtime.sinks.shared import SharedSink
    from realtime.sinks.window import BoardSink

    specs = [source_spec] if isinstance(source_spec, str) else list(source_spec)
    settings = settings or RunSettings()
    tracking = settings.tracking
    if window and display is None:
        check_display()
    board = DisplayBoard() if window else None
    title = (f"lookout: {redact_url(str(specs[0]))}" if len(specs) == 1
             else f"lookout: {len(specs)} sources")
    view = LiveWindow(board, title, settings.live.snapshot_dir, display) if board else None
    # one JSONL stream for every source (each line names its source)
    shared = SharedSink(JsonlSink(jsonl or "-"), len(specs)) if jsonl or board is None else None

    def outputs(k: int):
        def build(source) -> list:
            sinks = [BoardSink(board)] if board else []
            if shared is not None:
                sinks.append(shared.handle())
            path = tracking.counts_path(None, tag=str(k + 1) if len(specs) > 1 else None)
            return tracking.step(sinks, source.fps, path)
        return build

    job = Job(model, [JobSource(spec, outputs=outputs(k)) for k, spec in enumerate(specs)],
              policy="live", pipeline_cfg=settings.pipeline,
              detector_cfg=tracking.detector_cfg(settings.detector))
    try:
        stats = run_job(job, progress, every_s=0.5, tick=view.tick if view else None)
        return LiveResult(stats, list(view.snapshots) if view is not None else [])
    finally:
        if shared is not None:
            shared.finish()
        if view is not None:
            view.close()


