"""How `retrain` judges a candidate: scores on the reviewed frames and the promotion rule.

Pure functions over detections (no TensorFlow, no files), so the rule that decides
whether a user's model is replaced is tested on its own.

On the reviewed frames, at one detection score:
- a **wrong alert still fires** when a wrong-verdict frame has a detection of the alert's
  label that matches (IoU >= 0.5) none of that label's boxes the person kept;
- an **object is found** when a detection of its label overlaps it at IoU >= 0.5.

A candidate is promoted when its test-split AP50 is at most ``margin`` below the current
model's **and** it is better on the reviewed frames: no more wrong alerts firing, no
fewer objects found, and one of the two strictly better.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from realtime.tracking.iou import iou  # IoU matrix of xyxy boxes

IOU = 0.5


@dataclass
class ReviewScore:
    """One model on the reviewed frames."""

    wrong: int = 0  # frames with a wrong verdict
    still_firing: int = 0  # of those, how many the model would still alert on
    objects: int = 0  # boxes the people kept or drew, on every reviewed frame
    found: int = 0  # of those, how many the model finds
    firing: list[str] = field(default_factory=list)  # names of the wrong frames still firing
    missed: list[str] = field(default_factory=list)  # names of frames with an object not found


@dataclass
class ModelScore:
    """One model: test-split metrics (`bundle_eval.score_detector`) and the reviewed frames."""

    bundle: str
    test: dict
    reviews: ReviewScore

    @property
    def ap50(self) -> float:
        return float(self.test.get("AP50", 0.0))

    def as_dict(self) -> dict:
        return {"bundle": self.bundle, "test": self.test, "reviews": asdict(self.reviews)}


def score_reviews(reviews: list, detections: list, score: float) -> ReviewScore:
    """Score one model's ``detections`` (one `Detections` per review, pixel boxes) on
    ``reviews`` (`realtime.review.store.Review`) at detection ``score``."""
    out = ReviewScore()
    for review, dets in zip(reviews, detections, strict=True):
        keep = dets.scores >= score
        xyxy = np.asarray(dets.xyxy, np.float32)[keep]
        labels = [label for label, k in zip(dets.labels, keep, strict=True) if k]
        truth = {}
        for b in review.boxes:
            truth.setdefault(b.label, []).append(b.box)
        for label, boxes in truth.items():
            mine = xyxy[[i for i, x in enumerate(labels) if x == label]]
            for box in boxes:
                out.objects += 1
                if len(mine) and iou(np.asarray(box, np.float32)[None], mine)[0].max() >= IOU:
                    out.found += 1
                elif review.name not in out.missed:
                    out.missed.append(review.name)
        if review.verdict == "wrong":
            out.wrong += 1
            kept = np.asarray(truth.get(review.label, []), np.float32).reshape(-1, 4)
            alerts = [xyxy[i] for i, x in enumerate(labels) if x == review.label]
            if any(len(kept) == 0 or iou(a[None], kept)[0].max() < IOU for a in alerts):
                out.still_firing += 1
                out.firing.append(review.name)
    return out


def decide(current: ModelScore, candidate: ModelScore, margin: float,
           test_images: int) -> tuple[bool, list[str]]:
    """``(promote, reasons)``: why the candidate is promoted, or why the current one is kept."""
    reasons = []
    ok = True
    if test_images == 0:
        ok = False
        reasons.append("no test split to compare the two models on")
    elif candidate.ap50 < current.ap50 - margin:
        ok = False
        reasons.append(f"worse on the test split: AP50 {candidate.ap50:.3f} against "
                       f"{current.ap50:.3f} (allowed margin {margin:g})")
    else:
        reasons.append(f"test split AP50 {candidate.ap50:.3f} against {current.ap50:.3f} "
                       f"(within the margin {margin:g})")
    c, n = current.reviews, candidate.reviews
    no_worse = n.still_firing <= c.still_firing and n.found >= c.found
    better = no_worse and (n.still_firing < c.still_firing or n.found > c.found)
    what = (f"wrong alerts still firing {n.still_firing}/{n.wrong} (current {c.still_firing}), "
            f"reviewed objects found {n.found}/{n.objects} (current {c.found})")
    if better:
        reasons.append(f"better on the reviewed frames: {what}")
    else:
        ok = False
        reasons.append(f"not better on the reviewed frames: {what}")
    return ok, reasons
