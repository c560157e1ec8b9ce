"""The ``[track]`` table: tracker settings, counting lines (``[[track.lines]]``) and
zones (``[[track.zones]]``). Ranges, choices and the geometry are checked when a table is
built (see `core.config`); unnamed lines and zones are named line1, zone1, ..."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from core.config import Problem, Section, doc
from core.errors import UserError

ANCHORS = ("bottom_center", "center", "top_center")
METHODS = ("bytetrack", "iou")


def _points_problems(points: list[list[float]], line: bool) -> Iterable[Problem]:
    shape = "two points [[x1, y1], [x2, y2]]" if line else "at least 3 points [[x, y], ...]"
    if (len(points) != 2 if line else len(points) < 3) or any(len(p) != 2 for p in points):
        yield "points", f"needs {shape}"
    elif any(not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0
             for p in points for v in p):
        yield "points", "coordinates must be numbers >= 0"
    elif line and points[0] == points[1]:
        yield "points", "the two points are the same"


@dataclass
class LineConfig(Section):
    """One counting line: crossings per class and direction."""

    table = "track.lines"

    name: str = doc("", "name in counts and watch rules ('' = line1, line2, ...)")
    points: list[list[float]] = doc([], "[[x1, y1], [x2, y2]] (all <= 1: fractions of the "
                                        "frame, else pixels); 'in' = crossing to the right-hand "
                                        "side walking from the first point to the second")
    classes: list[str] = doc([], "count only these labels ([] = all)")

    def problems(self) -> Iterable[Problem]:
        yield from _points_problems(self.points, line=True)


@dataclass
class ZoneConfig(Section):
    """One zone: objects inside now, per class, and the time each track spent inside."""

    table = "track.zones"

    name: str = doc("", "name in counts and watch rules ('' = zone1, zone2, ...)")
    points: list[list[float]] = doc([], "polygon [[x, y], ...] (all <= 1: fractions, else pixels)")
    classes: list[str] = doc([], "count only these labels ([] = all)")

    def problems(self) -> Iterable[Problem]:
        yield from _points_problems(self.points, line=False)


@dataclass
class TrackConfig(Section):
    table = "track"

    enabled: bool = doc(True, "give detections track ids (annotate, live, batch; watch always "
                                  "tracks)")
    method: str = doc("bytetrack", "bytetrack (Kalman motion + two-stage score association) | "
                                   "iou (the plain greedy IoU matcher, for comparison)",
                      choices=METHODS)
    low_score: float = doc(0.1, "ByteTrack's second stage: detections between this and "
                                "detector.score only continue existing tracks", ge=0.0, le=1.0)
    match_iou: float = doc(0.3, "least IoU between a predicted track box and a detection",
                           ge=0.0, le=1.0)
    max_missed: int = doc(30, "frames a lost track is kept to pick it up again", ge=0)
    min_hits: int = doc(2, "consecutive sightings before a track gets its id "
                           "(one-frame flickers never take an id)", ge=1)
    anchor: str = doc("bottom_center", "the point of a box that crosses lines and is inside "
                                       "zones: bottom_center | center | top_center",
                      choices=ANCHORS)
    trails: bool = doc(False, "draw each track's recent path")
    trail_length: int = doc(30, "points in a drawn trail", ge=2)
    smooth: float = doc(0.0, "smooth boxes and scores along a track: weight of the past in "
                             "[0, 1) (0 = off, 0.6 = calm)", ge=0.0, lt=1.0)
    lines: list[LineConfig] = doc([], "counting lines ([[track.lines]])")
    zones: list[ZoneConfig] = doc([], "counting zones ([[track.zones]])")

    def __post_init__(self) -> None:
        for kind, items in (("line", self.lines), ("zone", self.zones)):
            for i, item in enumerate(items):
                item.name = item.name or f"{kind}{i + 1}"
        super().__post_init__()

    def problems(self) -> Iterable[Problem]:
        seen: set[str] = set()
        for kind, items in (("lines", self.lines), ("zones", self.zones)):
            for i, item in enumerate(items):
                if item.name in seen:
                    yield f"{kind}[{i}].name", f"{item.name!r} is used twice"
                seen.add(item.name)


def parse_line_flag(text: str, index: int) -> LineConfig:
    """``--line x1,y1,x2,y2`` (pixels, or fractions when all <= 1) as a `LineConfig`."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or any(v < 0 for v in values) or values[:2] == values[2:]:
        raise UserError(f"--line {text!r}: expected x1,y1,x2,y2, two different points "
                        "(numbers >= 0; all <= 1 for fractions of the frame)")
    return LineConfig(name=f"line{index}", points=[values[:2], values[2:]])
