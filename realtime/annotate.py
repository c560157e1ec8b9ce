"""Annotate a clip: every frame through the detector, boxes drawn, audio kept.

`annotate(...)` (one clip) and `annotate_many(...)` (many clips, one model, one process)
are what ``lookout annotate`` calls; both are job presets, usable from Python as is.
"""

from __future__ import annotations

import glob
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError
from realtime.config import AnnotateConfig
from realtime.detectors.base import Detector
from realtime.engine.job import Job, JobSource, run_job
from realtime.engine.stats import JobStats
from realtime.settings import RunSettings
from realtime.sinks.base import Sink
from realtime.sources import Source


@dataclass
class AnnotateOutputs:
    """Where results go (the counts summary: `counts_path`)."""

    video: str | Path | None
    jsonl: str | Path | None = None
    coco: str | Path | None = None
    frames_dir: str | Path | None = None


def default_counts_path(outputs: AnnotateOutputs) -> Path | None:
    """Where the counts summary goes unless ``--counts`` says (`Tracking.counts_path`):
    ``OUT.counts.json`` beside the first file output (video, else JSONL, else COCO;
    ``DIR/counts.json`` for frames only)."""
    for path in (outputs.video, outputs.jsonl, outputs.coco):
        if path is not None and str(path) != "-":
            return Path(path).with_suffix(".counts.json")
    return Path(outputs.frames_dir) / "counts.json" if outputs.frames_dir else None


def check_outputs(clip: str, outputs: AnnotateOutputs, counts: Path | None = None) -> None:
    """Refuse outputs that would overwrite the input or cannot be an mp4."""
    for path in (outputs.video, outputs.jsonl, outputs.coco, counts):
        if path is not None and str(path) != "-" and Path(path).exists() and Path(clip).exists() \
                and Path(path).resolve() == Path(clip).resolve():
            raise UserError(f"{path}: output would overwrite the input clip")
    if outputs.video is not None and Path(outputs.video).suffix.lower() != ".mp4":
        raise UserError(f"{outputs.video}: the annotated video must be an .mp4 file")
    if outputs.video is not None and Path(outputs.video).is_dir():
        raise UserError(f"{outputs.video}: is a folder; give a file name like out.mp4")


def build_sinks(source: Source, outputs: AnnotateOutputs, cfg: AnnotateConfig) -> list[Sink]:
    """The sinks ``outputs`` asks for. The video keeps ``source``'s audio (a file); it
    comes last because it draws on the frame itself, after the others have read it."""
    from realtime.sinks.images import ImageFolderSink
    from realtime.sinks.records import CocoSink, JsonlSink
    from realtime.sinks.video import VideoSink

    sinks: list[Sink] = []
    try:
        if outputs.jsonl is not None:
            sinks.append(JsonlSink(outputs.jsonl))
        if outputs.coco is not None:
            sinks.append(CocoSink(outputs.coco))
        if outputs.frames_dir is not None:
            sinks.append(ImageFolderSink(outputs.frames_dir))
        if outputs.video is not None:  # last: it draws on the frame itself (no copy)
            audio = source.name if cfg.audio and not source.live and Path(source.name).is_file() \
                else None
            sinks.append(VideoSink(outputs.video, source.fps, audio_from=audio,
                                   stride=source.stride, fill_gaps=cfg.fill_gaps, crf=cfg.crf,
                                   preset=cfg.preset, inplace=True))
    except OSError as exc:
        for sink in sinks:
            sink.close()
        raise UserError(f"cannot create output: {exc}") from None
    return sinks


def annotate(model: str | Path | Detector, clip: str, outputs: AnnotateOutputs,
             settings: RunSettings | None = None,
             progress: Callable[[JobStats], None] | None = None) -> JobStats:
    """Run ``model`` over ``clip`` (a video file, image folder or URL) into ``outputs``.

    A one-source job in lossless file mode: every decodable frame is written, in order.
    The source is opened before the slow model load (a bad path fails first). With
    tracking on (``settings.track``, the default), detections get track ids and
    lines/zones are counted. A `Detector` given as ``model`` runs at the score it was
    loaded with: load it with ``settings.tracking.detector_cfg(settings.detector)`` to
    get what a model path gets.

    Returns:
        The run's stats (``stopped_by == "interrupt"`` after Ctrl+C; outputs finalized).
    """
    settings = settings or RunSettings()
    counts = settings.tracking.counts_path(default_counts_path(outputs))
    check_outputs(clip, outputs, counts)
    job = Job(model, [JobSource(clip, outputs=_outputs(outputs, settings, counts))],
              policy="file", detector_cfg=settings.tracking.detector_cfg(settings.detector),
              pipeline_cfg=settings.pipeline)
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


def annotate_many(model: str | Path | Detector, clips: list[str], out_dir: str | Path,
                  settings: RunSettings | None = None, *, jobs: int = 0, jsonl: bool = True,
                  progress: Callable[[JobStats], None] | None = None) -> JobStats:
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
    settings = settings or RunSettings()
    tracking = settings.tracking
    paths = expand_clips(clips)
    outputs = outputs_in(out_dir, paths, jsonl)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    # each clip's counts beside its outputs (a --counts path: numbered, one per clip)
    counts = [tracking.counts_path(default_counts_path(out),
                                   tag=str(k + 1) if tracking.counts else None)
              for k, out in enumerate(outputs)]
    sources = [JobSource(clip, outputs=_outputs(out, settings, path))
               for clip, out, path in zip(paths, outputs, counts, strict=True)]
    job = Job(model, sources, policy="file", detector_cfg=tracking.detector_cfg(settings.detector),
              pipeline_cfg=settings.pipeline, max_open=jobs or settings.pipeline.batch,
              isolate=True)
    return run_job(job, progress)


def _outputs(outputs: AnnotateOutputs, settings: RunSettings, counts: Path | None):
    """The sinks of one clip once it is open (tracked when tracking is on)."""
    def build(source: Source) -> list[Sink]:
        sinks = build_sinks(source, outputs, settings.annotate)
        return settings.tracking.step(sinks, source.fps, counts)
    return build
