"""Anchors fitted to the training boxes ("autoanchor" for Model Garden's RetinaNet).

Model Garden lays anchors on every level ``l`` of ``min_level..max_level`` at the
centres ``stride/2 + i*stride`` (stride ``2**l``), with sides
``anchor_size * 2**l * 2**(s/num_scales)`` and width/height ratios ``aspect_ratios``;
a box is learnt from the anchors it overlaps at IoU >= 0.5 (the parser's
``match_threshold``, ``[train] match_iou``). `anchor_recall` measures, on the real boxes scaled to the
model's input (positions included, so stride offsets count), the share of boxes that
some anchor matches at that IoU. `fit_anchors` searches anchor_size, num_scales and the
aspect ratios (k-means of the boxes' log aspect) for the best recall, and keeps Model
Garden's defaults unless the fit is clearly better.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from training.autosize import BoxStats

MATCH_IOU = 0.5  # Model Garden's RetinaNet parser: match_threshold
DEFAULT_SIZE = 4.0  # official.vision.configs.retinanet.Anchor
DEFAULT_SCALES = 3
DEFAULT_RATIOS = (0.5, 1.0, 2.0)
SEARCH_BOXES = 4000  # boxes sampled for the search; the final recall uses all of them
LOW_RECALL = 0.95  # below this at the preset's levels, a finer level is tried too
# Fitted anchors replace Model Garden's only for a clear recall gain: on a held-out set of
# large objects, fitted anchors at recall 0.994 (defaults 0.981) scored AP50 0.855 against
# the defaults' 0.913 (issue 23), so a gain of about 0.01 on boxes that already match is
# not worth a change; a gain of 0.05 means one box in twenty more is learnt at all.
FITTED_GAIN = 0.05


@dataclass
class AnchorChoice:
    """Model Garden's anchor knobs plus how well they cover the training boxes."""

    anchor_size: float = DEFAULT_SIZE
    aspect_ratios: list[float] = field(default_factory=lambda: list(DEFAULT_RATIOS))
    num_scales: int = DEFAULT_SCALES
    min_level: int = 3
    max_level: int = 7
    source: str = "default"  # "fitted" | "default"
    recall: float | None = None  # share of boxes some anchor matches at ``iou``
    default_recall: float | None = None  # the same for Model Garden's defaults
    iou: float = MATCH_IOU

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        ratios = ", ".join(f"{r:g}" for r in self.aspect_ratios)
        text = (f"anchors ({self.source}): size {self.anchor_size:g}, ratios [{ratios}], "
                f"{self.num_scales} scales, levels {self.min_level}-{self.max_level}")
        if self.recall is not None:
            text += f"; recall at IoU {self.iou:g}: {self.recall:.3f}"
            if self.source == "fitted" and self.default_recall is not None:
                text += f" (Model Garden's defaults: {self.default_recall:.3f})"
        return text


def anchor_shapes(anchor_size: float, aspect_ratios, num_scales: int,
                  levels: range) -> np.ndarray:
    """``[K, 3]`` rows ``(level, width, height)`` of every anchor shape, as Model Garden
    builds them (`official.vision.ops.anchor.Anchor`)."""
    rows = []
    for level in levels:
        for scale in range(num_scales):
            base = anchor_size * 2**level * 2 ** (scale / num_scales)
            for ratio in aspect_ratios:
                rows.append((level, base * ratio**0.5, base * ratio**-0.5))
    return np.asarray(rows, np.float64)


def best_ious(w, h, cx, cy, shapes: np.ndarray, size: int) -> np.ndarray:
    """For each box, the best IoU with any anchor (nearest centre on each level; IoU only
    falls as the centres move apart, so the nearest one is the best of its shape)."""
    best = np.zeros(len(w))
    for level in np.unique(shapes[:, 0]):
        stride = 2.0 ** level
        last = stride / 2 + (np.ceil(size / stride) - 1) * stride
        ax = np.clip(stride / 2 + np.round((cx - stride / 2) / stride) * stride, stride / 2, last)
        ay = np.clip(stride / 2 + np.round((cy - stride / 2) / stride) * stride, stride / 2, last)
        dx, dy = (cx - ax)[:, None], (cy - ay)[:, None]
        lv = shapes[shapes[:, 0] == level]
        aw, ah = lv[None, :, 1], lv[None, :, 2]
        bw, bh = w[:, None], h[:, None]
        iw = np.clip(np.minimum(dx + bw / 2, aw / 2) - np.maximum(dx - bw / 2, -aw / 2), 0, None)
        ih = np.clip(np.minimum(dy + bh / 2, ah / 2) - np.maximum(dy - bh / 2, -ah / 2), 0, None)
        inter = iw * ih
        iou = inter / np.maximum(bw * bh + aw * ah - inter, 1e-9)
        best = np.maximum(best, iou.max(axis=1))
    return best


def anchor_recall(stats: BoxStats, size: int, choice: AnchorChoice,
                  iou: float = MATCH_IOU) -> tuple[float, float]:
    """``(recall, mean best IoU)`` of ``choice`` on ``stats`` at input ``size``."""
    if len(stats) == 0:
        return 1.0, 1.0
    w, h, cx, cy = stats.scaled(size)
    shapes = anchor_shapes(choice.anchor_size, choice.aspect_ratios, choice.num_scales,
                           range(choice.min_level, choice.max_level + 1))
    best = best_ious(w, h, cx, cy, shapes, size)
    return float(np.mean(best >= iou)), float(np.mean(best))


def aspect_clusters(w: np.ndarray, h: np.ndarray, k: int = 3, iters: int = 30) -> list[float]:
    """k-means (1-D, on log width/height) of the boxes' aspect ratios, sorted, 2 decimals."""
    logs = np.log(np.clip(w, 1e-3, None) / np.clip(h, 1e-3, None))
    if len(logs) == 0:
        return list(DEFAULT_RATIOS)
    centres = np.percentile(logs, np.linspace(100 / (2 * k), 100 - 100 / (2 * k), k))
    for _ in range(iters):
        nearest = np.abs(logs[:, None] - centres[None, :]).argmin(axis=1)
        centres = np.array([logs[nearest == j].mean() if np.any(nearest == j) else centres[j]
                            for j in range(k)])
    ratios = sorted({round(float(np.exp(c)), 2) for c in centres})
    return ratios


def fit_anchors(stats: BoxStats, size: int, min_level: int, max_level: int, *,
                iou: float = MATCH_IOU, seed: int = 0, finer: bool = True) -> AnchorChoice:
    """Search anchor_size x num_scales x aspect ratios for the best anchor recall at ``iou``.

    Candidates score ``recall + 0.05 * mean best IoU - 0.002 * anchors per location``
    (recall first; then tighter starting boxes; then fewer anchors); ``finer`` lets it
    add level ``min_level - 1`` when boxes are too small for the preset's levels (not for
    backbones whose levels are fixed, like SpineNet). Model Garden's
    defaults stay unless the fit's recall beats theirs by `FITTED_GAIN`.
    """
    default = AnchorChoice(min_level=min_level, max_level=max_level, iou=iou)
    full_default = anchor_recall(stats, size, default, iou)[0]
    if len(stats) == 0:
        default.recall = default.default_recall = full_default
        return default
    sample = stats
    if len(stats) > SEARCH_BOXES:
        pick = np.random.default_rng(seed).choice(len(stats), SEARCH_BOXES, replace=False)
        sample = BoxStats(*(getattr(stats, k)[pick] for k in ("w", "h", "cx", "cy", "image_w",
                                                              "image_h")), stats.image_long)
    sw, sh = sample.scaled(size)[:2]
    ratio_sets = [list(DEFAULT_RATIOS), aspect_clusters(sw, sh, 3), aspect_clusters(sw, sh, 4)]
    best, best_key = _search(sample, size, ratio_sets, min_level, max_level, iou, 0.0)
    if best.recall is not None and best.recall < LOW_RECALL and finer and min_level > 2:
        # boxes too small for stride 2**min_level: try one finer level, at a price (a
        # level-(min-1) head costs about 4x the compute of the next one)
        finer, key = _search(sample, size, ratio_sets, min_level - 1, max_level, iou, 0.03)
        if key > best_key:
            best = finer
    best.recall = anchor_recall(stats, size, best, iou)[0]
    best.default_recall = full_default
    if best.recall < full_default + FITTED_GAIN:
        default.recall = default.default_recall = full_default
        return default
    return best


def _search(sample: BoxStats, size: int, ratio_sets, min_level: int, max_level: int,
            iou: float, penalty: float) -> tuple[AnchorChoice, float]:
    best, best_key = AnchorChoice(), -np.inf
    for ratios in ratio_sets:
        for scales in (2, 3, 4):
            for anchor_size in np.arange(1.0, 6.01, 0.25):
                cand = AnchorChoice(round(float(anchor_size), 2), ratios, scales, min_level,
                                    max_level, "fitted", iou=iou)
                cand.recall, mean_iou = anchor_recall(sample, size, cand, iou)
                key = cand.recall + 0.05 * mean_iou - 0.002 * scales * len(ratios) - penalty
                if key > best_key:
                    best, best_key = cand, key
    return best, best_key
