"""Is the run learning? One warning, with the causes lookout can check and what to try.

Two signs: the training loss has not fallen by `MIN_DROP` after `FAIR_SHARE` of the
steps (`LossWatch`, fed every loop), or the evaluation after training finds AP50 under
`NEAR_ZERO_AP50`. Either gives one warning per run (`not_learning`), listing only the
causes that hold for this run: objects too small for the input, too few steps for the
input size, too few boxes of a class, the learning rate, no pretrained weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

FAIR_SHARE = 0.3  # of the planned steps before the loss is judged
MIN_LOOPS = 5  # and at least this many loops (a tiny run is not judged)
MIN_DROP = 0.2  # the loss must have fallen by this share of its first loop's value
NEAR_ZERO_AP50 = 0.02
FEW_BOXES = 30  # training boxes per class below which a detector rarely learns it
SMALL_SHARE = 0.15  # of boxes under 16 px at the input


@dataclass
class LossWatch:
    """Loss per loop; `stalled` says once when it has not fallen enough."""

    total_steps: int
    losses: list[tuple[int, float]] = field(default_factory=list)
    fired: bool = False

    def add(self, step: int, loss: float | None) -> str | None:
        """Record a loop's loss; a short description of the stall the first time one shows."""
        if loss is None or self.fired:
            return None
        self.losses.append((step, loss))
        if len(self.losses) < MIN_LOOPS or step < FAIR_SHARE * self.total_steps:
            return None
        first = self.losses[0][1]
        recent = sum(v for _, v in self.losses[-3:]) / 3
        if math.isfinite(recent) and recent <= (1 - MIN_DROP) * first:
            return None
        self.fired = True
        if not math.isfinite(recent):
            return f"the training loss is not a number at step {step}"
        change = "rose" if recent > first else f"fell only {1 - recent / first:.0%}"
        return f"the training loss {change} ({first:.3f} → {recent:.3f}) in {step} steps"

    @property
    def rose(self) -> bool:
        if len(self.losses) < 2:
            return False
        last = self.losses[-1][1]
        return not math.isfinite(last) or last > self.losses[0][1]


def not_learning(sign: str, *, input_size: int, under_16px: float | None, steps: int,
                 batch: int, lr: float, init: str, class_boxes: dict[str, int],
                 loss_rose: bool = False) -> str:
    """The warning: ``sign`` (what was seen), the likely causes, what to try."""
    from training.plan import MIN_IMAGES

    causes = []
    if under_16px is not None and under_16px > SMALL_SHARE:
        causes.append(f"objects too small for the input: {under_16px:.0%} of the boxes are "
                      f"under 16 px at {input_size} px (try a larger --input-size with more "
                      "--time, or tiled detection)")
    if steps * batch < MIN_IMAGES:
        causes.append(f"too few steps for input {input_size}: {steps} steps of {batch} images, "
                      f"where runs that learn see about {MIN_IMAGES} (give more --time, or a "
                      "smaller --input-size)")
    few = {name: n for name, n in class_boxes.items() if n < FEW_BOXES}
    if few:
        listed = ", ".join(f"{name} ({n})" for name, n in sorted(few.items(), key=lambda x: x[1]))
        causes.append(f"too few training boxes for {listed}: label {FEW_BOXES} or more of each")
    if loss_rose:
        causes.append(f"the learning rate: the loss rose, try --lr {lr / 3:.3g} (now {lr:g})")
    else:
        causes.append(f"the learning rate (now {lr:g}): try --lr {lr / 3:.3g} or {lr * 2:.3g}")
    if not init:
        causes.append("no pretrained weights: from COCO's a run learns in far fewer steps "
                      "(--init coco with --weights-url pointing at a mirror)")
    return f"this run may not be learning: {sign}. Likely causes: " + "; ".join(causes)


def class_boxes(records: list[Path], names: dict[int, str]) -> dict[str, int]:
    """Training boxes per class name, read from the TFRecords (pixels not decoded)."""
    import numpy as np
    import tensorflow as tf

    key = "image/object/class/label"
    counts = dict.fromkeys(names.values(), 0)

    def parse(serialized):
        return tf.io.parse_single_example(serialized, {key: tf.io.VarLenFeature(tf.int64)})[key].values

    for labels in tf.data.TFRecordDataset([str(p) for p in records]).map(parse).as_numpy_iterator():
        for label, n in zip(*np.unique(labels, return_counts=True)):
            name = names.get(int(label))
            if name is not None:
                counts[name] += int(n)
    return counts
