"""Annotate a clip: every frame through the detector, boxes drawn, audio kept.

`annotate(...)` is what ``lookout annotate`` calls; it is usable from Python as is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError
from realtime.config import AnnotateConfig, DetectorConfig, PipelineConfig
from realtime.detectors.base import Detector
from realtime.pipeline import PipelineStats, run_pipeline
from realtime.sinks.base import Sink
from realtime.sources import Source, open_source
from realtime.tracking.config import TrackConfig
from realtime.tracking.step import detector_score, with_tracking


@dataclass
class AnnotateOutputs:
    """Where results go; only ``video`` is required. ``counts``: the counts summary
    (written when tracking is on and lines or zones are set)."""

    video: str | Path | None
    jsonl: str | Path | None = None
    coco: str | Path | None = None
    frames_dir: str | Path | None = None
    counts: str | Path | None = None


def default_counts_path(outputs: AnnotateOutputs) -> Path | None:
    """``OUT.counts.json`` beside the first file output (video, else JSONL, else COCO)."""
    for path in (outputs.video, outputs.jsonl, outputs.coco):
        if path is not None and str(path) != "-":
            return Path(path).with_suffix(".counts.json")
    return Path(outputs.frames_dir) / "counts.json" if outputs.frames_dir else None


def check_outputs(clip: str, outputs: AnnotateOutputs) -> None:
    """Refuse outputs that would overwrite the input or cannot be an mp4."""
    for path in (outputs.video, outputs.jsonl, outputs.coco, outputs.counts):
        if path is not None and str(path) != "-" and Path(path).exists() and Path(clip).exists() \
                and Path(path).resolve() == Path(clip).resolve():
            raise UserError(f"{path}: output would overwrite the input clip")
    if outputs.video is not None and Path(outputs.video).suffix.lower() != ".mp4":
        raise UserError(f"{outputs.video}: the annotated video must be an .mp4 file")
    if outputs.video is not None and Path(outputs.video).is_dir():
        raise UserError(f"{outputs.video}: is a folder; give a file name like out.mp4")


def build_sinks(source: Source, outputs: AnnotateOutputs, cfg: AnnotateConfig) -> list[Sink]:
    """The sinks ``outputs`` asks for. The video keeps ``source``'s audio (a file)."""
    from realtime.sinks.images import ImageFolderSink
    from realtime.sinks.records import CocoSink, JsonlSink
    from realtime.sinks.video import VideoSink

    sinks: list[Sink] = []
    try:
        if outputs.video is not None:
            audio = source.name if cfg.audio and not source.live and Path(source.name).is_file() \
                else None
            sinks.append(VideoSink(outputs.video, source.fps, audio_from=audio,
                                   stride=source.stride, fill_gaps=cfg.fill_gaps, crf=cfg.crf,
                                   preset=cfg.preset))
        if outputs.jsonl is not None:
            sinks.append(JsonlSink(outputs.jsonl))
        if outputs.coco is not None:
            sinks.append(CocoSink(outputs.coco))
        if outputs.frames_dir is not None:
            sinks.append(ImageFolderSink(outputs.frames_dir))
    except OSError as exc:
        for sink in sinks:
            sink.close()
        raise UserError(f"cannot create output: {exc}") from None
    return sinks


def annotate(model: str | Path | Detector, clip: str, outputs: AnnotateOutputs,
             detector_cfg: DetectorConfig | None = None,
             pipeline_cfg: PipelineConfig | None = None,
             annotate_cfg: AnnotateConfig | None = None,
             progress: Callable[[PipelineStats], None] | None = None,
             track_cfg: TrackConfig | None = None) -> PipelineStats:
    """Run ``model`` over ``clip`` (a video file, image folder or URL) into ``outputs``.

    The source is opened first (a bad path fails before the slow model load). The
    pipeline runs in lossless file mode: every decodable frame is written, in order.
    With ``track_cfg`` enabled, detections get track ids and lines/zones are counted.

    Returns:
        The run's stats (``stopped_by == "interrupt"`` after Ctrl+C; outputs finalized).
    """
    pipeline_cfg = pipeline_cfg or PipelineConfig()
    detector_cfg = detector_cfg or DetectorConfig()
    check_outputs(clip, outputs)
    source = open_source(clip, pipeline_cfg)
    try:
        detector = _load(model, dataclasses.replace(
            detector_cfg, score=detector_score(track_cfg, detector_cfg.score)))
    except BaseException:
        source.close()
        raise
    try:
        sinks = build_sinks(source, outputs, annotate_cfg or AnnotateConfig())
        sinks = with_tracking(sinks, track_cfg, detector_cfg.score,
                              source.fps,
                              outputs.counts or default_counts_path(outputs))
        stats = run_pipeline(source, detector, sinks, pipeline_cfg, mode="file",
                             progress=progress)
    finally:
        if not isinstance(model, Detector):
            detector.close()
    if stats.frames_written == 0 and stats.stopped_by == "end":
        raise UserError(f"{clip}: no frame could be decoded"
                        + (f" ({stats.failure_report})" if stats.failure_report else ""))
    return stats


def _load(model: str | Path | Detector, cfg: DetectorConfig) -> Detector:
    if isinstance(model, Detector):
        return model
    from realtime.detectors import load_detector

    return load_detector(model, cfg)
