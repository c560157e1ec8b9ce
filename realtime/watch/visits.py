"""The visit tracker: detections and frame times in, event phases out.

Pure: no files, no clocks of its own (the caller passes the wall time of each frame),
no threads. Per frame, the tracker (ByteTrack, the same as annotate's and live's)
follows objects, lines and zones are counted, rules filter the tracked detections, each
(object, rule) pair is confirmed K-of-N, and confirmed objects open events. One
event per visit: a second object of the same rule and label confirmed while an event is
open joins it, and after an event ends its rule's cooldown suppresses new ones. Frames
the motion gate skipped only advance time (ending events).

Each phase comes out as a `Phase`: a copy of the event at that moment, and the snapshot
to write first when a better view was found. `realtime.watch.recorder` does the writing.
One tracker per camera.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import numpy as np

from realtime.detections import Detections
from realtime.frames import Frame, FrameResult
from realtime.tracking.setup import Tracking
from realtime.watch.camera import slug
from realtime.watch.events import Event, new_event_id, utc_iso
from realtime.watch.rules import Rule, RuleState

log = logging.getLogger("lookout.watch")
UPDATE_EVERY_S = 2.0  # at most one "update" (better snapshot) record per event this often


def snapshot_paths(event_id: str) -> tuple[str, str]:
    """The boxed and clean snapshot of an event, relative to the events folder."""
    return f"snapshots/{event_id}.jpg", f"snapshots/{event_id}.clean.jpg"


def clip_path(event_id: str) -> str:
    return f"clips/{event_id}.mp4"


@dataclass
class Shot:
    """A snapshot candidate: ranked by (box not cut by the frame edge, score)."""

    rank: tuple[bool, float]
    frame: Frame
    dets: Detections  # the one box, for drawing


@dataclass
class Phase:
    """One event phase for the recorder: write ``shot`` (if any) as the event's
    snapshot, start or stop its clip, then log ``event.record(kind)``."""

    kind: str  # "new" | "update" | "end"
    event: Event  # a copy: later frames never change what this phase says
    camera: str = ""
    shot: Shot | None = None


@dataclass
class _Watch:
    """One rule's view of one tracked object."""

    state: RuleState
    start_frame: int = 0
    shot: Shot | None = None  # best view before confirmation


@dataclass
class _Open:
    event: Event
    members: set[tuple[int, int]] = field(default_factory=set)  # (track id, rule index)
    shot: Shot | None = None
    dirty: bool = False  # shot better than the one written
    written_at: float = 0.0
    last_seen: float = 0.0
    last_frame: int = 0
    rule_index: int = 0


class VisitTracker:
    """Args:
        rules: compiled rules (`compile_rules`).
        camera: the camera's name, carried by every event (and its id, so file names).
        edge_margin: a box this close to the frame edge counts as cut (worse snapshot).
        clips: events get a clip path (the recorder records it).
        tracking: the run's tracking builder (`Tracking`): this camera's tracker and its
            line and zone counter come from it (tracker settings, the lines and zones
            rules name).
        fps: the source's frame rate (the tracker's motion model step).
    """

    def __init__(self, rules: list[Rule], camera: str = "", edge_margin: int = 2,
                 clips: bool = False, tracking: Tracking | None = None,
                 fps: float = 0.0) -> None:
        self.rules, self.camera, self.edge_margin, self.clips = rules, camera, edge_margin, clips
        self.labels = frozenset().union(*(r.labels for r in rules))
        self.min_score = min(r.min_score for r in rules)
        tracking = tracking or Tracking()
        # K-of-N confirmation already filters flickers: ids from the first sighting. An
        # object unseen for a rule's end_after_s is gone: the tracker may forget it then.
        self.tracker = tracking.tracker(fps, high_score=self.min_score, min_hits=1,
                                        max_missed_s=max(r.end_after_s for r in rules))
        self.counter = tracking.counter()
        self.watches: dict[tuple[int, int], _Watch] = {}
        self.open: dict[str, _Open] = {}
        self.last_end: dict[int, float] = {}  # rule index -> when its last event ended
        self.frames = self.detector_runs = self.events = self.suppressed = 0
        self._out: list[Phase] = []
        self._wall = 0.0

    @property
    def present(self) -> bool:
        """Objects are being followed (the motion gate re-checks while they are)."""
        return bool(self.tracker.tracks)

    def update(self, result: FrameResult, wall: float) -> list[Phase]:
        """One frame (in order); ``wall`` = its UTC wall-clock time. Returns its phases."""
        self._out, self._wall = [], wall
        self.frames += 1
        if result.detected:
            self.detector_runs += 1
            self._observe(result.frame, result.detections)
        self._expire(result.frame.timestamp)
        return self._out

    def close(self, wall: float) -> list[Phase]:
        """End every open event (reason ``stopped``)."""
        self._out, self._wall = [], wall
        for opened in list(self.open.values()):
            self._end(opened, "stopped")
        self.watches.clear()
        return self._out

    # ------------------------------------------------------------------ per frame

    def _observe(self, frame: Frame, dets: Detections) -> None:
        ts = frame.timestamp
        if len(dets):  # low scores too: ByteTrack uses them to keep tracks through occlusion
            dets = dets[np.isin(np.asarray(dets.labels, object), list(self.labels))]
        dets = self.tracker.update(dets, ts)
        self.counter.update(dets, ts, frame.width, frame.height, self.tracker.ended)
        masks = [self._match(rule, dets, frame) for rule in self.rules]
        seen = {int(tid): i for i, tid in enumerate(dets.track_ids) if tid >= 0}
        for tid, track in self.tracker.tracks.items():
            for ri, rule in enumerate(self.rules):
                if track.label not in rule.labels:
                    continue
                key = (tid, ri)
                watch = self.watches.get(key)
                if watch is None:
                    watch = self.watches[key] = _Watch(RuleState(rule), frame.index)
                di = seen.get(tid)
                matched = di is not None and bool(masks[ri][di])
                if matched and watch.state.first_match is None:
                    watch.start_frame = frame.index
                watch.state.observe(matched, float(dets.scores[di]) if matched else 0.0, ts)
                if matched:
                    self._seen(key, watch, frame, dets[di])

    def _match(self, rule: Rule, dets: Detections, frame: Frame) -> np.ndarray:
        mask = rule.match(dets, frame.width, frame.height)
        if rule.zone and len(dets):
            mask &= self.counter.zone_mask(rule.zone, dets)
        if rule.crossing is not None and len(dets):
            line, direction = rule.crossing
            mask &= np.array([tid >= 0 and self.counter.crossed(int(tid), line, direction)
                              for tid in dets.track_ids], bool)
        return mask

    def _seen(self, key: tuple[int, int], watch: _Watch, frame: Frame, det: Detections) -> None:
        shot = Shot((not self._cut(det, frame), float(det.scores[0])), frame, det)
        state = watch.state
        if state.event_id is None:
            if watch.shot is None or shot.rank > watch.shot.rank:
                watch.shot = shot
            if not state.suppressed and state.confirmed():
                self._confirm(key, watch, frame)
            return
        opened = self.open[state.event_id]
        opened.last_seen, opened.last_frame = frame.timestamp, frame.index
        opened.event.frames_seen += 1
        opened.event.median_score = max(opened.event.median_score, state.median)
        if opened.shot is None or shot.rank > opened.shot.rank:
            opened.shot, opened.dirty = shot, True
        if opened.dirty and frame.timestamp - opened.written_at >= UPDATE_EVERY_S:
            self._emit(opened, "update")

    def _cut(self, det: Detections, frame: Frame) -> bool:
        x0, y0, x1, y1 = det.xyxy[0]
        m = self.edge_margin
        return bool(x0 <= m or y0 <= m or x1 >= frame.width - m or y1 >= frame.height - m)

    # ------------------------------------------------------------------ event phases

    def _confirm(self, key: tuple[int, int], watch: _Watch, frame: Frame) -> None:
        ri, state = key[1], watch.state
        rule, label = self.rules[ri], self.tracker.tracks[key[0]].label
        for opened in self.open.values():  # same visit: join the open event
            if opened.rule_index == ri and opened.event.label == label:
                opened.members.add(key)
                opened.last_seen = max(opened.last_seen, state.last_match)
                state.event_id = opened.event.id
                if watch.shot is not None and (opened.shot is None
                                               or watch.shot.rank > opened.shot.rank):
                    opened.shot, opened.dirty = watch.shot, True
                return
        last_end = self.last_end.get(ri)
        if last_end is not None and state.first_match - last_end < rule.cooldown_s:
            state.suppressed = True
            self.suppressed += 1
            log.info("%s%s: %s confirmed %.1fs after the last event ended (cooldown %gs): "
                     "no alert", f"{self.camera}: " if self.camera else "", rule.name, label,
                     state.first_match - last_end, rule.cooldown_s)
            return
        shot = watch.shot
        started = self._wall - (frame.timestamp - state.first_match)
        event_id = new_event_id(started)
        if self.camera:  # the camera in the id, so in snapshot and clip names too
            stamp, _, tail = event_id.partition("-")
            event_id = f"{stamp}-{slug(self.camera)}-{tail}"
        event = Event(id=event_id, rule=rule.name, label=label, source=frame.source,
                      camera=self.camera, start=state.first_match,
                      start_frame=watch.start_frame, started_at=utc_iso(started),
                      score=shot.rank[1], median_score=state.median,
                      box=[float(v) for v in shot.dets.xyxy[0]], frames_seen=sum(state.window),
                      zone=rule.zone, crossing=":".join(rule.crossing or ()))
        if self.clips:
            event.clip = clip_path(event.id)
        opened = _Open(event, {key}, shot, dirty=True, last_seen=state.last_match,
                       last_frame=frame.index, rule_index=ri)
        state.event_id = event.id
        self.open[event.id] = opened
        self.events += 1
        self._emit(opened, "new")

    def _expire(self, ts: float) -> None:
        for key, watch in list(self.watches.items()):
            if watch.state.expired(ts):
                self._leave(key, watch)
            if key[0] not in self.tracker.tracks and watch.state.last_match is None:
                del self.watches[key]  # the tracker let go of it and no event holds it

    def _leave(self, key: tuple[int, int], watch: _Watch, reason: str = "unseen") -> None:
        """The object stopped matching the rule: reset it; close its event if it was last."""
        event_id = watch.state.event_id
        watch.state.reset()
        watch.shot = None
        if event_id is None or event_id not in self.open:
            return
        opened = self.open[event_id]
        opened.members.discard(key)
        if not opened.members:
            self._end(opened, reason)

    def _end(self, opened: _Open, reason: str) -> None:
        event = self.open.pop(opened.event.id).event
        event.end, event.end_reason = opened.last_seen, reason
        event.end_frame = opened.last_frame
        self.last_end[opened.rule_index] = opened.last_seen
        self._emit(opened, "end")

    def _emit(self, opened: _Open, kind: str) -> None:
        """Queue one phase; a better shot than the last one written goes with it."""
        shot = None
        if opened.dirty and opened.shot is not None:
            shot, event = opened.shot, opened.event
            event.snapshot, event.snapshot_clean = snapshot_paths(event.id)
            event.score = shot.rank[1]
            event.box = [float(v) for v in shot.dets.xyxy[0]]
            opened.dirty, opened.written_at = False, shot.frame.timestamp
        self._out.append(Phase(kind, dataclasses.replace(opened.event,
                                                          box=list(opened.event.box)),
                               self.camera, shot))
