"""What a watch run sends out, apart from its detector loop: the notifiers started and
stopped together, the spool drained for a while at the end, and `deliver_pending`
(``lookout watch --deliver-only``: deliver what the spool holds, no model, no camera)."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from realtime.config import DetectorConfig, PipelineConfig
from realtime.engine.stats import JobStats
from realtime.serve.config import ServeConfig
from realtime.tracking.config import TrackConfig
from realtime.watch.config import WatchConfig
from realtime.watch.delivery import Deliverer
from realtime.watch.notifiers import build_notifiers
from realtime.watch.notify_base import Notifier, routes
from realtime.watch.recovery import recover
from realtime.watch.spool import Spool

log = logging.getLogger("lookout.watch")


class WatchSettings(Protocol):
    """The tables watch reads (lookout's root `Config` is one)."""

    watch: WatchConfig
    detector: DetectorConfig
    pipeline: PipelineConfig
    track: TrackConfig
    serve: ServeConfig


@dataclass
class WatchResult:
    stats: JobStats | None
    events: int
    detector_runs: int
    frames: int
    delivered: int
    pending: int
    cameras: dict[str, dict] = field(default_factory=dict)  # per camera: events, frames, ...


def deliver_pending(config: WatchSettings, drain_s: float = 30.0) -> WatchResult:
    """Only deliver what the spool holds (after recovery), then stop: no model, no source."""
    cfg = config.watch
    root = Path(cfg.events_dir)
    notifiers = build_notifiers(cfg, page_url=config.serve.public_url)
    spool = Spool(root / "spool.sqlite")
    started: list[Notifier] = []
    try:
        recover(root / "events.jsonl", spool, routes(notifiers, cfg.delivery.on))
        start_notifiers(notifiers, started)
        deliverer = Deliverer(spool, notifiers, cfg.delivery, root).start()
        with sigterm_sets(threading.Event()) as stop:
            pending = drain(deliverer, drain_s, stop)
        deliverer.stop()
        return WatchResult(None, 0, 0, 0, deliverer.delivered, pending)
    finally:
        stop_notifiers(started)
        spool.close()


def start_notifiers(notifiers: list[Notifier], started: list[Notifier]) -> None:
    """Start each notifier; ``started`` lists those to stop again, even if one fails."""
    for notifier in notifiers:
        notifier.start()
        started.append(notifier)


def stop_notifiers(started: list[Notifier]) -> None:
    for notifier in reversed(started):
        try:
            notifier.stop()
        except Exception:  # stopping one must not keep the others running
            log.exception("stopping the %s notifier", notifier.name)
    started.clear()


def drain(deliverer: Deliverer, drain_s: float, stop: threading.Event) -> int:
    step = 0.5
    waited = 0.0
    while waited < drain_s and not stop.is_set():
        pending = deliverer.drain(min(step, drain_s - waited))
        if pending == 0:
            return 0
        waited += step
    return deliverer.spool.counts()["pending"]


@contextlib.contextmanager
def sigterm_sets(*events: threading.Event):
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
