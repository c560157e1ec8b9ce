"""The watch sink of one camera: its visit tracker, fed in frame order, and the event
recorder that writes what the tracker decides.

`WatchSink` is a `Sink`: ``write`` runs the (pure, fast) tracker on the camera's sink
thread and hands the phases to the recorder's queue; files, fsyncs and clips happen on
the recorder's thread. Several cameras share one recorder (one event log, one spool);
a standalone sink makes and owns its own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from core.fileio import atomic_write_text
from realtime.frames import FrameResult
from realtime.sinks.base import Sink
from realtime.tracking.setup import Tracking
from realtime.watch.live import LatestFrame
from realtime.watch.motion import MotionGate
from realtime.watch.recorder import EventRecorder
from realtime.watch.rules import Rule
from realtime.watch.spool import Spool
from realtime.watch.visits import VisitTracker


class WatchSink(Sink):
    """Args:
        rules: compiled rules (`compile_rules`).
        cfg: the ``[watch]`` table (events folder, snapshots, clips).
        camera: the camera's name, carried by its events.
        recorder: a shared recorder (not closed here); None = make one from the
            ``spool``, ``notifiers`` and ``on_spooled`` given, and close it in `close`.
        gate: the camera's motion gate, told whether objects are present.
        clock: the wall clock stamped on events (tests may pin it).
        tracking: the run's tracking builder (tracker settings, the lines and zones
            rules name); the visit tracker gets its tracker and counter from it.
        fps: the source's frame rate (the tracker's motion model step).
        latest: where each result is left for the page's live tile (None: no page).
        counts_path: where the line and zone counts go at the end (default: the events
            folder's ``counts.json``).
    """

    def __init__(self, rules: list[Rule], cfg, *, camera: str = "",
                 recorder: EventRecorder | None = None, spool: Spool | None = None,
                 notifiers: list[str] | dict[str, frozenset[str]] | None = None,
                 gate: MotionGate | None = None,
                 on_spooled: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.time, tracking: Tracking | None = None,
                 fps: float = 0.0, counts_path: str | Path | None = None,
                 latest: LatestFrame | None = None) -> None:
        self.camera, self.gate, self.clock, self.latest = camera, gate, clock, latest
        self.counts_path = Path(counts_path or Path(cfg.events_dir) / "counts.json")
        self.visits = VisitTracker(rules, camera, cfg.edge_margin, clips=cfg.clip,
                                   tracking=tracking, fps=fps)
        self.owns_recorder = recorder is None
        self.recorder = recorder or EventRecorder(cfg, spool, notifiers, on_spooled)
        self._closed = False

    # counters and state, read by the health line and tests
    frames = property(lambda self: self.visits.frames)
    detector_runs = property(lambda self: self.visits.detector_runs)
    events = property(lambda self: self.visits.events)
    suppressed = property(lambda self: self.visits.suppressed)
    open = property(lambda self: self.visits.open)
    watches = property(lambda self: self.visits.watches)
    tracker = property(lambda self: self.visits.tracker)
    counter = property(lambda self: self.visits.counter)

    def write(self, result: FrameResult) -> None:
        if self.latest is not None:  # one reference swap: the page does the rest
            self.latest.put(result)
        self.recorder.push_frame(self.camera, result.frame)
        self.recorder.submit(self.visits.update(result, self.clock()))
        if self.gate is not None:
            self.gate.set_objects_present(self.visits.present)

    def close(self) -> None:
        """End open events (reason ``stopped``); a recorder of its own is drained and closed."""
        if self._closed:
            return
        self._closed = True
        self.recorder.submit(self.visits.close(self.clock()))
        if self.owns_recorder:
            self.recorder.close()
        if self.visits.counter:  # lines or zones were counted
            atomic_write_text(self.counts_path,
                              json.dumps(self.visits.counter.summary(), indent=2) + "\n")
