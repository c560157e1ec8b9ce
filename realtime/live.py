"""Live detection on a camera or stream: a window with keys, or detections streamed.

`run_live(...)` is what ``lookout live`` calls. It runs the pipeline in live mode
(drop the oldest frame, bounded latency) until ``q``, Ctrl+C or the source ends; the
window (see `realtime.sinks.window`) stays on the calling thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from realtime.config import DetectorConfig, LiveConfig, PipelineConfig
from realtime.detectors.base import Detector
from realtime.pipeline import PipelineStats, run_pipeline
from realtime.sinks.base import Sink
from realtime.sinks.window import Display, DisplayBoard, LiveWindow, check_display
from realtime.sources import open_source
from realtime.tracking.config import TrackConfig
from realtime.tracking.step import detector_score, with_tracking


@dataclass
class LiveResult:
    """What a live run did: the pipeline's stats and the snapshots ``s`` saved."""

    stats: PipelineStats
    snapshots: list[Path] = field(default_factory=list)


def stats_line(stats: PipelineStats) -> str:
    """The compact one-line status ``lookout live`` keeps refreshing."""
    parts = [f"{stats.source}", f"{stats.fps:5.1f} fps",
             f"latency {stats.latency() * 1000:4.0f} ms (p95 {stats.latency(0.95) * 1000:.0f})",
             f"frames {stats.frames_written}", f"dropped {stats.frames_dropped}"]
    if stats.reconnects:
        parts.append(f"reconnects {stats.reconnects}")
    if stats.decode_failures:
        parts.append(f"undecodable {stats.decode_failures}")
    return " | ".join(parts)


def build_sinks(jsonl: str | None, board: DisplayBoard | None) -> list[Sink]:
    """The window's board (when there is a window) and a JSONL stream. Without a window
    the detections go to ``jsonl`` or, when none is given, to stdout."""
    from realtime.sinks.records import JsonlSink
    from realtime.sinks.window import BoardSink

    sinks: list[Sink] = [BoardSink(board)] if board is not None else []
    if jsonl or board is None:
        sinks.append(JsonlSink(jsonl or "-"))
    return sinks


def run_live(model: str | Path | Detector, source_spec: str, *, window: bool = True,
             jsonl: str | None = None, detector_cfg: DetectorConfig | None = None,
             pipeline_cfg: PipelineConfig | None = None, live_cfg: LiveConfig | None = None,
             progress: Callable[[PipelineStats], None] | None = None,
             display: Display | None = None, track_cfg: TrackConfig | None = None,
             counts: str | Path | None = None) -> LiveResult:
    """Detect on ``source_spec`` (webcam index, URL, file) in live mode.

    Call it from the main thread when ``window`` is True: the window is created, drawn,
    polled for keys and closed on the calling thread, while the pipeline's stages run on
    their own. The display check and the source open come before the slow model load,
    so a headless machine or a missing camera fails at once with one line.

    Args:
        display: what shows the frames (default: an OpenCV window); tests may pass another.
        track_cfg: when enabled, detections get track ids (and lines/zones are counted).
        counts: where the counts summary goes at the end (when lines or zones are set).
    """
    live_cfg = live_cfg or LiveConfig()
    pipeline_cfg = pipeline_cfg or PipelineConfig()
    detector_cfg = detector_cfg or DetectorConfig()
    if window and display is None:
        check_display()
    source = open_source(source_spec, pipeline_cfg)
    try:
        detector = model if isinstance(model, Detector) else _load(model, dataclasses.replace(
            detector_cfg, score=detector_score(track_cfg, detector_cfg.score)))
    except BaseException:
        source.close()
        raise
    board = DisplayBoard() if window else None
    view = LiveWindow(board, f"lookout: {source.name}", live_cfg.snapshot_dir,
                      display) if board is not None else None
    try:
        sinks = with_tracking(build_sinks(jsonl, board), track_cfg, detector_cfg.score,
                              source.fps, counts)
        stats = run_pipeline(source, detector, sinks, pipeline_cfg,
                             mode="live", progress=progress, progress_every_s=0.5,
                             tick=view.tick if view is not None else None)
        return LiveResult(stats, list(view.snapshots) if view is not None else [])
    finally:
        if view is not None:
            view.close()
        if not isinstance(model, Detector):
            detector.close()


def _load(model: str | Path, cfg: DetectorConfig) -> Detector:
    from realtime.detectors import load_detector

    return load_detector(model, cfg)
