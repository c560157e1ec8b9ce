"""`Detections`: the one type every detector backend returns and every sink consumes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def keep_index(scores: np.ndarray, class_ids: np.ndarray, min_score: float = 0.0,
               keep_ids: set[int] | None = None, max_det: int | None = None) -> np.ndarray:
    """Indices of the detections to keep, best score first: the one filtering rule, used
    by `Detections.filter` and by the backends on raw outputs (before labelling them)."""
    keep = scores >= min_score
    if keep_ids is not None:
        keep &= np.isin(class_ids, list(keep_ids))
    kept = np.flatnonzero(keep)
    return kept[np.argsort(-scores[kept], kind="stable")][:max_det]


@dataclass(frozen=True)
class Detections:
    """Detections for one image, boxes in pixels.

    Attributes:
        xyxy: float32 ``[N, 4]`` boxes as ``xmin, ymin, xmax, ymax`` in pixels.
        scores: float32 ``[N]`` confidences in ``[0, 1]``.
        class_ids: int32 ``[N]`` label ids, 1-based as in ``label_map.pbtxt``.
        labels: ``N`` label names (``"class 7"`` when the label map lacks an id).
        track_ids: int32 ``[N]`` track ids (``-1``: not tracked yet), or None where no
            tracker ran.
    """

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    labels: tuple[str, ...] = field(default=())
    track_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        class_ids = np.asarray(self.class_ids, dtype=np.int32).reshape(-1)
        labels = tuple(self.labels) or tuple(f"class {i}" for i in class_ids)
        n = len(xyxy)
        if not (len(scores) == len(class_ids) == len(labels) == n):
            raise ValueError(
                f"Detections: inconsistent lengths boxes={n} scores={len(scores)} "
                f"class_ids={len(class_ids)} labels={len(labels)}"
            )
        if self.track_ids is not None:
            track_ids = np.asarray(self.track_ids, dtype=np.int32).reshape(-1)
            if len(track_ids) != n:
                raise ValueError(f"Detections: {len(track_ids)} track ids for {n} boxes")
            object.__setattr__(self, "track_ids", track_ids)
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "class_ids", class_ids)
        object.__setattr__(self, "labels", labels)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), ())

    @classmethod
    def from_normalized(
        cls,
        boxes_yxyx: np.ndarray,
        scores: np.ndarray,
        class_ids: np.ndarray,
        height: int,
        width: int,
        names: dict[int, str] | None = None,
    ) -> Detections:
        """Adapt TF OD API outputs (normalized ``ymin, xmin, ymax, xmax``) to pixels."""
        b = np.asarray(boxes_yxyx, dtype=np.float32).reshape(-1, 4)
        xyxy = np.stack([b[:, 1] * width, b[:, 0] * height, b[:, 3] * width, b[:, 2] * height], 1)
        xyxy = np.clip(xyxy, 0, [width, height, width, height]).astype(np.float32)
        ids = np.asarray(class_ids).reshape(-1).astype(np.int32)
        names = names or {}
        labels = tuple(names.get(int(i), f"class {int(i)}") for i in ids)
        return cls(xyxy, scores, ids, labels)

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index: np.ndarray | slice | int) -> Detections:
        """Select by boolean mask, index array or slice: ``d[d.scores > 0.5]``."""
        if isinstance(index, int):
            index = [index]
        idx = np.arange(len(self))[index]
        return Detections(
            self.xyxy[idx], self.scores[idx], self.class_ids[idx], tuple(self.labels[i] for i in idx),
            None if self.track_ids is None else self.track_ids[idx],
        )

    def filter(self, min_score: float = 0.0, class_ids: set[int] | None = None,
               max_det: int | None = None) -> Detections:
        """Those scoring at least ``min_score`` (of ``class_ids`` when given), best first,
        at most ``max_det`` (see `keep_index`)."""
        return self[keep_index(self.scores, self.class_ids, min_score, class_ids, max_det)]

    @property
    def area(self) -> np.ndarray:
        return (self.xyxy[:, 2] - self.xyxy[:, 0]) * (self.xyxy[:, 3] - self.xyxy[:, 1])

    def to_dicts(self) -> list[dict]:
        """JSON-ready list: ``{"label", "class_id", "score", "box": [x1, y1, x2, y2]}``,
        plus ``"track_id"`` (null until a track is confirmed) where a tracker ran."""
        rows = [
            {
                "label": self.labels[i],
                "class_id": int(self.class_ids[i]),
                "score": round(float(self.scores[i]), 4),
                "box": [round(float(v), 1) for v in self.xyxy[i]],
            }
            for i in range(len(self))
        ]
        if self.track_ids is not None:
            for row, tid in zip(rows, self.track_ids, strict=True):
                row["track_id"] = int(tid) if tid >= 0 else None
        return rows
