"""`TrackStep`: the per-source tracking step in front of a source's sinks.

Each detector result goes through the tracker (ids), optional smoothing, the line and
zone counters and the trails, then on to the wrapped sinks with ``track_ids`` set and a
`TrackView` to draw. One step owns one tracker: one per source, never shared. At close
it closes the sinks and writes the ``counts.json`` summary (atomically).
"""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from pathlib import Path

import numpy as np

from core.fileio import atomic_write_text
from realtime.detections import Detections
from realtime.frames import FrameResult
from realtime.sinks.base import Sink
from realtime.tracking.base import Tracker, TrackInfo
from realtime.tracking.config import TrackConfig
from realtime.tracking.counting import Counter, anchor_points
from realtime.tracking.view import TrackView


class Smoother:
    """Exponential smoothing of each track's box and score (weight ``w`` on the past)."""

    def __init__(self, w: float) -> None:
        self.w = w
        self.state: dict[int, tuple[np.ndarray, float]] = {}

    def __call__(self, dets: Detections) -> Detections:
        if not self.w or dets.track_ids is None:
            return dets
        xyxy, scores = dets.xyxy.copy(), dets.scores.copy()
        for i, tid in enumerate(dets.track_ids):
            if tid < 0:
                continue
            old = self.state.get(int(tid))
            if old is not None:
                xyxy[i] = self.w * old[0] + (1 - self.w) * xyxy[i]
                scores[i] = self.w * old[1] + (1 - self.w) * scores[i]
            self.state[int(tid)] = (xyxy[i].copy(), float(scores[i]))
        return dataclasses.replace(dets, xyxy=xyxy, scores=scores)

    def forget(self, ended: list[TrackInfo]) -> None:
        for t in ended:
            self.state.pop(t.id, None)


class TrackStep(Sink):
    """Args:
        sinks: the source's sinks; they receive the tracked results.
        cfg: the ``[track]`` table (checked): smoothing and trails.
        tracker, counter: this source's own (`realtime.tracking.setup.Tracking` builds
            them, and the step: ``Tracking.step``).
        counts_path: where `close` writes the counts summary (None: nowhere).
    """

    def __init__(self, sinks: list[Sink], cfg: TrackConfig, tracker: Tracker, counter: Counter,
                 counts_path: str | Path | None = None) -> None:
        self.sinks, self.cfg = list(sinks), cfg
        self.tracker = tracker
        self.smoother = Smoother(cfg.smooth)
        self.counter = counter
        self.trails: dict[int, tuple[int, deque]] = {}
        self.counts_path = Path(counts_path) if counts_path else None
        self._closed = False

    def write(self, result: FrameResult) -> None:
        frame, dets = result.frame, result.detections
        if result.detected:
            dets = self.tracker.update(dets, frame.timestamp)
            ended = self.tracker.ended
            dets = self.smoother(dets)
            self.smoother.forget(ended)
            if self.counter:
                self.counter.update(dets, frame.timestamp, frame.width, frame.height, ended)
            if self.cfg.trails:
                self._grow_trails(dets, ended)
        elif dets.track_ids is None:
            dets = dataclasses.replace(dets, track_ids=np.full(len(dets), -1))
        view = self._view(frame.width, frame.height, dets)
        tracked = dataclasses.replace(result, detections=dets, tracking=view)
        for sink in self.sinks:
            sink.write(tracked)

    def _grow_trails(self, dets: Detections, ended: list[TrackInfo]) -> None:
        for t in ended:
            self.trails.pop(t.id, None)
        points = anchor_points(dets.xyxy, self.cfg.anchor)
        for tid, cid, p in zip(dets.track_ids, dets.class_ids, points, strict=True):
            if tid >= 0:
                trail = self.trails.setdefault(int(tid), (int(cid), deque(
                    maxlen=self.cfg.trail_length)))
                trail[1].append(p)

    def _view(self, width: int, height: int, dets: Detections) -> TrackView:
        shown = set() if dets.track_ids is None else {int(t) for t in dets.track_ids}
        trails = tuple((tid, cid, np.asarray(pts)) for tid, (cid, pts) in self.trails.items()
                       if len(pts) > 1 and tid in shown)  # a lost track's trail goes away
        if not self.counter:
            return TrackView(trails)
        self.counter.resolve(width, height)
        lines = tuple((ln.cfg.name, np.stack([ln.a, ln.b]),
                       {d: sum(ln.counts[d].values()) for d in ln.counts})
                      for ln in self.counter.lines)
        zones = tuple((z.cfg.name, z.polygon, sum(z.inside.values()))
                      for z in self.counter.zones)
        return TrackView(trails, lines, zones, self.counter.frame_record())

    def summary(self) -> dict:
        return self.counter.summary()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        error: BaseException | None = None
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001 - finalize the others, re-raise the first
                error = error or exc
        if self.counts_path is not None and self.counter:
            atomic_write_text(self.counts_path, json.dumps(self.summary(), indent=2) + "\n")
        if error is not None:
            raise error

