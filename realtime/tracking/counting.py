"""Counting from tracks: crossings of lines per class and direction, objects inside
zones per class, and the time each track spent in each zone.

Geometry is given in pixels or as fractions of the frame (all coordinates <= 1) and
resolved on the first frame. A box is placed by its anchor point (bottom centre by
default: where a walker's feet touch the ground). A line counts a track at most once
per direction; "in" is crossing to the right-hand side when walking from the line's
first point to its second (on screen, y down: a left-to-right line counts downward
movement as "in").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import cv2
import numpy as np

from realtime.detections import Detections
from realtime.tracking.base import TrackInfo
from realtime.tracking.config import LineConfig, TrackConfig, ZoneConfig

DIRECTIONS = ("in", "out")


def anchor_points(xyxy: np.ndarray, anchor: str = "bottom_center") -> np.ndarray:
    """``[N, 2]`` anchor points of xyxy boxes."""
    x = (xyxy[:, 0] + xyxy[:, 2]) / 2
    y = {"bottom_center": xyxy[:, 3], "top_center": xyxy[:, 1],
         "center": (xyxy[:, 1] + xyxy[:, 3]) / 2}[anchor]
    return np.stack([x, y], 1).astype(np.float64)


def to_pixels(points: list[list[float]], width: int, height: int) -> np.ndarray:
    pts = np.asarray(points, np.float64)
    return pts * [width, height] if (pts <= 1).all() else pts


@dataclass
class LineCount:
    """One line's state: its pixels, each track's last side, what was counted."""

    cfg: LineConfig
    a: np.ndarray
    b: np.ndarray
    last: dict[int, np.ndarray] = field(default_factory=dict)  # track -> last off-line anchor
    crossed: set[tuple[int, str]] = field(default_factory=set)  # (track, direction)
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {d: defaultdict(int) for d in DIRECTIONS})

    def side(self, p: np.ndarray) -> float:
        d = self.b - self.a
        return float(d[0] * (p[1] - self.a[1]) - d[1] * (p[0] - self.a[0]))

    def observe(self, tid: int, label: str, p: np.ndarray) -> None:
        s1 = self.side(p)
        if s1 == 0:
            return  # on the line: decide once it is off it
        prev = self.last.get(tid)
        self.last[tid] = p
        if prev is None:
            return
        s0 = self.side(prev)
        if (s0 > 0) == (s1 > 0):
            return
        x = prev + (p - prev) * (s0 / (s0 - s1))  # where the path meets the line
        d = self.b - self.a
        t = float(np.dot(x - self.a, d) / np.dot(d, d))
        if not 0.0 <= t <= 1.0:
            return  # passed beside the segment
        direction = "in" if s1 > 0 else "out"
        if (tid, direction) not in self.crossed:
            self.crossed.add((tid, direction))
            self.counts[direction][label] += 1


@dataclass
class Stay:
    """One track's time in one zone."""

    label: str
    seconds: float = 0.0
    entered: float | None = None
    left: float | None = None
    last: tuple[float, bool] | None = None  # (timestamp, inside) of its last sighting


@dataclass
class ZoneCount:
    cfg: ZoneConfig
    polygon: np.ndarray
    inside: dict[str, int] = field(default_factory=dict)  # per label, this frame
    max_inside: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    stays: dict[int, Stay] = field(default_factory=dict)

    def contains(self, points: np.ndarray) -> np.ndarray:
        poly = self.polygon.astype(np.float32)
        return np.array([cv2.pointPolygonTest(poly, (float(x), float(y)), False) >= 0
                         for x, y in points], bool)

    def observe(self, tid: int, label: str, inside: bool, ts: float) -> None:
        stay = self.stays.get(tid)
        if stay is None:
            if not inside:
                return
            stay = self.stays[tid] = Stay(label)
        if inside:
            if stay.last is not None and stay.last[1]:
                stay.seconds += ts - stay.last[0]
            stay.entered = ts if stay.entered is None else stay.entered
            stay.left = ts
        stay.last = (ts, inside)


class Counter:
    """Lines and zones of one source, fed with tracked detections frame by frame."""

    def __init__(self, cfg: TrackConfig) -> None:
        self.cfg = cfg
        self.lines: list[LineCount] = []
        self.zones: list[ZoneCount] = []
        self._size: tuple[int, int] | None = None

    def __bool__(self) -> bool:
        return bool(self.cfg.lines or self.cfg.zones)

    def resolve(self, width: int, height: int) -> None:
        """Place the geometry in pixels (on the first frame; again if the size changes)."""
        if self._size == (width, height):
            return
        first = self._size is None
        self._size = (width, height)
        if first:
            self.lines = [LineCount(c, *to_pixels(c.points, width, height)) for c in self.cfg.lines]
            self.zones = [ZoneCount(c, to_pixels(c.points, width, height)) for c in self.cfg.zones]
        else:  # an image folder of mixed sizes: keep the counts, move the geometry
            for line in self.lines:
                line.a, line.b = to_pixels(line.cfg.points, width, height)
            for zone in self.zones:
                zone.polygon = to_pixels(zone.cfg.points, width, height)

    def update(self, dets: Detections, ts: float, width: int, height: int,
               ended: list[TrackInfo] = ()) -> None:
        """Count one detector run (``dets`` with track ids; untracked ones do not count)."""
        self.resolve(width, height)
        tracked = dets[dets.track_ids >= 0] if dets.track_ids is not None else dets[:0]
        points = anchor_points(tracked.xyxy, self.cfg.anchor)
        for line in self.lines:
            for tid, label, p in zip(tracked.track_ids, tracked.labels, points, strict=True):
                if not line.cfg.classes or label in line.cfg.classes:
                    line.observe(int(tid), label, p)
        for zone in self.zones:
            inside = zone.contains(points)
            zone.inside = {}
            for tid, label, flag in zip(tracked.track_ids, tracked.labels, inside, strict=True):
                if zone.cfg.classes and label not in zone.cfg.classes:
                    continue
                zone.observe(int(tid), label, bool(flag), ts)
                if flag:
                    zone.inside[label] = zone.inside.get(label, 0) + 1
            for label, n in zone.inside.items():
                zone.max_inside[label] = max(zone.max_inside[label], n)
        for track in ended:
            for line in self.lines:
                line.last.pop(track.id, None)

    # ------------------------------------------------------------------ queries

    def zone_mask(self, name: str, dets: Detections) -> np.ndarray:
        """Which of ``dets`` have their anchor inside zone ``name`` (after `resolve`)."""
        zone = next(z for z in self.zones if z.cfg.name == name)
        return zone.contains(anchor_points(dets.xyxy, self.cfg.anchor))

    def crossed(self, tid: int, line_name: str, direction: str) -> bool:
        line = next(ln for ln in self.lines if ln.cfg.name == line_name)
        return (tid, direction) in line.crossed

    # ------------------------------------------------------------------ reports

    def frame_record(self) -> dict:
        """Per-frame counts for the JSONL: crossings so far, objects inside now."""
        return {
            "lines": {ln.cfg.name: {d: dict(ln.counts[d]) for d in DIRECTIONS} for ln in self.lines},
            "zones": {z.cfg.name: dict(z.inside) for z in self.zones},
        }

    def summary(self) -> dict:
        """``counts.json``: per line and direction per class; per zone the most objects
        inside at once, the visits (tracks seen inside) and dwell times per track."""
        lines = {}
        for ln in self.lines:
            lines[ln.cfg.name] = {d: dict(sorted(ln.counts[d].items())) for d in DIRECTIONS}
            lines[ln.cfg.name]["total"] = {d: sum(ln.counts[d].values()) for d in DIRECTIONS}
        zones = {}
        for z in self.zones:
            stays = [(tid, s) for tid, s in sorted(z.stays.items()) if s.entered is not None]
            per_class: dict[str, dict] = {}
            for _, s in stays:
                c = per_class.setdefault(s.label, {"visits": 0, "dwell_s_total": 0.0,
                                                   "dwell_s_max": 0.0})
                c["visits"] += 1
                c["dwell_s_total"] = round(c["dwell_s_total"] + s.seconds, 3)
                c["dwell_s_max"] = round(max(c["dwell_s_max"], s.seconds), 3)
            for label, c in per_class.items():
                c["max_inside"] = z.max_inside[label]
            zones[z.cfg.name] = {
                "classes": dict(sorted(per_class.items())),
                "tracks": [{"track_id": tid, "label": s.label, "dwell_s": round(s.seconds, 3),
                            "entered": round(s.entered, 3), "left": round(s.left, 3)}
                           for tid, s in stays],
            }
        return {"anchor": self.cfg.anchor, "lines": lines, "zones": zones}
