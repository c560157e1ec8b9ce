"""A simple IoU tracker: one physical object keeps one id across detector runs.

Greedy matching per label by intersection-over-union. That is enough at a doorbell:
few objects, and the detector runs on every frame while things move (motion gating),
so boxes of one object overlap strongly from run to run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from realtime.detections import Detections


@dataclass
class Track:
    """One object followed over time (boxes in pixels, times in source seconds)."""

    id: int
    label: str
    box: np.ndarray
    score: float
    first_seen: float
    last_seen: float
    hits: int = 1


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
    """Assigns detections to tracks; drops tracks unseen for ``max_unseen_s``."""

    def __init__(self, iou_threshold: float = 0.2, max_unseen_s: float = 5.0) -> None:
        self.iou_threshold = iou_threshold
        self.max_unseen_s = max_unseen_s
        self.tracks: dict[int, Track] = {}
        self._next_id = 1

    def update(self, dets: Detections, timestamp: float) -> list[int]:
        """Match one detector run; returns the track id of each detection, in order."""
        ids = [-1] * len(dets)
        tracks = list(self.tracks.values())
        scores = iou(np.stack([t.box for t in tracks]) if tracks else np.zeros((0, 4)), dets.xyxy)
        for ti, tr in enumerate(tracks):  # other labels never match
            for di in range(len(dets)):
                if dets.labels[di] != tr.label:
                    scores[ti, di] = 0.0
        while scores.size and scores.max() >= self.iou_threshold:
            ti, di = np.unravel_index(int(np.argmax(scores)), scores.shape)
            track = tracks[ti]
            track.box, track.score = dets.xyxy[di].copy(), float(dets.scores[di])
            track.last_seen, track.hits = timestamp, track.hits + 1
            ids[di] = track.id
            scores[ti, :] = -1.0
            scores[:, di] = -1.0
        for di in range(len(dets)):
            if ids[di] < 0:
                track = Track(self._next_id, dets.labels[di], dets.xyxy[di].copy(),
                              float(dets.scores[di]), timestamp, timestamp)
                self.tracks[track.id] = track
                self._next_id += 1
                ids[di] = track.id
        return ids

    def expire(self, timestamp: float) -> list[Track]:
        """Remove and return tracks unseen for longer than ``max_unseen_s``."""
        gone = [t for t in self.tracks.values() if timestamp - t.last_seen > self.max_unseen_s]
        for t in gone:
            del self.tracks[t.id]
        return gone
