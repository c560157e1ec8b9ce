"""The plain IoU matcher (watch mode's first tracker), kept as the baseline that
``lookout bench track`` compares ByteTrack against and as ``track.method = "iou"``.

Greedy matching per label by intersection-over-union, no motion model: two objects
of one class that cross swap ids, and a fast object outruns its own box.
"""

from __future__ import annotations

import numpy as np

from realtime.detections import Detections
from realtime.tracking.base import TrackInfo


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix ``[len(a), len(b)]`` of xyxy boxes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-6)


class IoUTracker:
    """Assigns every detection a track id at once; drops tracks unseen for
    ``max_unseen_s`` (reported in ``ended`` by the update that drops them)."""

    def __init__(self, iou_threshold: float = 0.2, max_unseen_s: float = 5.0) -> None:
        self.iou_threshold = iou_threshold
        self.max_unseen_s = max_unseen_s
        self.tracks: dict[int, TrackInfo] = {}
        self.ended: list[TrackInfo] = []
        self._boxes: dict[int, np.ndarray] = {}
        self._next_id = 1

    def update(self, dets: Detections, timestamp: float) -> Detections:
        """Match one detector run; returns ``dets`` with ``track_ids``."""
        self.ended = [t for t in self.tracks.values()
                      if timestamp - t.last_seen > self.max_unseen_s]
        for t in self.ended:
            del self.tracks[t.id], self._boxes[t.id]
        ids = [-1] * len(dets)
        tracks = list(self.tracks.values())
        boxes = np.stack([self._boxes[t.id] for t in tracks]) if tracks else np.zeros((0, 4))
        scores = iou(boxes, dets.xyxy)
        for ti, tr in enumerate(tracks):  # other labels never match
            for di in range(len(dets)):
                if dets.labels[di] != tr.label:
                    scores[ti, di] = 0.0
        while scores.size and scores.max() >= self.iou_threshold:
            ti, di = np.unravel_index(int(np.argmax(scores)), scores.shape)
            track = tracks[ti]
            self._boxes[track.id] = dets.xyxy[di].copy()
            track.seen(timestamp)
            ids[di] = track.id
            scores[ti, :] = -1.0
            scores[:, di] = -1.0
        for di in range(len(dets)):
            if ids[di] < 0:
                track = TrackInfo(self._next_id, dets.labels[di], int(dets.class_ids[di]),
                                  timestamp, timestamp)
                self.tracks[track.id] = track
                self._boxes[track.id] = dets.xyxy[di].copy()
                self._next_id += 1
                ids[di] = track.id
        return Detections(dets.xyxy, dets.scores, dets.class_ids, dets.labels, ids)
