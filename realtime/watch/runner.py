"""`run_watch`: doorbell mode (what ``lookout watch`` calls), as a checklist.

A `WatchRun` checks every camera's rules and motion values when it is built (nothing is
opened yet). Its `start()` opens, in order:

1. the events folder;
2. the spool (with recovery of what the last run logged but never spooled), the
   notifiers and their deliveries, the event recorder and the health line;
3. the model (each camera's rules checked against its labels, once); a bundle is
   watched and a promoted one switched to between batches (`realtime.watch.reload`);
4. the cameras: a lone camera is opened now, so a bad path fails before anything runs;
   several open in their own readers, a camera that is down retried there;
5. the server, when one is given (an object with ``start()``/``stop()``), or the
   events page with live tiles when ``[serve] bind`` is set (``watch --serve``): built
   (bind and password checked) with the run, listening only now.

`run()` runs one job: each camera's frames pass its own motion gate, the shared detector,
then its own `WatchSink` (built once its camera is open, with its compiled rules and the
shared recorder). `stop()` closes the parts in reverse: the server, the cameras the job
never took, the model, then the recorder writes what is queued, deliveries drain for a
while (the rest stays spooled for the next run; `realtime.watch.outbox`), the notifiers
and the spool close.
SIGTERM stops cleanly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Self

from core.errors import UserError
from realtime.detectors.base import Detector
from realtime.engine.job import Job, JobSource, run_job
from realtime.engine.stats import JobStats
from realtime.serve.config import ServeConfig
from realtime.sources import open_source
from realtime.tracking.setup import Tracking
from realtime.watch.camera import slug
from realtime.watch.cameras import Camera, CameraWatch, name_cameras
from realtime.watch.config import WatchRuleConfig
from realtime.watch.delivery import Deliverer
from realtime.watch.health import HealthReporter
from realtime.watch.live import WatchLive
from realtime.watch.notifiers import build_notifiers
from realtime.watch.notify_base import Notifier, routes
from realtime.watch.outbox import (
    WatchResult,
    WatchSettings,
    drain,
    sigterm_sets,
    start_notifiers,
    stop_notifiers,
)
from realtime.watch.recorder import EventRecorder
from realtime.watch.recovery import recover
from realtime.watch.rules import rules_for_model
from realtime.watch.spool import Spool

if TYPE_CHECKING:
    from realtime.watch.reload import HotModel

log = logging.getLogger("lookout.watch")


class Server(Protocol):
    """An optional part of a watch run, started last and stopped first."""

    def start(self) -> object: ...

    def stop(self) -> None: ...


def run_watch(model: str | Path | Detector | HotModel, source_spec: str | None, config: WatchSettings, *,
              cameras: list[Camera] | None = None, rules: list[WatchRuleConfig] | None = None,
              rules_where: str = "watch.rules", config_name: str = "config.toml",
              mode: str | None = None, drain_s: float = 30.0, progress=None,
              server: Server | None = None) -> WatchResult:
    """Watch ``source_spec`` (one camera) or ``cameras`` with ``model`` until every source
    ends, Ctrl+C or SIGTERM.

    Args:
        model: a model path (a bundle is reloaded when `lookout retrain` promotes a new
            one, see `realtime.watch.reload`), a `HotModel`, or a loaded `Detector` (left
            open, never reloaded).
        config: the run's settings (`realtime.settings.RunSettings`, or lookout's root
            `Config`): ``watch``, ``detector``, ``pipeline``, ``track``.
        rules: the run's rule configs (default: ``config.watch.rules``); ``rules_where``
            names their origin in errors (``config.toml: watch.rules`` or ``--alert``).
        config_name: the config file, named in errors about other ``[watch]`` values.
        mode: ``file`` | ``live`` (default: live for cameras and streams).
        drain_s: at the end, wait this long for pending deliveries.
        server: started after the cameras and stopped before them (see `Server`);
            default: the page when ``config.serve.bind`` is set.
    """
    if cameras is None:
        cameras = [Camera(str(source_spec))]
    run = WatchRun(model, cameras, config, rules=rules, rules_where=rules_where,
                   config_name=config_name, mode=mode, drain_s=drain_s, server=server)
    with sigterm_sets(run.stop_event, run.terminated):
        try:
            run.start()
            stats = run.run(progress)
        finally:
            run.stop()
    if run.terminated.is_set():
        stats.stopped_by = "sigterm"
    return run.result(stats)


class WatchRun:
    """One watch run: `start`, `run`, `stop` (see the module's docstring for the steps).
    Building it only checks values: every camera's rules, motion and notifier tables."""

    def __init__(self, model: str | Path | Detector | HotModel, cameras: list[Camera],
                 settings: WatchSettings, *, rules: list[WatchRuleConfig] | None = None,
                 rules_where: str = "watch.rules", config_name: str = "config.toml",
                 mode: str | None = None, drain_s: float = 30.0,
                 server: Server | None = None) -> None:
        self.model, self.settings, self.mode, self.drain_s = model, settings, mode, drain_s
        self.cfg = settings.watch
        self.root = Path(self.cfg.events_dir)
        self.tracking = Tracking(settings.track, settings.detector.score)
        cameras = name_cameras(cameras)
        default_counts = self.root / "counts.json"  # several cameras: counts-NAME.json each
        self.cameras = [CameraWatch(
            cam, rules if rules is not None else self.cfg.rules, rules_where, self.cfg,
            config_name, settings.track, self.tracking.counts_path(
                default_counts, tag=slug(cam.name) if len(cameras) > 1 else None))
            for cam in cameras]
        self.notifiers = build_notifiers(self.cfg, page_url=settings.serve.public_url)
        # what the page shows of the running cameras (their sinks swap one reference a frame)
        self.live = WatchLive({c.camera.name: c.latest for c in self.cameras},
                              self.camera_counters, self.model_version)
        self.server = server if server is not None else self._page(settings.serve)
        self.stop_event = threading.Event()  # set: the run ends cleanly (SIGTERM)
        self.terminated = threading.Event()  # SIGTERM: drain deliveries only briefly
        # opened by start(), closed by stop()
        self.spool: Spool | None = None
        self.started: list[Notifier] = []
        self.deliverer: Deliverer | None = None
        self.recorder: EventRecorder | None = None
        self.health: HealthReporter | None = None
        self.detector: Detector | None = None
        self.hot = None  # the HotModel behind a model given as a path
        self.server_started = False
        self.stats: JobStats | None = None  # the running job's, for the health line
        self.delivered = self.pending = 0

    # ------------------------------------------------------------------ the checklist

    def start(self) -> Self:
        """Open the run's parts in order; `stop` closes whatever was opened, even when a
        step here failed."""
        self._open_events_folder()  # 1. where everything of the run is written
        self._open_delivery()  # 2. spool (+ recovery), notifiers, deliveries, recorder, health
        self._load_model()  # 3. each camera's rules checked against its labels
        self._open_cameras()  # 4. a lone camera now: a bad path fails before anything runs
        self._start_server()  # 5. the optional `Server` (watch --serve's page), if given
        return self

    def stop(self) -> None:
        """Close what `start` opened, in reverse; every step runs, the first error is
        raised at the end."""
        _each(self._stop_server,  # 5. the optional server
              self._close_cameras,  # 4. cameras the job never took
              self._release_model,  # 3. (a model given loaded stays open)
              self._close_delivery)  # 2. recorder, deliveries drained, notifiers, spool

    def run(self, progress: Callable[[JobStats], None] | None = None) -> JobStats:
        """Run every camera until they end, Ctrl+C or `stop_event`; the job owns the
        cameras' sources from here on."""
        sources = [JobSource(cam.source or cam.camera.source, gate=cam.motion,
                             outputs=cam.outputs(self.recorder, self.tracking),
                             name=cam.camera.name) for cam in self.cameras]
        for cam in self.cameras:
            cam.source = None
        job = Job(self.detector, sources, policy=self.mode or "auto",
                  detector_cfg=self.settings.detector, pipeline_cfg=self.settings.pipeline,
                  stop=self.stop_event)

        def report(stats: JobStats) -> None:
            self.stats = stats
            if progress is not None:
                progress(stats)

        return run_job(job, report)

    # ------------------------------------------------------------------ the steps

    def _open_events_folder(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{self.root}: cannot use as the events folder "
                            f"({exc.strerror or exc})") from None

    def _open_delivery(self) -> None:
        """The spool (after recovery), the notifiers (a wrong broker password stops us
        here), their deliveries, the event recorder, the health line."""
        names = routes(self.notifiers, self.cfg.delivery.on)
        self.spool = Spool(self.root / "spool.sqlite")
        recover(self.root / "events.jsonl", self.spool, names)
        start_notifiers(self.notifiers, self.started)
        self.deliverer = Deliverer(self.spool, self.notifiers, self.cfg.delivery,
                                   self.root).start()
        self.recorder = EventRecorder(self.cfg, self.spool, names, self.deliverer.wake)
        log.info("%d camera(s) -> %s; notifiers: %s", len(self.cameras), self.root,
                 ", ".join(names) or "none")
        self.health = HealthReporter(self.counters, self.cfg.health_every_s).start()

    def _load_model(self) -> None:
        """A loaded `Detector` as given; a path through `HotModel`, which switches to a
        promoted bundle between batches (a `HotModel` may be handed in as it is)."""
        if isinstance(self.model, Detector):
            self.detector = self.model
        else:
            from realtime.watch.reload import HotModel

            self.hot = (self.model if isinstance(self.model, HotModel)
                        else HotModel(self.model, self.settings.detector))
            self.detector = self.hot.start()
        for cam in self.cameras:
            cam.rules = rules_for_model(cam.rule_configs, cam.rules, self.detector.names,
                                        cam.where)
            labels = sorted(set().union(*(r.labels for r in cam.rules)))
            for notifier in self.started:
                notifier.announce(cam.camera.name, labels)

    def _open_cameras(self) -> None:
        if len(self.cameras) == 1:  # several: each opens in its own reader, side by side
            cam = self.cameras[0]
            cam.source = open_source(cam.camera.source, self.settings.pipeline)

    def _start_server(self) -> None:
        if self.server is not None:
            self.server.start()
            self.server_started = True

    def _stop_server(self) -> None:
        if self.server_started:
            self.server_started = False
            self.server.stop()

    def _close_cameras(self) -> None:
        """Sources the job never took (start failed after opening them)."""
        for cam in self.cameras:
            if cam.source is not None:
                cam.source, source = None, cam.source
                source.close()

    def _release_model(self) -> None:
        detector, self.detector = self.detector, None
        if self.hot is not None:
            self.hot.stop()
        elif detector is not None and detector is not self.model:
            detector.close()

    def _close_delivery(self) -> None:
        """Every phase the sinks emitted is written, deliveries drain a while, then the
        deliveries, notifiers and spool stop."""
        try:
            if self.health is not None:
                self.health.stop()
            if self.recorder is not None:
                self.recorder.close()
            if self.health is not None:
                for line in self.health.lines():
                    log.info("%s", line)
            if self.deliverer is not None:
                drain_s = min(self.drain_s, 5.0) if self.terminated.is_set() else self.drain_s
                self.pending = drain(self.deliverer, drain_s, threading.Event())
                self.delivered = self.deliverer.delivered
                if self.pending:
                    log.warning("%d delivery(ies) still pending in %s; they resume on the next "
                                "run (or: lookout watch --deliver-only --events %s)",
                                self.pending, self.root / "spool.sqlite", self.root)
        finally:
            if self.deliverer is not None:
                self.deliverer.stop()
            stop_notifiers(self.started)
            if self.spool is not None:
                self.spool.close()
            self.health = self.recorder = self.deliverer = self.spool = None

    def _page(self, serve: ServeConfig) -> Server | None:
        """``watch --serve``: the events page with live tiles (None without a bind)."""
        if not serve.bind:
            return None
        from realtime.serve.server import PageServer

        model = self.model if isinstance(self.model, str | Path) else None
        review = getattr(self.settings, "review", None)  # lookout's Config has [review]
        return PageServer(self.root, serve, live=self.live, model=model,
                          review_dir=review.folder(self.root) if review is not None else None)

    # ------------------------------------------------------------------ reading

    def camera_counters(self) -> dict[str, dict]:
        """Each camera's counters (frames, detector runs, events, reconnects, state...),
        in the run's camera order; safe to call from any thread while it runs."""
        sources = self.stats.sources if self.stats is not None else [None] * len(self.cameras)
        return {c.camera.name: c.counters(s) for c, s in zip(self.cameras, sources, strict=True)}

    def model_version(self) -> str:
        """The model that runs now, as the health line and the page name it ('' = a
        detector handed in, never reloaded)."""
        return self.hot.version if self.hot is not None else ""

    def counters(self) -> dict:
        """The health line's counters: the run's, and each camera's."""
        cams = self.camera_counters()
        out = {"events": sum(c["events"] for c in cams.values()),
               "open": sum(c["open"] for c in cams.values()),
               "pending": self.spool.counts()["pending"] if self.spool is not None else 0}
        if self.hot is not None:  # which model runs, as the health line and page say
            out["model"] = self.model_version()
        if len(cams) == 1:
            return {**out, **next(iter(cams.values()))}
        return {**out, "cameras": cams}

    def result(self, stats: JobStats) -> WatchResult:
        per_camera = {c.camera.name: c.counters(s)
                      for c, s in zip(self.cameras, stats.sources, strict=True)}
        return WatchResult(stats, sum(c["events"] for c in per_camera.values()),
                           sum(c["detector_runs"] for c in per_camera.values()),
                           sum(c["frames"] for c in per_camera.values()),
                           self.delivered, self.pending, per_camera)


def _each(*steps: Callable[[], None]) -> None:
    """Run every step; raise the first error once all ran (others are logged)."""
    first: BaseException | None = None
    for step in steps:
        try:
            step()
        except BaseException as exc:  # the later steps still close their parts
            if first is None:
                first = exc
            else:
                log.exception("while stopping")
    if first is not None:
        raise first
