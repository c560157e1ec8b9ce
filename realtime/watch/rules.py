"""Alert rules: which detections count, and when a tracked object becomes an event.

A `Rule` is a checked, compiled ``[[watch.rules]]`` entry (or an ``--alert`` flag).
Per detection it tests label, score, box area and zone; per tracked object a
`RuleState` keeps the last N detector runs and confirms the object when it was
matched in K of them and its median score is high enough.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from core.errors import UserError
from realtime.detections import Detections
from realtime.tracking.config import TrackConfig
from realtime.watch.config import WatchRuleConfig


@dataclass(frozen=True)
class Rule:
    """A validated rule. Zones are ``[M, 2]`` float32 polygons; ``zones_fraction`` says
    whether their coordinates (and areas <= 1) are fractions of the frame."""

    name: str
    labels: frozenset[str]
    min_score: float
    median_score: float
    min_area: float
    max_area: float
    zones: tuple[np.ndarray, ...]
    zones_fraction: bool
    confirm_k: int
    confirm_n: int
    end_after_s: float
    cooldown_s: float
    zone: str = ""  # a [[track.zones]] name the object must be in ('' = anywhere)
    crossing: tuple[str, str] | None = None  # (line name, "in" | "out") it must have crossed

    def match(self, dets: Detections, width: int, height: int) -> np.ndarray:
        """Boolean mask of the detections this rule accepts in a ``width`` x ``height`` frame."""
        if len(dets) == 0:
            return np.zeros(0, bool)
        keep = np.isin(np.asarray(dets.labels, dtype=object), list(self.labels))
        keep &= dets.scores >= self.min_score
        frame_area = float(width * height)
        lo = self.min_area * frame_area if self.min_area <= 1 else self.min_area
        hi = self.max_area * frame_area if self.max_area <= 1 else self.max_area
        keep &= (dets.area >= lo) & (dets.area <= hi)
        if self.zones:
            scale = np.array([width, height], np.float32) if self.zones_fraction else 1.0
            feet = np.stack([(dets.xyxy[:, 0] + dets.xyxy[:, 2]) / 2, dets.xyxy[:, 3]], 1)
            in_zone = np.array([
                any(cv2.pointPolygonTest(zone * scale, (float(x), float(y)), False) >= 0
                    for zone in self.zones)
                for x, y in feet
            ], bool)
            keep &= in_zone
        return keep


class RuleState:
    """One rule's view of one tracked object: K-of-N confirmation and median score."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.window: deque[bool] = deque(maxlen=rule.confirm_n)
        self.scores: deque[float] = deque(maxlen=256)  # bounded: weeks-long tracks
        self.first_match: float | None = None  # start of the current streak
        self.last_match: float | None = None
        self.event_id: str | None = None  # set once the object became an event
        self.suppressed = False  # confirmed during the rule's cooldown: never alerts

    def observe(self, matched: bool, score: float, timestamp: float) -> None:
        """Record one detector run on this object (``matched``: the rule accepted it)."""
        self.window.append(matched)
        if matched:
            self.scores.append(score)
            if self.first_match is None:
                self.first_match = timestamp
            self.last_match = timestamp

    def reset(self) -> None:
        """Forget the streak (the object left): it must be confirmed again."""
        self.window.clear()
        self.scores.clear()
        self.first_match = self.last_match = None
        self.event_id, self.suppressed = None, False

    @property
    def median(self) -> float:
        return float(np.median(self.scores)) if self.scores else 0.0

    def confirmed(self) -> bool:
        return sum(self.window) >= self.rule.confirm_k and self.median >= self.rule.median_score

    def expired(self, timestamp: float) -> bool:
        """True once the rule has not matched the object for ``end_after_s``."""
        return self.last_match is not None and timestamp - self.last_match > self.rule.end_after_s


# --------------------------------------------------------------------------- building


def parse_alert_flag(text: str) -> WatchRuleConfig:
    """``--alert LABEL[:MIN_SCORE]`` as a rule config (median threshold = max(min_score, default))."""
    label, sep, score_text = text.rpartition(":") if ":" in text else (text, "", "")
    label = label.strip()
    if not label:
        raise UserError(f"--alert {text!r}: expected LABEL or LABEL:MIN_SCORE")
    rule = WatchRuleConfig(name=label, labels=[label])
    if sep:
        try:
            score = float(score_text)
        except ValueError:
            score = -1.0
        if not 0.0 <= score <= 1.0:
            raise UserError(f"--alert {text!r}: MIN_SCORE must be a number in [0, 1]")
        rule.min_score = score
        rule.median_score = max(score, rule.median_score)
    return rule


def compile_rules(configs: list[WatchRuleConfig], names: dict[int, str] | None,
                  where: str = "watch.rules", places: TrackConfig | None = None) -> list[Rule]:
    """Check and compile rule configs against the model's labels.

    Without any rule, every label of the model alerts with the defaults. ``where`` names
    the origin in errors, e.g. ``config.toml: watch.rules``. ``names=None`` checks
    everything but the labels (before the model is loaded). ``places``: the ``[track]``
    table whose lines and zones ``zone`` and ``crossing`` name (None: names unchecked).

    Raises:
        UserError: ``WHERE[i].KEY: what is wrong`` for the first bad value.
    """
    if not configs and names is not None:
        configs = [WatchRuleConfig(name="any", labels=sorted(set(names.values())))]
    return [_compile(c, names, f"{where}[{i}]", places) for i, c in enumerate(configs)]


def rules_for_model(configs: list[WatchRuleConfig], compiled: list[Rule],
                    names: dict[int, str], where: str = "watch.rules") -> list[Rule]:
    """``compiled`` (`compile_rules` of ``configs`` without labels, before the model
    loaded) checked against the model's labels; no rule: every label alerts.

    Raises:
        UserError: ``WHERE[i].labels: 'x' is not a label of this model (it has: ...)``.
    """
    if not configs:
        return compile_rules([], names, where)
    for i, c in enumerate(configs):
        _check_labels(c, names, f"{where}[{i}]")
    return compiled


def _check_labels(c: WatchRuleConfig, names: dict[int, str], where: str) -> None:
    known = set(names.values())
    for label in c.labels:
        if label not in known:
            raise UserError(f"{where}.labels: {label!r} is not a label of this model "
                            f"(it has: {', '.join(sorted(known))})")


def _compile(c: WatchRuleConfig, names: dict[int, str] | None, where: str,
             places: TrackConfig | None = None) -> Rule:
    def bad(key: str, message: str) -> UserError:
        return UserError(f"{where}.{key}: {message}")

    if not c.labels:
        raise bad("labels", "needs at least one label")
    if names is not None:
        _check_labels(c, names, where)
    # ranges and K <= N are checked when the WatchRuleConfig is built
    zones, fraction = _zones(c.zones, lambda i, m: bad(f"zones[{i}]", m))
    line, _, direction = c.crossing.rpartition(":")  # the form is checked by the config
    crossing = (line, direction) if c.crossing else None
    if places is not None:
        zone_names, line_names = {z.name for z in places.zones}, {ln.name for ln in places.lines}
        if c.zone and c.zone not in zone_names:
            raise bad("zone", f"{c.zone!r} is not a [[track.zones]] name (there are: "
                              f"{', '.join(sorted(zone_names)) or 'none'})")
        if crossing and line not in line_names:
            raise bad("crossing", f"{line!r} is not a [[track.lines]] name (there are: "
                                  f"{', '.join(sorted(line_names)) or 'none'})")
    return Rule(
        name=c.name or "+".join(c.labels), labels=frozenset(c.labels), min_score=c.min_score,
        median_score=c.median_score, min_area=c.min_area, max_area=c.max_area, zones=zones,
        zones_fraction=fraction, confirm_k=c.confirm_k, confirm_n=c.confirm_n,
        end_after_s=c.end_after_s, cooldown_s=c.cooldown_s, zone=c.zone, crossing=crossing,
    )


def _zones(raw: list[list[list[float]]], bad) -> tuple[tuple[np.ndarray, ...], bool]:
    zones = []
    for i, poly in enumerate(raw):
        if len(poly) < 3 or any(len(p) != 2 for p in poly):
            raise bad(i, "a polygon needs at least 3 points, each [x, y]")
        pts = np.asarray(poly, np.float32)
        if not np.isfinite(pts).all() or (pts < 0).any():
            raise bad(i, "polygon coordinates must be finite and >= 0")
        if abs(cv2.contourArea(pts)) <= 0:
            raise bad(i, "polygon has zero area (points on one line?)")
        zones.append(pts)
    if not zones:
        return (), True
    fractions = [bool((z <= 1).all()) for z in zones]
    if len(set(fractions)) > 1:
        raise bad(0, "mix of fractional (all <= 1) and pixel polygons; use one unit")
    return tuple(zones), fractions[0]
