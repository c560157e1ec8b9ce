"""Live detection on a camera or stream: a window with keys, or detections streamed.

`run_live(...)` is what ``lookout live`` calls. It runs the pipeline in live mode
(drop the oldest frame, bounded latency) until ``q``, Ctrl+C or the source ends.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lookout.config import DetectorConfig, LiveConfig, PipelineConfig
from realtime.detectors.base import Detector
from realtime.pipeline import PipelineStats, run_pipeline
from realtime.sinks.base import Sink
from realtime.sources import open_source


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


def build_sinks(window: bool, jsonl: str | None, live_cfg: LiveConfig, title: str) -> list[Sink]:
    """The window (unless ``window`` is False) and a JSONL stream. Without a window the
    detections go to ``jsonl`` or, when none is given, to stdout."""
    from realtime.sinks.records import JsonlSink

    sinks: list[Sink] = []
    if window:
        from realtime.sinks.window import WindowSink

        sinks.append(WindowSink(title, live_cfg.snapshot_dir))
    if jsonl or not window:
        sinks.append(JsonlSink(jsonl or "-"))
    return sinks


def run_live(model: str | Path | Detector, source_spec: str, *, window: bool = True,
             jsonl: str | None = None, detector_cfg: DetectorConfig | None = None,
             pipeline_cfg: PipelineConfig | None = None, live_cfg: LiveConfig | None = None,
             progress: Callable[[PipelineStats], None] | None = None) -> PipelineStats:
    """Detect on ``source_spec`` (webcam index, URL, file) in live mode.

    The display check and the source open come before the slow model load, so a
    headless machine or a missing camera fails at once with one line.
    """
    live_cfg = live_cfg or LiveConfig()
    pipeline_cfg = pipeline_cfg or PipelineConfig()
    if window:
        from realtime.sinks.window import check_display

        check_display()
    source = open_source(source_spec, pipeline_cfg)
    try:
        detector = model if isinstance(model, Detector) else _load(model, detector_cfg)
    except BaseException:
        source.close()
        raise
    try:
        sinks = build_sinks(window, jsonl, live_cfg, f"lookout: {source.name}")
        return run_pipeline(source, detector, sinks, pipeline_cfg, mode="live",
                            progress=progress, progress_every_s=0.5)
    finally:
        if not isinstance(model, Detector):
            detector.close()


def _load(model: str | Path, cfg: DetectorConfig | None) -> Detector:
    from realtime.detectors import load_detector

    return load_detector(model, cfg or DetectorConfig())
