"""One job runner for every verb: a model, N sources, each source's outputs, a flow
policy and optional gates. `run_job` opens everything, runs it and closes everything,
whatever ends the run (end of input, Ctrl+C, an error in any stage).

From Python::

    from realtime.engine.job import Job, JobSource, run_job

    def on_prediction(result):  # a FrameResult: frame (source, index, rgb), detections
        print(result.frame.source, result.frame.index, result.detections.labels)

    run_job(Job("models/raccoon", [JobSource("a.mp4", on_result=on_prediction),
                                   JobSource("rtsp://cam/stream", on_result=on_prediction)]))

``annotate``, ``live``, ``predict`` and batch's clips only describe a `Job` (their sources,
outputs and policy) and hand it here; none of them opens or closes anything itself.
``watch`` first opens its own parts (events folder, spool, notifiers, the model: see
`realtime.watch.runner.WatchRun`) and hands the loaded model here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import UserError
from realtime.batching import Gate
from realtime.config import DetectorConfig, PipelineConfig
from realtime.detectors.base import Detector
from realtime.engine.stats import JobStats
from realtime.engine.streams import Engine, Stream
from realtime.frames import FrameResult
from realtime.sinks.base import Sink
from realtime.sources import Source, open_source, redact_url

log = logging.getLogger("lookout.engine")
POLICIES = ("auto", "file", "live")


@dataclass
class JobSource:
    """One source of a job.

    Attributes:
        spec: webcam index, URL, video file, image folder/glob, or an opened `Source`.
        outputs: its sinks, or ``outputs(source) -> sinks`` to build them once it is open
            (e.g. a video writer that needs the source's fps).
        on_result: also call this with every `FrameResult` of this source.
        gate: ``gate(frame) -> bool``; False lets the frame skip the detector.
        name: shown in stats and logs (default: the source's own name).
    """

    spec: str | int | Source
    outputs: Sequence[Sink] | Callable[[Source], Sequence[Sink]] = ()
    on_result: Callable[[FrameResult], object] | None = None
    gate: Gate | None = None
    name: str = ""


@dataclass
class Job:
    """Attributes:
        model: a model path (loaded here, closed at the end) or a loaded `Detector` (left open).
        sources: what to run.
        policy: ``file`` (lossless, ordered), ``live`` (drop-oldest, bounded latency), or
            ``auto``: live when every source is a camera or stream, else file.
        max_open: at most this many sources open at once (0 = all). A lone source is
            opened before the model loads, so a bad path fails fast.
        isolate: one source failing ends only that source (default: when there are several).
        stop: an event that stops the run cleanly when set (SIGTERM handlers).
    """

    model: str | Path | Detector
    sources: list[JobSource]
    policy: str = "auto"
    detector_cfg: DetectorConfig = field(default_factory=DetectorConfig)
    pipeline_cfg: PipelineConfig = field(default_factory=PipelineConfig)
    max_open: int = 0
    isolate: bool | None = None
    stop: threading.Event | None = None


def is_live_spec(spec: str | int | Source) -> bool:
    """Cameras and streams (not files): a webcam index or a URL."""
    if isinstance(spec, Source):
        return spec.live
    text = str(spec).strip()
    return text.isdigit() or "://" in text


def run_job(job: Job, progress: Callable[[JobStats], None] | None = None,
            every_s: float = 0.25, tick: Callable[[], None] | None = None) -> JobStats:
    """Open, run and close ``job``.

    Steps: open a lone source (fail fast) → load the model → start the engine → wait
    (``progress(stats)`` every ``every_s``, ``tick()`` every poll, on this thread) → stop
    every stage, finalize every output, close every source, release the model.

    Returns:
        The stats (``stopped_by == "interrupt"`` after Ctrl+C; outputs finalized).

    Raises:
        UserError: a bad source or model, or (one source) a stream that never came back.
        PipelineError: any other stage failure, naming the stage.
    """
    if job.policy not in POLICIES:
        raise UserError(f"flow policy must be one of {', '.join(POLICIES)}, got {job.policy!r}")
    if not job.sources:
        raise UserError("nothing to run: no sources")
    cfg = job.pipeline_cfg
    isolate = len(job.sources) > 1 if job.isolate is None else job.isolate
    mode = job.policy
    if mode == "auto":
        mode = "live" if all(is_live_spec(s.spec) for s in job.sources) else "file"
    first = len(job.sources) if job.max_open <= 0 else job.max_open
    opened: list[Source | None] = []
    detector: Detector | None = None
    try:
        for i, src in enumerate(job.sources):
            opened.append(_open_now(src, cfg, isolate) if i < first else None)
        detector = _load(job.model, job.detector_cfg)
        streams = [_stream(src, source, cfg, isolate, job.policy)
                   for src, source in zip(job.sources, opened, strict=True)]
        engine = Engine(streams, detector, cfg, mode=mode, isolate=isolate,
                        max_open=job.max_open, stop_event=job.stop)
        opened = []  # the engine closes them from here on
        return engine.run(progress, every_s, tick)
    finally:
        for source in opened:
            if source is not None:
                source.close()
        if detector is not None and detector is not job.model:
            detector.close()


def _open_now(src: JobSource, cfg: PipelineConfig, isolate: bool) -> Source | None:
    """Open a lone source before the model loads, so a bad path fails fast. With several
    sources each opens in its own reader, side by side: a camera that is down keeps
    trying there (and never delays the others), a file that cannot open fails alone."""
    if isinstance(src.spec, Source):
        return src.spec
    return None if isolate else open_source(src.spec, cfg)


def _stream(src: JobSource, source: Source | None, cfg: PipelineConfig, isolate: bool,
            policy: str) -> Stream:
    def sinks(opened: Source) -> list[Sink]:
        out = list(src.outputs(opened)) if callable(src.outputs) else []
        if src.on_result is not None:
            from realtime.sinks.callback import CallbackSink

            out.append(CallbackSink(src.on_result))
        return out

    def open_later(stop: threading.Event) -> Source:
        if isolate and is_live_spec(src.spec):
            return _open_retrying(src.spec, cfg, stop)
        return open_source(src.spec, cfg)

    # auto: each source its own policy; file or live: the job's (the engine's default)
    live = policy == "auto" and is_live_spec(source if source is not None else src.spec)
    fixed = [] if callable(src.outputs) else list(src.outputs)
    return Stream(open=open_later, sinks=sinks, fixed_sinks=fixed, gate=src.gate, source=source,
                  name=src.name, live=True if live else None)


def _open_retrying(spec: str | int, cfg: PipelineConfig, stop: threading.Event) -> Source:
    """Open a camera, waiting with doubling pauses while it is down; gives up after
    ``reconnect_give_up_s`` (0 = never) with the open error."""
    wait, since, told = cfg.reconnect_backoff_s, time.monotonic(), False
    while True:
        try:
            return open_source(spec, cfg)
        except UserError as exc:
            give_up = cfg.reconnect_give_up_s
            if give_up and time.monotonic() - since >= give_up:
                raise
            if not told:
                log.warning("%s (retrying in the background)", exc)
                told = True
        if stop.wait(wait):
            raise UserError(f"{redact_url(str(spec))}: stopped before it could be opened")
        wait = min(wait * 2, cfg.reconnect_backoff_max_s)


def _load(model: str | Path | Detector, cfg: DetectorConfig) -> Detector:
    if isinstance(model, Detector):
        return model
    from realtime.detectors import load_detector

    return load_detector(model, cfg)
