"""Annotate a clip: every frame through the detector, boxes drawn, audio kept.

`annotate(...)` (one clip) and `annotate_many(...)` (many clips, one model, one process)
are what ``lookout annotate`` calls; both are job presets, usable from Python as is.
"""

from __future__ import annotations

import dataclasses
import glob
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError
from realtime.config import AnnotateConfig, DetectorConfig, PipelineConfig
from realtime.detectors.base import Detector
from realtime.engine.job import Job, JobSource, run_job
from realtime.engine.stats import JobStats
from realtime.sinks.base import Sink
from realtime.sources import Source
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
             progress: Callable[[JobStats], None] | None = None,
             track_cfg: TrackConfig | None = None) -> JobStats:
    """Run ``model`` over ``clip`` (a video file, image folder or URL) into ``outputs``.

    A one-source job in lossless file mode: every decodable frame is written, in order.
    The source is opened before the slow model load (a bad path fails first). With
    ``track_cfg`` enabled, detections get track ids and lines/zones are counted.

    Returns:
        The run's stats (``stopped_by == "interrupt"`` after Ctrl+C; outputs finalized).
    """
    check_outputs(clip, outputs)
    annotate_cfg = annotate_cfg or AnnotateConfig()
    detector_cfg = detector_cfg or DetectorConfig()
    job = Job(model, [JobSource(clip, outputs=_outputs(outputs, annotate_cfg, track_cfg,
                                                       detector_cfg.score))],
              policy="file", detector_cfg=_tracking_score(detector_cfg, track_cfg),
              pipeline_cfg=pipeline_cfg or PipelineConfig())
    stats = run_job(job, progress)
    if stats.frames_written == 0 and stats.stopped_by == "end":
        raise UserError(f"{clip}: no frame could be decoded"
                        + (f" ({stats.failure_report})" if stats.failure_report else ""))
    return stats


def expand_clips(inputs: list[str]) -> list[str]:
    """Files and globs (``'clips/*.mov'``, quoted so the shell leaves it) as clip paths,
    in the order given (a glob's matches sorted).

    Raises:
        UserError: an input that names no file.
    """
    clips: list[str] = []
    for item in inputs:
        if any(ch in item for ch in "*?[") and not Path(item).exists():
            found = sorted(p for p in glob.glob(item) if Path(p).is_file())
            if not found:
                raise UserError(f"{item}: no file matches this pattern")
            clips += found
        elif "://" in item or Path(item).exists():
            clips.append(item)
        else:
            raise UserError(f"{item}: no such video file")
    return clips


def outputs_in(out_dir: str | Path, clips: list[str], jsonl: bool = True) -> list[AnnotateOutputs]:
    """``DIR/<stem>.mp4`` (and ``DIR/<stem>.jsonl``) per clip; two clips with one stem
    would overwrite each other, so that is an error naming both."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir}: --out-dir exists and is not a folder")
    seen: dict[str, str] = {}
    outputs = []
    for clip in clips:
        stem = Path(clip.rstrip("/")).stem or "stream"
        if stem in seen:
            raise UserError(f"{clip}: same name as {seen[stem]}; both would write "
                            f"{out_dir / stem}.mp4 (rename one)")
        seen[stem] = clip
        out = AnnotateOutputs(out_dir / f"{stem}.mp4", out_dir / f"{stem}.jsonl" if jsonl else None)
        check_outputs(clip, out)
        outputs.append(out)
    return outputs


def annotate_many(model: str | Path | Detector, clips: list[str], out_dir: str | Path, *,
                  jobs: int = 0, jsonl: bool = True,
                  detector_cfg: DetectorConfig | None = None,
                  pipeline_cfg: PipelineConfig | None = None,
                  annotate_cfg: AnnotateConfig | None = None,
                  progress: Callable[[JobStats], None] | None = None,
                  track_cfg: TrackConfig | None = None) -> JobStats:
    """Annotate every clip in one process with one model: ``DIR/<stem>.mp4`` (audio kept)
    and ``DIR/<stem>.jsonl`` each, equal to what annotating that clip alone gives.

    Args:
        clips: files or globs (`expand_clips`).
        jobs: at most this many clips open at once (0 = enough to fill a detector batch);
            each clip's outputs are finalized as soon as it is done.

    Returns:
        The stats; ``stats.sources`` per clip. A clip that cannot be read fails alone
        (``stats.errors``); the others are still annotated.
    """
    pipeline_cfg = pipeline_cfg or PipelineConfig()
    annotate_cfg = annotate_cfg or AnnotateConfig()
    detector_cfg = detector_cfg or DetectorConfig()
    paths = expand_clips(clips)
    outputs = outputs_in(out_dir, paths, jsonl)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    sources = [JobSource(clip, outputs=_outputs(out, annotate_cfg, track_cfg, detector_cfg.score))
               for clip, out in zip(paths, outputs, strict=True)]
    job = Job(model, sources, policy="file",
              detector_cfg=_tracking_score(detector_cfg, track_cfg),
              pipeline_cfg=pipeline_cfg, max_open=jobs or pipeline_cfg.batch,
              isolate=True)
    return run_job(job, progress)


def _outputs(outputs: AnnotateOutputs, cfg: AnnotateConfig, track_cfg: TrackConfig | None,
             score: float):
    """The sinks of one clip once it is open (tracked when tracking is on)."""
    def build(source: Source) -> list[Sink]:
        sinks = build_sinks(source, outputs, cfg)
        return with_tracking(sinks, track_cfg, score, source.fps,
                             outputs.counts or default_counts_path(outputs))
    return build


def _tracking_score(cfg: DetectorConfig, track_cfg: TrackConfig | None) -> DetectorConfig:
    """ByteTrack's second stage needs boxes below the user's score threshold."""
    return dataclasses.replace(cfg, score=detector_score(track_cfg, cfg.score))
