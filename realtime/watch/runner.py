"""`run_watch`: doorbell mode as a job (what ``lookout watch`` calls).

One job, one model, N cameras. Steps: check every camera's rules and motion values →
open the cameras → load the model → compile each camera's rules against its labels →
start the services (spool, recovery, deliveries, the event recorder, the health line) →
run: each camera's frames pass its own motion gate, the shared detector, then its own
visit tracker → stop: trackers close their events, the recorder writes what is queued,
deliveries drain for a while, the rest stays spooled for the next run. SIGTERM stops
cleanly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Self

from core.errors import UserError
from realtime.config import DetectorConfig, PipelineConfig
from realtime.detectors.base import Detector
from realtime.engine.job import Job, JobSource, run_job
from realtime.engine.stats import JobStats
from realtime.tracking.config import TrackConfig
from realtime.watch.camera import camera_from_source, slug
from realtime.watch.config import WatchConfig, WatchMotionConfig, WatchRuleConfig
from realtime.watch.delivery import Deliverer
from realtime.watch.engine import WatchEngine
from realtime.watch.health import HealthReporter
from realtime.watch.motion import MotionGate
from realtime.watch.notifiers import build_notifiers
from realtime.watch.notify_base import Notifier, routes
from realtime.watch.recorder import EventRecorder
from realtime.watch.recovery import recover
from realtime.watch.rules import compile_rules
from realtime.watch.spool import Spool

log = logging.getLogger("lookout.watch")


class WatchSettings(Protocol):
    """The tables watch reads (lookout's root `Config` is one)."""

    watch: WatchConfig
    detector: DetectorConfig
    pipeline: PipelineConfig
    track: TrackConfig


@dataclass
class Camera:
    """One camera of a watch run.

    Attributes:
        source: webcam index, URL or video file.
        name: carried by its events ('' = made from the source).
        rules: its own rules (None = the run's rules).
        motion: its own ``[watch.motion]`` (None = the run's).
        where: names the rules' origin in errors (``home.toml: cameras[1].rules``).
    """

    source: str
    name: str = ""
    rules: list[WatchRuleConfig] | None = None
    motion: WatchMotionConfig | None = None
    where: str = ""


@dataclass
class WatchResult:
    stats: JobStats | None
    events: int
    detector_runs: int
    frames: int
    delivered: int
    pending: int
    cameras: dict[str, dict] = field(default_factory=dict)  # per camera: events, frames, ...


def camera_name(source: str) -> str:
    """A name for a camera from its source: ``webcam0``, a URL's host (never its
    credentials), a file's stem; made safe for topics and file names."""
    text = str(source).strip()
    return f"webcam{text}" if text.isdigit() else camera_from_source(text)


def name_cameras(cameras: list[Camera]) -> list[Camera]:
    """Fill in missing names; names made from sources are made unique (``-2``, ``-3``).

    Raises:
        UserError: two cameras given the same name (their events could not be told apart).
    """
    given = [c.name for c in cameras if c.name]
    twice = sorted({n for n in given if given.count(n) > 1})
    if twice:
        raise UserError(f"cameras: the name {twice[0]!r} is used twice; every camera needs "
                        "its own name")
    taken = set(given)
    out = []
    for cam in cameras:
        if not cam.name:
            base, n = camera_name(cam.source), 1
            name = base
            while name in taken:
                n += 1
                name = f"{base}-{n}"
            taken.add(name)
            cam = dataclasses.replace(cam, name=name)
        out.append(cam)
    return out


def deliver_pending(config: WatchSettings, drain_s: float = 30.0) -> WatchResult:
    """Only deliver what the spool holds (after recovery), then stop: no model, no source."""
    cfg = config.watch
    root = Path(cfg.events_dir)
    notifiers = build_notifiers(cfg, page_url=_public_url(config))
    spool = Spool(root / "spool.sqlite")
    started: list[Notifier] = []
    try:
        recover(root / "events.jsonl", spool, routes(notifiers, cfg.delivery.on))
        _start(notifiers, started)
        deliverer = Deliverer(spool, notifiers, cfg.delivery, root).start()
        with _sigterm_sets(threading.Event()) as stop:
            pending = _drain(deliverer, drain_s, stop)
        deliverer.stop()
        return WatchResult(None, 0, 0, 0, deliverer.delivered, pending)
    finally:
        _stop(started)
        spool.close()


def run_watch(model: str | Path | Detector, source_spec: str | None, config: WatchSettings, *,
              cameras: list[Camera] | None = None, rules: list[WatchRuleConfig] | None = None,
              rules_where: str = "watch.rules", config_name: str = "config.toml",
              mode: str | None = None, drain_s: float = 30.0, progress=None) -> WatchResult:
    """Watch ``source_spec`` (one camera) or ``cameras`` with ``model`` until every source
    ends, Ctrl+C or SIGTERM.

    Args:
        model: a model path, or an already loaded `Detector` (left open).
        rules: the run's rule configs (default: ``config.watch.rules``); ``rules_where``
            names their origin in errors (``config.toml: watch.rules`` or ``--alert``).
        config_name: the config file, named in errors about other ``[watch]`` values.
        mode: ``file`` | ``live`` (default: live for cameras and streams).
        drain_s: at the end, wait this long for pending deliveries.
    """
    cfg = config.watch
    if cameras is None:
        cameras = [Camera(str(source_spec))]
    cameras = name_cameras(cameras)
    counts_file = "counts.json" if len(cameras) == 1 else None
    plans = [_Plan(cam, rules if rules is not None else cfg.rules, rules_where, cfg,
                   config_name, config.track, counts_file) for cam in cameras]
    for plan in plans:  # labels, polygons, zone and line names: before the slow model load
        compile_rules(plan.rules, None, plan.where, config.track)
    services = _Services(config, plans, drain_s)
    stop, terminated = threading.Event(), services.terminated

    def on_model(detector: Detector) -> None:
        for plan in plans:
            plan.compiled = compile_rules(plan.rules, detector.names, plan.where, config.track)
            services.announce(plan.camera.name, plan.compiled)

    job = Job(model, [JobSource(p.camera.source, outputs=p.outputs, gate=p.gate,
                                name=p.camera.name) for p in plans],
              policy=mode or "auto", detector_cfg=config.detector,
              pipeline_cfg=config.pipeline, on_model=on_model, services=[services], stop=stop)
    with _sigterm_sets(stop, terminated):
        stats = run_job(job, progress, on_start=services.attach)
    if terminated.is_set():
        stats.stopped_by = "sigterm"
    per_camera = {p.camera.name: p.counters() for p in plans}
    return WatchResult(stats, sum(c["events"] for c in per_camera.values()),
                       sum(c["detector_runs"] for c in per_camera.values()),
                       sum(c["frames"] for c in per_camera.values()),
                       services.delivered, services.pending, per_camera)


class _Plan:
    """One camera's rules, gate and tracker."""

    def __init__(self, camera: Camera, rules: list[WatchRuleConfig], where: str,
                 cfg: WatchConfig, config_name: str, track: TrackConfig,
                 counts_file: str | None) -> None:
        self.camera, self.track = camera, track
        # one camera: events/counts.json; several: one counts file each
        self.counts_file = counts_file or f"counts.{slug(camera.name)}.json"
        self.rules = list(camera.rules if camera.rules is not None else rules)
        self.where = camera.where or where
        try:  # rechecks recheck_s against these rules' end_after_s
            self.cfg = dataclasses.replace(cfg, rules=self.rules,
                                           motion=camera.motion or cfg.motion)
        except UserError as exc:
            name = f"cameras[{camera.name}]: " if camera.where else ""
            raise UserError(f"{config_name}: {name}{exc}") from None
        self.motion = MotionGate(self.cfg.motion)
        self.compiled = None
        self.engine: WatchEngine | None = None
        self.recorder: EventRecorder | None = None
        self.source_stats = None

    def gate(self, frame) -> bool:
        return self.motion(frame)

    def outputs(self, source) -> list[WatchEngine]:
        """Called once the camera is open: its tracker, writing through the recorder."""
        self.engine = WatchEngine(self.compiled, self.cfg, camera=self.camera.name,
                                  recorder=self.recorder, gate=self.motion, track=self.track,
                                  fps=source.fps, counts_file=self.counts_file)
        log.info("%s: watching %s with %d rule(s)", self.camera.name, source.describe(),
                 len(self.compiled))
        return [self.engine]

    def counters(self) -> dict:
        e, s = self.engine, self.source_stats
        return {"frames": e.frames if e else 0, "detector_runs": e.detector_runs if e else 0,
                "events": e.events if e else 0, "open": len(e.open) if e else 0,
                "motion_frames": self.motion.motion_frames, "gate_frames": self.motion.frames,
                "reconnects": s.reconnects if s else 0, "state": s.state if s else "waiting"}


class _Services:
    """The watch run's shared parts, entered and exited by the job runner: the spool and
    its deliveries, the event recorder, the health line."""

    def __init__(self, config: WatchSettings, plans: list[_Plan], drain_s: float) -> None:
        self.cfg, self.plans, self.drain_s = config.watch, plans, drain_s
        self.root = Path(self.cfg.events_dir)
        self.notifiers = build_notifiers(self.cfg, page_url=_public_url(config))
        self.started: list[Notifier] = []
        self.delivered = self.pending = 0
        self.terminated = threading.Event()  # SIGTERM: drain deliveries only briefly

    def attach(self, engine) -> None:
        for plan, slot in zip(self.plans, engine.slots, strict=True):
            plan.source_stats = slot.stats

    def counters(self) -> dict:
        cams = {p.camera.name: p.counters() for p in self.plans}
        out = {"events": sum(c["events"] for c in cams.values()),
               "open": sum(c["open"] for c in cams.values()),
               "pending": self.spool.counts()["pending"]}
        if len(cams) == 1:
            return {**out, **next(iter(cams.values()))}
        return {**out, "cameras": cams}

    def announce(self, camera: str, compiled) -> None:
        labels = sorted(set().union(*(r.labels for r in compiled)))
        for notifier in self.started:
            notifier.announce(camera, labels)

    def __enter__(self) -> Self:
        names = routes(self.notifiers, self.cfg.delivery.on)
        self.spool = Spool(self.root / "spool.sqlite")
        try:
            recover(self.root / "events.jsonl", self.spool, names)
            _start(self.notifiers, self.started)  # a wrong broker password stops us here
            self.deliverer = Deliverer(self.spool, self.notifiers, self.cfg.delivery,
                                       self.root).start()
            self.recorder = EventRecorder(self.cfg, self.spool, names, self.deliverer.wake)
        except BaseException:
            _stop(self.started)
            self.spool.close()
            raise
        for plan in self.plans:
            plan.recorder = self.recorder
        log.info("%d camera(s) -> %s; notifiers: %s", len(self.plans), self.root,
                 ", ".join(names) or "none")
        self.health = HealthReporter(self.counters, self.cfg.health_every_s).start()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.health.stop()
            self.recorder.close()  # every phase the trackers emitted is written
            for line in self.health.lines():
                log.info("%s", line)
            drain = min(self.drain_s, 5.0) if self.terminated.is_set() else self.drain_s
            self.pending = _drain(self.deliverer, drain, threading.Event())
            self.delivered = self.deliverer.delivered
            if self.pending:
                log.warning("%d delivery(ies) still pending in %s; they resume on the next run "
                            "(or: lookout watch --deliver-only --events %s)",
                            self.pending, self.root / "spool.sqlite", self.root)
        finally:
            self.deliverer.stop()
            _stop(self.started)
            self.spool.close()


def _public_url(config: WatchSettings) -> str:
    """``serve.public_url`` when the settings have a ``[serve]`` table (alerts link there)."""
    serve = getattr(config, "serve", None)
    return serve.public_url if serve is not None else ""


def _start(notifiers: list[Notifier], started: list[Notifier]) -> None:
    """Start each notifier; ``started`` lists those to stop again, even if one fails."""
    for notifier in notifiers:
        notifier.start()
        started.append(notifier)


def _stop(started: list[Notifier]) -> None:
    for notifier in reversed(started):
        try:
            notifier.stop()
        except Exception:  # stopping one must not keep the others running
            log.exception("stopping the %s notifier", notifier.name)
    started.clear()


def _drain(deliverer: Deliverer, drain_s: float, stop: threading.Event) -> int:
    step = 0.5
    waited = 0.0
    while waited < drain_s and not stop.is_set():
        pending = deliverer.drain(min(step, drain_s - waited))
        if pending == 0:
            return 0
        waited += step
    return deliverer.spool.counts()["pending"]


@contextlib.contextmanager
def _sigterm_sets(*events: threading.Event):
    """While inside, SIGTERM sets ``events`` (a clean stop) instead of killing the process."""
    if threading.current_thread() is not threading.main_thread():
        yield events[0]
        return

    def handler(signum, frame):
        log.warning("SIGTERM: stopping")
        for event in events:
            event.set()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield events[0]
    finally:
        signal.signal(signal.SIGTERM, previous)
