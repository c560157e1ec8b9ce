"""The watch engine: a `Sink` that turns detections into events.

Per frame: the tracker (ByteTrack, the same as annotate's and live's) follows objects,
lines and zones are counted, rules filter the tracked detections, each (object, rule)
pair is confirmed K-of-N, and confirmed objects open events. One event
per visit: a second object of the same rule and label confirmed while an event is
open joins it, and after an event ends its rule's cooldown suppresses new ones.
Every phase is appended (fsynced) to ``events.jsonl`` and only then spooled for
the notifiers. Frames the motion gate skipped only advance time (ending events).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.fileio import atomic_write_text
from realtime.detections import Detections
from realtime.frames import Frame, FrameResult
from realtime.sinks.base import Sink
from realtime.tracking.config import TrackConfig
from realtime.tracking.counting import Counter
from realtime.tracking.tracker import build_tracker
from realtime.watch.clips import ClipRecorder
from realtime.watch.config import WatchConfig
from realtime.watch.events import Event, EventLog, new_event_id, utc_iso
from realtime.watch.motion import MotionGate
from realtime.watch.rules import Rule, RuleState
from realtime.watch.snapshots import SnapshotStore
from realtime.watch.spool import Spool

log = logging.getLogger("lookout.watch")
UPDATE_EVERY_S = 2.0  # at most one "update" (better snapshot) record per event this often


@dataclass
class Shot:
    """A snapshot candidate: ranked by (box not cut by the frame edge, score)."""

    rank: tuple[bool, float]
    frame: Frame
    dets: Detections  # the one box, for drawing


@dataclass
class Watch:
    """One rule's view of one tracked object."""

    state: RuleState
    start_frame: int = 0
    shot: Shot | None = None  # best view before confirmation


@dataclass
class OpenEvent:
    event: Event
    members: set[tuple[int, int]] = field(default_factory=set)  # (track id, rule index)
    shot: Shot | None = None
    dirty: bool = False  # shot better than the one on disk
    written_at: float = 0.0
    last_seen: float = 0.0
    last_frame: int = 0
    rule_index: int = 0


class WatchEngine(Sink):
    """Args:
        rules: compiled rules (`compile_rules`).
        cfg: the ``[watch]`` table (events folder, snapshots, clips).
        spool: where notified phases go after they are logged (None: log only).
        notifiers: notifier name -> the phases spooled for it (`notifiers.routes`); a
            plain list of names means ``[watch.delivery] on`` for each.
        gate: the motion gate to tell whether objects are present.
        on_spooled: called after something was spooled (wakes the delivery thread).
        track: the ``[track]`` table (tracker settings, the lines and zones rules name).
        fps: the source's frame rate (the tracker's motion model step).
    """

    def __init__(self, rules: list[Rule], cfg: WatchConfig, *, spool: Spool | None = None,
                 notifiers: list[str] | dict[str, frozenset[str]] | None = None,
                 gate: MotionGate | None = None, on_spooled: Callable[[], None] | None = None,
                 track: TrackConfig | None = None, fps: float = 0.0) -> None:
        self.rules, self.cfg = rules, cfg
        self.root = Path(cfg.events_dir)
        self.log = EventLog(self.root / "events.jsonl")
        self.snapshots = SnapshotStore(self.root, cfg.snapshot_keep, cfg.snapshot_max_age_days)
        self.clips = ClipRecorder(self.root, cfg.pre_roll_s, cfg.clip_max_s) if cfg.clip else None
        self.spool = spool
        self.routes = (dict(notifiers) if isinstance(notifiers, dict)
                       else {n: frozenset(cfg.delivery.on) for n in notifiers or []})
        self.gate, self.on_spooled = gate, on_spooled
        self.labels = frozenset().union(*(r.labels for r in rules))
        self.min_score = min(r.min_score for r in rules)
        track = track or TrackConfig()
        # K-of-N confirmation already filters flickers: ids from the first sighting. An
        # object unseen for a rule's end_after_s is gone: the tracker may forget it then.
        self.tracker = build_tracker(dataclasses.replace(track, min_hits=1), self.min_score,
                                     fps, max_missed_s=max(r.end_after_s for r in rules))
        self.counter = Counter(track)
        self.watches: dict[tuple[int, int], Watch] = {}
        self.open: dict[str, OpenEvent] = {}
        self.last_end: dict[int, float] = {}  # rule index -> when its last event ended
        self.frames = self.detector_runs = self.events = self.suppressed = 0
        self._closed = False
        self.snapshots.prune()

    # ------------------------------------------------------------------ per frame

    def write(self, result: FrameResult) -> None:
        frame = result.frame
        self.frames += 1
        if self.clips is not None:
            self.clips.push(frame)
        if result.detected:
            self.detector_runs += 1
            self._observe(frame, result.detections)
        self._expire(frame.timestamp)
        if self.gate is not None:
            self.gate.set_objects_present(bool(self.tracker.tracks))

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
                    watch = self.watches[key] = Watch(RuleState(rule), frame.index)
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

    def _seen(self, key: tuple[int, int], watch: Watch, frame: Frame, det: Detections) -> None:
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
            self._write_shot(opened)
            self._emit(opened.event, "update")

    def _cut(self, det: Detections, frame: Frame) -> bool:
        x0, y0, x1, y1 = det.xyxy[0]
        m = self.cfg.edge_margin
        return bool(x0 <= m or y0 <= m or x1 >= frame.width - m or y1 >= frame.height - m)

    # ------------------------------------------------------------------ event phases

    def _confirm(self, key: tuple[int, int], watch: Watch, frame: Frame) -> None:
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
            log.info("%s: %s confirmed %.1fs after the last event ended (cooldown %gs): no alert",
                     rule.name, label, state.first_match - last_end, rule.cooldown_s)
            return
        shot = watch.shot
        event = Event(id=new_event_id(), rule=rule.name, label=label, source=frame.source,
                      start=state.first_match, start_frame=watch.start_frame,
                      started_at=utc_iso(time.time() - (frame.timestamp - state.first_match)),
                      score=shot.rank[1], median_score=state.median,
                      box=[float(v) for v in shot.dets.xyxy[0]], frames_seen=sum(state.window))
        opened = OpenEvent(event, {key}, shot, dirty=True, last_seen=state.last_match,
                           last_frame=frame.index, rule_index=ri)
        state.event_id = event.id
        self.open[event.id] = opened
        self.events += 1
        self._write_shot(opened)
        if self.clips is not None:
            event.clip = self.clips.start(event.id)
        self._emit(event, "new")
        self.snapshots.prune()

    def _write_shot(self, opened: OpenEvent) -> None:
        shot, event = opened.shot, opened.event
        if shot is None:
            return
        event.snapshot, event.snapshot_clean = self.snapshots.save(event.id, shot.frame.rgb,
                                                                    shot.dets)
        event.score = shot.rank[1]
        event.box = [float(v) for v in shot.dets.xyxy[0]]
        opened.dirty, opened.written_at = False, shot.frame.timestamp

    def _expire(self, ts: float) -> None:
        for key, watch in list(self.watches.items()):
            if watch.state.expired(ts):
                self._leave(key, watch)
            if key[0] not in self.tracker.tracks and watch.state.last_match is None:
                del self.watches[key]  # the tracker let go of it and no event holds it

    def _leave(self, key: tuple[int, int], watch: Watch, reason: str = "unseen") -> None:
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

    def _end(self, opened: OpenEvent, reason: str) -> None:
        event = self.open.pop(opened.event.id).event
        if opened.dirty:
            self._write_shot(opened)
        if self.clips is not None:
            self.clips.stop(event.id)
        event.end, event.end_reason = opened.last_seen, reason
        event.end_frame = opened.last_frame
        self.last_end[opened.rule_index] = opened.last_seen
        self._emit(event, "end")

    def _emit(self, event: Event, phase: str) -> None:
        record = event.record(phase)
        self.log.append(record)  # durable before anyone is told
        log.info("event %s %s: %s (rule %s) score %.2f", phase, event.id, event.label,
                 event.rule, event.score)
        names = [n for n, phases in self.routes.items() if phase in phases]
        if self.spool is not None and names:
            self.spool.enqueue(record, names)
            if self.on_spooled is not None:
                self.on_spooled()

    # ------------------------------------------------------------------ stop

    def close(self) -> None:
        """End open events (reason ``stopped``), finalize clips, close the log."""
        if self._closed:
            return
        self._closed = True
        for opened in list(self.open.values()):
            self._end(opened, "stopped")
        self.watches.clear()
        if self.clips is not None:
            self.clips.close()
        self.log.close()
        if self.counter:
            atomic_write_text(self.root / "counts.json",
                              json.dumps(self.counter.summary(), indent=2) + "\n")
