"""`run_watch`: the doorbell loop, as a short list of steps (what ``lookout watch`` calls).

start: check rules → open spool, recover, connect notifiers, start deliveries → load
model → compile rules against its labels → open source → tell notifiers the camera → run the pipeline with the motion gate and
the watch engine (health line alongside) → stop: engine closes events, deliveries
drain for a while, the rest stays spooled for the next run. SIGTERM stops cleanly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.errors import UserError
from realtime.config import DetectorConfig, PipelineConfig
from realtime.detectors.base import Detector
from realtime.pipeline import Pipeline, PipelineStats
from realtime.watch.camera import camera_from_source
from realtime.watch.config import WatchConfig, WatchRuleConfig
from realtime.watch.delivery import Deliverer
from realtime.watch.engine import WatchEngine
from realtime.watch.health import HealthReporter
from realtime.watch.motion import MotionGate
from realtime.watch.notifiers import Notifier, build_notifiers, routes
from realtime.watch.recovery import recover
from realtime.watch.rules import compile_rules
from realtime.watch.spool import Spool

log = logging.getLogger("lookout.watch")


class WatchSettings(Protocol):
    """The tables watch reads (lookout's root `Config` is one)."""

    watch: WatchConfig
    detector: DetectorConfig
    pipeline: PipelineConfig


@dataclass
class WatchResult:
    stats: PipelineStats | None
    events: int
    detector_runs: int
    frames: int
    delivered: int
    pending: int


def deliver_pending(config: WatchSettings, drain_s: float = 30.0) -> WatchResult:
    """Only deliver what the spool holds (after recovery), then stop: no model, no source."""
    cfg = config.watch
    root = Path(cfg.events_dir)
    notifiers = build_notifiers(cfg)
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


def run_watch(model: str | Path | Detector, source_spec: str, config: WatchSettings, *,
              rules: list[WatchRuleConfig] | None = None, rules_where: str = "watch.rules",
              config_name: str = "config.toml", mode: str | None = None, drain_s: float = 30.0,
              progress=None) -> WatchResult:
    """Watch ``source_spec`` with ``model`` until the source ends, Ctrl+C or SIGTERM.

    Args:
        model: a model path, or an already loaded `Detector` (left open).
        rules: rule configs (default: ``config.watch.rules``); ``rules_where`` names
            their origin in errors (``config.toml: watch.rules`` or ``--alert``).
        config_name: the config file, named in errors about other ``[watch]`` values.
        mode: ``file`` | ``live`` (default: live for cameras and streams).
        drain_s: at the end, wait this long for pending deliveries.
    """
    from realtime.detectors import load_detector
    from realtime.sources import open_source

    cfg = config.watch
    if rules is not None:  # rechecks recheck_s against these rules' end_after_s
        try:
            cfg = dataclasses.replace(cfg, rules=list(rules))
        except UserError as exc:
            raise UserError(f"{config_name}: {exc}") from None
    rules = cfg.rules
    # labels, polygons, zone and line names: before the slow model load
    compile_rules(rules, None, rules_where, config.track)
    root = Path(cfg.events_dir)
    notifiers = build_notifiers(cfg)
    names = routes(notifiers, cfg.delivery.on)
    spool = Spool(root / "spool.sqlite")
    deliverer = health = detector = None
    started: list[Notifier] = []
    try:
        recover(root / "events.jsonl", spool, names)
        _start(notifiers, started)  # a wrong broker password stops us before the model loads
        deliverer = Deliverer(spool, notifiers, cfg.delivery, root).start()
        detector = model if isinstance(model, Detector) else load_detector(model, config.detector)
        compiled = compile_rules(rules, detector.names, rules_where, config.track)
        source = open_source(source_spec, config.pipeline)
        labels = sorted(set().union(*(r.labels for r in compiled)))
        for notifier in started:
            notifier.announce(camera_from_source(source.name), labels)
        gate = MotionGate(cfg.motion)
        engine = WatchEngine(compiled, cfg, spool=spool, notifiers=names, gate=gate,
                             on_spooled=deliverer.wake, track=config.track, fps=source.fps)
        mode = mode or ("live" if source.live else "file")
        pipeline = Pipeline(source, detector, [engine], config.pipeline, mode, gate)
        log.info("watching %s with %d rule(s) -> %s; notifiers: %s", source.describe(),
                 len(compiled), root, ", ".join(names) or "none")

        def counters() -> dict:
            return {"frames": engine.frames, "detector_runs": engine.detector_runs,
                    "motion_frames": gate.motion_frames, "events": engine.events,
                    "open": len(engine.open), "pending": spool.counts()["pending"],
                    "reconnects": source.reconnects}

        health = HealthReporter(counters, cfg.health_every_s).start()
        terminated = threading.Event()
        with _sigterm_sets(pipeline.stop_event, terminated):
            stats = pipeline.run(progress)
        if terminated.is_set():
            stats.stopped_by = "sigterm"
        health.stop()
        log.info("%s", health.line())
        pending = _drain(deliverer, min(drain_s, 5.0) if terminated.is_set() else drain_s,
                         threading.Event())
        if pending:
            log.warning("%d delivery(ies) still pending in %s; they resume on the next run "
                        "(or: lookout watch --deliver-only --events %s)",
                        pending, root / "spool.sqlite", root)
        return WatchResult(stats, engine.events, engine.detector_runs, engine.frames,
                           deliverer.delivered, pending)
    finally:
        if health is not None:
            health.stop()
        if deliverer is not None:
            deliverer.stop()
        _stop(started)
        if detector is not None and detector is not model:
            detector.close()
        spool.close()


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
