"""The event recorder: its own thread writes what the visit trackers decide.

For each `Phase`, in order: the snapshot JPEGs (atomic, fsynced), the clip start/stop,
the ``events.jsonl`` line (fsynced), then the spool entry for the notifiers. Phases
arrive through a lossless bounded queue: a slow disk slows the recorder, and only when
the queue is full the camera's sink thread, never the detector. Frames for the clips'
pre-roll ride the same queue but are best effort: past half the queue they are skipped
(a clip gets a gap, an event is never lost). One recorder serves every camera of a run.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from realtime.frames import Frame
from realtime.watch.clips import ClipRecorder
from realtime.watch.config import WatchConfig
from realtime.watch.events import EventLog
from realtime.watch.snapshots import SnapshotStore
from realtime.watch.spool import Spool
from realtime.watch.visits import Phase

log = logging.getLogger("lookout.watch")
QUEUE_SIZE = 256
_END = object()


class EventRecorder:
    """Args:
        cfg: the ``[watch]`` table (events folder, retention, clips).
        spool: where notified phases go after they are logged (None: log only).
        notifiers: notifier name -> the phases spooled for it (`notifiers.routes`); a
            plain list of names means ``[watch.delivery] on`` for each.
        on_spooled: called after something was spooled (wakes the delivery thread).
    """

    def __init__(self, cfg: WatchConfig, spool: Spool | None = None,
                 notifiers: list[str] | dict[str, frozenset[str]] | None = None,
                 on_spooled: Callable[[], None] | None = None) -> None:
        from pathlib import Path

        self.cfg = cfg
        self.root = Path(cfg.events_dir)
        self.log = EventLog(self.root / "events.jsonl")
        self.snapshots = SnapshotStore(self.root, cfg.snapshot_keep, cfg.snapshot_max_age_days)
        self.clips: dict[str, ClipRecorder] = {}
        self.spool = spool
        self.routes = (dict(notifiers) if isinstance(notifiers, dict)
                       else {n: frozenset(cfg.delivery.on) for n in notifiers or []})
        self.on_spooled = on_spooled
        self.queue: queue.Queue = queue.Queue(QUEUE_SIZE)
        self.error: BaseException | None = None
        self.skipped_frames = 0
        self.written = 0  # phases logged
        self._stop = threading.Event()
        self.snapshots.prune()
        self._thread = threading.Thread(target=self._loop, name="watch-recorder", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ producers

    def submit(self, phases: list[Phase]) -> None:
        """Queue phases (lossless: waits while the queue is full)."""
        for phase in phases:
            self._put(("phase", phase))

    def push_frame(self, camera: str, frame: Frame) -> None:
        """A frame for ``camera``'s clip pre-roll and open clips (best effort)."""
        if not self.cfg.clip:
            return
        if self.queue.qsize() > QUEUE_SIZE // 2:
            self.skipped_frames += 1
            return
        self._put(("frame", (camera, frame)))

    def _put(self, item) -> None:
        while True:
            self._raise()
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _raise(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"event recorder failed: {self.error}") from self.error

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far is written (tests, shutdown)."""
        done = threading.Event()
        self._put(("sync", done))
        done.wait(timeout)
        self._raise()

    def close(self) -> None:
        """Write everything still queued, finalize clips, close the log."""
        if self._thread.is_alive():
            self._put(_END)
            self._thread.join(timeout=60)
        for clips in self.clips.values():
            clips.close()
        self.log.close()
        self._raise()

    # ------------------------------------------------------------------ the thread

    def _loop(self) -> None:
        while True:
            item = self.queue.get()
            if item is _END:
                return
            kind, payload = item
            try:
                if kind == "frame":
                    camera, frame = payload
                    self._clips(camera).push(frame)
                elif kind == "phase":
                    self._record(payload)
                else:
                    payload.set()
            except BaseException as exc:  # noqa: BLE001 - reported to the producers
                log.error("event recorder: %s", exc)
                self.error = exc
                if kind == "sync":
                    payload.set()
                return

    def _clips(self, camera: str) -> ClipRecorder:
        if camera not in self.clips:
            self.clips[camera] = ClipRecorder(self.root, self.cfg.pre_roll_s, self.cfg.clip_max_s)
        return self.clips[camera]

    def _record(self, phase: Phase) -> None:
        event = phase.event
        if phase.shot is not None:
            self.snapshots.save(event.id, phase.shot.frame.rgb, phase.shot.dets)
        if self.cfg.clip and phase.kind == "new":
            self._clips(phase.camera).start(event.id)
        if self.cfg.clip and phase.kind == "end":
            self._clips(phase.camera).stop(event.id)
        record = event.record(phase.kind)
        self.log.append(record)  # durable before anyone is told
        self.written += 1
        where = f"{phase.camera}: " if phase.camera else ""
        log.info("%sevent %s %s: %s (rule %s) score %.2f", where, phase.kind, event.id,
                 event.label, event.rule, event.score)
        names = [n for n, phases in self.routes.items() if phase.kind in phases]
        if self.spool is not None and names:
            self.spool.enqueue(record, names)
            if self.on_spooled is not None:
                self.on_spooled()
        if phase.kind == "new":
            self.snapshots.prune()

