"""Tiled detection: small objects in big frames, as a `Detector` around any other.

A 12 px object in a 1000 px frame is 3 px once the model shrinks the frame to its
input; cut into tiles at the model's input size, it keeps its 12 px. `TiledDetector`
cuts each frame into overlapping tiles (plus the whole frame, so large objects are
still seen whole), sends all tiles of all frames through the inner detector in
batches (same-size tiles are one device call), and merges the boxes per class:

- boxes that overlap at IoU >= ``iou`` are one object (NMS; the higher score wins);
- a box cut by an inner tile edge is a piece: when it overlaps another box of its
  class by ``ios`` of the smaller one's area, the two are joined into their union.

It knows nothing of the pipeline: annotate, live, watch and predict get it through
`load_detector` (``[detector] tile``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import UserError
from realtime.bundle import BundleMeta
from realtime.detections import Detections
from realtime.detectors.base import Detector

OVERLAP = 0.2  # share of a tile shared with its neighbour
AUTO_FACTOR = 2.0  # auto tiles only frames at least this many times the model's input
# auto tiles only when tiles beat the whole frame by this much AP50 on the bundle's test
# split (model.json ``evaluation.tiles``): they cost several detector calls per frame, and
# a model that never saw objects at tile scale can lose AP50 to them (issue 23).
TILE_MARGIN = 0.03
EDGE_PX = 2.0  # a box this close to an inner tile edge counts as cut
CHUNK = 16  # at most this many crops per inner detect call (bounds memory)


@dataclass(frozen=True)
class Tile:
    x0: int
    y0: int
    x1: int
    y1: int


def tile_grid(height: int, width: int, size: int, overlap: float = OVERLAP) -> list[Tile]:
    """Tiles of ``size`` px (smaller only where the frame is) covering the frame, each
    sharing about ``overlap`` of its side with its neighbours, spread evenly."""
    def starts(length: int) -> list[int]:
        if length <= size:
            return [0]
        step = size * (1.0 - overlap)
        n = math.ceil((length - size) / step) + 1
        return sorted({round(i * (length - size) / (n - 1)) for i in range(n)})

    side_y, side_x = min(size, height), min(size, width)
    return [Tile(x, y, x + side_x, y + side_y) for y in starts(height) for x in starts(width)]


def merge_boxes(xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, cut: np.ndarray,
                iou: float = 0.5, ios: float = 0.5) -> np.ndarray:
    """Merge detections from overlapping tiles (see the module doc).

    Returns:
        ``[M]`` kept indices into the inputs in score order, and (in place) ``xyxy`` rows
        of kept boxes widened to the union of the pieces joined into them.
    """
    order = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    kept_cut: list[bool] = []
    for i in order:
        same = [j for j, k in enumerate(kept) if class_ids[k] == class_ids[i]]
        if same:
            boxes = xyxy[[kept[j] for j in same]]
            inter = _intersection(xyxy[i], boxes)
            area_i = _area(xyxy[i][None])[0]
            areas = _area(boxes)
            ious = inter / np.maximum(area_i + areas - inter, 1e-9)
            ioss = inter / np.maximum(np.minimum(area_i, areas), 1e-9)
            pieces = cut[i] | np.array([kept_cut[j] for j in same])
            hit = (ious >= iou) | (pieces & (ioss >= ios))
            if hit.any():
                j = same[int(np.argmax(np.where(hit, ioss, -1.0)))]
                k = kept[j]
                if cut[i] or kept_cut[j]:  # join the pieces of one object
                    xyxy[k, :2] = np.minimum(xyxy[k, :2], xyxy[i, :2])
                    xyxy[k, 2:] = np.maximum(xyxy[k, 2:], xyxy[i, 2:])
                    kept_cut[j] = bool(kept_cut[j] and cut[i])
                continue
        kept.append(int(i))
        kept_cut.append(bool(cut[i]))
    return np.asarray(kept, np.int64)


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def _intersection(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    w = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    h = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


def cut_by_edge(xyxy: np.ndarray, tile: Tile, height: int, width: int) -> np.ndarray:
    """Which boxes (frame pixels) touch an edge of ``tile`` that is inside the frame."""
    cut = np.zeros(len(xyxy), bool)
    if tile.x0 > 0:
        cut |= xyxy[:, 0] <= tile.x0 + EDGE_PX
    if tile.y0 > 0:
        cut |= xyxy[:, 1] <= tile.y0 + EDGE_PX
    if tile.x1 < width:
        cut |= xyxy[:, 2] >= tile.x1 - EDGE_PX
    if tile.y1 < height:
        cut |= xyxy[:, 3] >= tile.y1 - EDGE_PX
    return cut


class TiledDetector(Detector):
    """``inner`` run on overlapping tiles of each frame plus the whole frame.

    Args:
        inner: any detector (its score / class filters apply per tile).
        tile: tile side in frame pixels (the model's input size suits).
        min_frame: tile only frames whose longer side is at least this (smaller ones
            run whole); default ``tile + 1``.
        max_det: at most this many boxes per frame after merging (0: all).
    """

    def __init__(self, inner: Detector, tile: int, *, min_frame: int | None = None,
                 max_det: int = 0, overlap: float = OVERLAP, iou: float = 0.5,
                 ios: float = 0.5) -> None:
        if tile < 32:
            raise UserError(f"--tile {tile}: tiles must be at least 32 px")
        self.inner, self.tile, self.overlap = inner, int(tile), overlap
        self.min_frame = min_frame if min_frame is not None else self.tile + 1
        self.max_det, self.iou, self.ios = max_det or None, iou, ios
        self.names = inner.names
        self.kind = inner.kind
        self.workers = inner.workers

    def tiles_for(self, height: int, width: int) -> list[Tile]:
        """The tiles of a frame (none when it is too small to tile)."""
        if max(height, width) < self.min_frame:
            return []
        return tile_grid(height, width, self.tile, self.overlap)

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        crops: list[np.ndarray] = []
        where: list[tuple[int, Tile | None]] = []  # (frame index, tile or None = whole)
        for i, image in enumerate(images):
            h, w = np.shape(image)[:2]
            crops.append(image)
            where.append((i, None))
            for t in self.tiles_for(h, w):
                crops.append(image[t.y0:t.y1, t.x0:t.x1])
                where.append((i, t))
        found: list[Detections] = []
        for start in range(0, len(crops), CHUNK):
            found.extend(self.inner.detect(crops[start:start + CHUNK]))
        parts: list[list[tuple[Detections, Tile | None]]] = [[] for _ in images]
        for (i, t), dets in zip(where, found, strict=True):
            parts[i].append((dets, t))
        return [self._merge(p, *np.shape(images[i])[:2]) for i, p in enumerate(parts)]

    def _merge(self, parts: list[tuple[Detections, Tile | None]], height: int,
               width: int) -> Detections:
        if len(parts) == 1:
            return parts[0][0]
        boxes, scores, ids, labels, cut = [], [], [], [], []
        for dets, t in parts:
            xyxy = dets.xyxy.copy()
            if t is not None:
                xyxy += np.array([t.x0, t.y0, t.x0, t.y0], np.float32)
                cut.append(cut_by_edge(xyxy, t, height, width))
            else:
                cut.append(np.zeros(len(dets), bool))
            boxes.append(xyxy)
            scores.append(dets.scores)
            ids.append(dets.class_ids)
            labels.extend(dets.labels)
        xyxy = np.concatenate(boxes)
        keep = merge_boxes(xyxy, np.concatenate(scores), np.concatenate(ids),
                           np.concatenate(cut), self.iou, self.ios)[: self.max_det]
        return Detections(xyxy[keep], np.concatenate(scores)[keep], np.concatenate(ids)[keep],
                          tuple(labels[k] for k in keep))

    def warmup(self, height: int = 240, width: int = 320, batch: int = 1) -> None:
        self.detect([np.full((height, width, 3), 114, np.uint8)] * batch)

    why = ""  # why tiles run (auto: what the evaluation found)

    def describe(self) -> str:
        why = f" ({self.why})" if self.why else ""
        return f"{self.inner.describe()}, tiles of {self.tile} px{why}"

    def close(self) -> None:
        self.inner.close()


def parse_tile(spec: str | int) -> str | int:
    """``auto`` | ``off`` | tile side in px."""
    text = str(spec).strip().lower()
    if text in ("auto", "off"):
        return text
    if text.isdigit() and int(text) >= 32:
        return int(text)
    raise UserError(f"--tile {spec}: expected auto, off or a tile size in pixels (>= 32)")


def with_tiling(detector: Detector, model: Path, spec: str | int, max_det: int = 0) -> Detector:
    """Wrap ``detector`` per ``spec``: a number tiles frames larger than that many px;
    ``auto`` tiles at the bundle's input size, only frames at least `AUTO_FACTOR` times
    larger, and only when ``model.json`` says tiles beat the whole frame on the bundle's
    test split by `TILE_MARGIN` AP50 (`auto_tiles`)."""
    choice = parse_tile(spec)
    if choice == "off":
        return detector
    if choice == "auto":
        size, why = auto_tiles(_bundle_meta(model))
        if size is None:
            return detector
        tiled = TiledDetector(detector, size, min_frame=int(AUTO_FACTOR * size), max_det=max_det)
        tiled.why = why
        return tiled
    return TiledDetector(detector, choice, max_det=max_det)


def auto_tiles(meta: BundleMeta | None) -> tuple[int | None, str]:
    """``(tile size or None, why)`` for ``tile = auto`` from a bundle's ``model.json``:
    tiles at the input size when its evaluation shows they won by `TILE_MARGIN`."""
    size = meta.input_size if meta else None
    if not (isinstance(size, int) and size > 0):
        return None, "auto: no input size in model.json"
    gain = meta.tiles_ap50_gain()
    if gain is None and meta.tiles_skipped:
        return None, f"auto: {meta.tiles_skipped}"
    if gain is None:
        return None, "auto: tiles were never evaluated on this bundle (`lookout eval BUNDLE`)"
    if gain >= TILE_MARGIN:
        return size, f"auto: tiles won {gain:+.3f} AP50 on the test split (margin {TILE_MARGIN})"
    return None, f"auto: tiles won {gain:+.3f} AP50 on the test split, under {TILE_MARGIN}"


def _bundle_meta(model: Path) -> BundleMeta | None:
    """The ``model.json`` of a bundle folder, or of the folder of a model file; None when
    there is none (or, beside a model file, when it is some other tool's model.json)."""
    path = Path(model)
    if path.is_dir():
        return BundleMeta.read_if_present(path)
    try:
        return BundleMeta.read_if_present(path.parent)
    except UserError:
        return None
