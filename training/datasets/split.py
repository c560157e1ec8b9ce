"""Reproducible train/test splits, stratified by class.

Each image is grouped by its rarest class (images without objects form their own
group); every group sends about ``fraction`` of its images to test, and rounding is
settled across groups so the test set has ``round(fraction * N)`` images in all.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict


def stratified_split(labels: list[list[str]], fraction: float, seed: int) -> list[str]:
    """``"train"`` / ``"test"`` for each image, given each image's object labels."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"test fraction must be in [0, 1), got {fraction}")
    n = len(labels)
    frequency = Counter(label for image in labels for label in set(image))
    groups: dict[str, list[int]] = defaultdict(list)
    for i, image in enumerate(labels):
        key = min(set(image), key=lambda c: (frequency[c], c)) if image else ""
        groups[key].append(i)
    rng = random.Random(seed)
    wanted = round(fraction * n)
    quotas = {k: fraction * len(v) for k, v in groups.items()}
    take = {k: math.floor(q) for k, q in quotas.items()}
    # hand the rounding remainder to the groups that lost most to rounding (rarest first on ties)
    for k in sorted(quotas, key=lambda k: (-(quotas[k] - take[k]), len(groups[k]), k)):
        if sum(take.values()) >= wanted:
            break
        if take[k] < len(groups[k]):
            take[k] += 1
    splits = ["train"] * n
    for k in sorted(groups):
        members = sorted(groups[k])
        rng.shuffle(members)
        for i in members[: take[k]]:
            splits[i] = "test"
    return splits


def assign_splits(fixed: list[str | None], labels: list[list[str]], fraction: float,
                  seed: int) -> list[str]:
    """Keep the splits a source fixed; split the rest by ``stratified_split``."""
    free = [i for i, s in enumerate(fixed) if s is None]
    drawn = stratified_split([labels[i] for i in free], fraction, seed)
    out = [s or "" for s in fixed]
    for i, s in zip(free, drawn):
        out[i] = s
    return out
