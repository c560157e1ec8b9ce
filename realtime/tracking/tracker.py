"""Stable track ids for detections: ByteTrack, one tracker state per source.

ByteTrack (Zhang et al., 2022) predicts every track's box with a Kalman filter, then
associates in two stages: confident detections first (IoU, Hungarian), then the
low-score ones, which only continue tracks that lost their confident match (an
object half hidden behind another still keeps its id). The algorithm comes from
Roboflow's `trackers` package (Apache-2.0, numpy + scipy); this module adapts it to
`Detections`: classes kept apart (a raccoon never inherits a person's id), one id
counter across classes, ids in input order, and time-based loss so that frames the
detector skipped (stride, motion gating, live drops) count as elapsed time.
"""

from __future__ import annotations

import warnings

import numpy as np

from realtime.detections import Detections
from realtime.tracking.base import Tracker, TrackInfo
from realtime.tracking.config import TrackConfig
from realtime.tracking.iou import IoUTracker

# Wider than any frame (and its boxes' motion): class k's boxes are tracked at x + k * this.
_CLASS_BAND = 1.0e6


class ByteTracker:
    """ByteTrack over `Detections`.

    Args:
        high_score: detections at or above it start tracks and match first; those below
            (down to whatever the detector let through) only continue tracks and are
            dropped when they match none.
        match_iou: least IoU between a predicted box and a detection.
        max_missed_s: a track unseen for longer is dropped (its id is never reused).
        min_hits: consecutive sightings before a track gets an id (until then ``-1``).
        fps: the nominal frame rate the Kalman filter's step is scaled to.
    """

    def __init__(self, high_score: float = 0.5, match_iou: float = 0.3,
                 max_missed_s: float = 1.0, min_hits: int = 2, fps: float = 30.0) -> None:
        try:
            from trackers import ByteTrackTracker
        except ImportError as exc:  # pragma: no cover - a dependency of lookout
            from core.errors import UserError

            raise UserError(f"tracking needs the 'trackers' package ({exc}); install it with "
                            "pip install trackers, or use --no-track") from None
        self._bt = ByteTrackTracker(
            lost_track_buffer=30, frame_rate=fps, track_activation_threshold=high_score,
            minimum_consecutive_frames=min_hits, minimum_iou_threshold=match_iou,
            high_conf_det_threshold=high_score)
        self._bt.maximum_time_without_update = max_missed_s
        self.high_score, self.max_missed_s, self.min_hits = high_score, max_missed_s, min_hits
        self._birth_id = -1
        self._ids: dict[int, int] = {}  # library id -> our id
        self.tracks: dict[int, TrackInfo] = {}
        self.ended: list[TrackInfo] = []
        self._next_id = 1

    def update(self, dets: Detections, timestamp: float) -> Detections:
        import supervision as sv

        # One library tracker for every class: each class's boxes are moved to a band of
        # their own far along x, so boxes of two classes never overlap (IoU 0) and never
        # associate; the Kalman filter's noise does not depend on position. One update a
        # frame instead of one per class (the per-call overhead is most of the cost).
        shift = np.zeros((len(dets), 4))
        shift[:, [0, 2]] = dets.class_ids[:, None].astype(np.float64) * _CLASS_BAND
        batch = sv.Detections(xyxy=dets.xyxy.astype(np.float64) + shift,
                              confidence=dets.scores.astype(np.float64),
                              class_id=dets.class_ids.astype(int),
                              data={"index": np.arange(len(dets))})
        with warnings.catch_warnings():  # duplicate timestamps: skip the predict, quietly
            warnings.simplefilter("ignore")
            out = self._bt.update(batch, timestamp=timestamp)
        lib_ids = out.tracker_id.copy()
        if self.min_hits == 1:
            self._confirm_births(out, lib_ids)
        ids = np.full(len(dets), -1, np.int32)
        for di, lib_id in zip(out.data.get("index", []), lib_ids, strict=True):
            if lib_id != -1:
                ids[di] = self._global_id(int(lib_id), dets.labels[di],
                                          int(dets.class_ids[di]), timestamp)
        alive = {self._ids[t.tracker_id] for t in self._bt.tracks if t.tracker_id in self._ids}
        self.ended = [t for tid, t in self.tracks.items() if tid not in alive]
        for t in self.ended:
            del self.tracks[t.id]
        if self.ended:
            self._ids = {k: v for k, v in self._ids.items() if v in self.tracks}
        for tid in ids[ids >= 0]:
            self.tracks[int(tid)].seen(timestamp)
        keep = (ids >= 0) | (dets.scores >= self.high_score)  # low and unmatched: background
        tracked = Detections(dets.xyxy, dets.scores, dets.class_ids, dets.labels, ids)
        return tracked if keep.all() else tracked[keep]

    def _confirm_births(self, out, lib_ids: np.ndarray) -> None:
        """With ``min_hits == 1`` a track has its id from its first sighting (the library
        confirms on the second). Tracks born this update are the last ones, in the order
        their detections come out; they get ids from a space the library never uses
        (<= -2: anything but -1 counts as confirmed there)."""
        born = [t for t in self._bt.tracks if t.tracker_id == -1 and t.time_since_update == 0
                and t.number_of_successful_consecutive_updates == 1]
        spawned = [k for k in range(len(out))
                   if lib_ids[k] == -1 and out.confidence[k] >= self.high_score]
        if len(born) != len(spawned):
            return  # not the layout this relies on: leave them to the library
        for tracklet, k in zip(born, spawned, strict=True):
            self._birth_id -= 1
            tracklet.tracker_id = lib_ids[k] = self._birth_id

    def _global_id(self, lib_id: int, label: str, class_id: int, timestamp: float) -> int:
        tid = self._ids.get(lib_id)
        if tid is None:
            tid = self._ids[lib_id] = self._next_id
            self._next_id += 1
            self.tracks[tid] = TrackInfo(tid, label, class_id, timestamp, timestamp, hits=0)
        return tid


def build_tracker(cfg: TrackConfig, high_score: float, fps: float,
                  max_missed_s: float | None = None) -> Tracker:
    """The tracker ``cfg.method`` names. Tracks are lost after ``max_missed_s`` seconds,
    by default after ``cfg.max_missed`` missed frames at ``fps`` (the sighting after
    them comes ``max_missed + 1`` frame times later; half a frame of slack)."""
    fps = fps if fps and fps > 0 else 30.0
    if max_missed_s is None:
        max_missed_s = (cfg.max_missed + 1.5) / fps
    if cfg.method == "iou":
        return IoUTracker(max_unseen_s=max_missed_s)
    return ByteTracker(high_score, cfg.match_iou, max_missed_s, cfg.min_hits, fps)
