"""What every tracker gives: `TrackInfo` per followed object and the `Tracker` protocol
(ByteTrack in `realtime.tracking.tracker`, plain IoU in `realtime.tracking.iou`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from realtime.detections import Detections


@dataclass
class TrackInfo:
    """One followed object (times in source seconds)."""

    id: int
    label: str
    class_id: int
    first_seen: float
    last_seen: float
    hits: int = 1

    def seen(self, timestamp: float) -> None:
        self.last_seen, self.hits = timestamp, self.hits + 1


class Tracker(Protocol):
    """What the track step and the watch sink need from a tracker."""

    tracks: dict[int, TrackInfo]  # alive tracks by id
    ended: list[TrackInfo]  # tracks dropped by the last update

    def update(self, dets: Detections, timestamp: float) -> Detections:
        """Detections of one detector run (in time order) with ``track_ids``."""
        ...
