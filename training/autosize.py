"""`--input-size auto`: the model's input size read off the training boxes.

Model Garden resizes each image, aspect kept, so its longer side fits the square input
(``scale = input / max(height, width)``), then pads. A box of ``s`` px in an image whose
longer side is ``L`` px is therefore ``s * input / L`` px at the model's input. The
size is chosen so the 10th-percentile box reaches ``TARGET_PX`` there, rounded up to the
preset's multiple, never below ``FLOOR`` (large objects keep the old default), never
above what the images hold (no upscaling past their real pixels) nor the budget cap.

`BoxStats` holds per-box figures and is built from TFRecords (training) or from a
dataset check's report (`lookout dataset check`), so both tell the same story.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TARGET_PX = 16.0  # the smallest object a RetinaNet at stride 8 still localizes
QUANTILE = 10.0  # percent of boxes allowed under TARGET_PX
FLOOR = 256  # the old default: large-object sets keep their accuracy
SMALL_PX = 32.0  # COCO's "small" side: boxes under it at the input count as small objects


@dataclass
class BoxStats:
    """Box sizes and positions with their image's size, one row per box (pixels)."""

    w: np.ndarray
    h: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    image_w: np.ndarray  # of the image the box is in
    image_h: np.ndarray
    image_long: np.ndarray  # longer side of every image (one per image, boxes or not)
    most_per_image: int = 0  # boxes in the densest image (0: not known)

    @classmethod
    def from_boxes(cls, rows: Iterable[tuple[float, float, float, float, float, float]],
                   image_longs: Iterable[float] | None = None,
                   most_per_image: int = 0) -> BoxStats:
        """From ``(xmin, ymin, xmax, ymax, image_w, image_h)`` pixel rows."""
        a = np.asarray(list(rows), np.float64).reshape(-1, 6)
        longs = (np.asarray(list(image_longs), np.float64) if image_longs is not None
                 else np.maximum(a[:, 4], a[:, 5]))
        return cls(w=a[:, 2] - a[:, 0], h=a[:, 3] - a[:, 1], cx=(a[:, 0] + a[:, 2]) / 2,
                   cy=(a[:, 1] + a[:, 3]) / 2, image_w=a[:, 4], image_h=a[:, 5],
                   image_long=longs, most_per_image=int(most_per_image))

    @classmethod
    def from_records(cls, paths: list[str | Path]) -> BoxStats:
        """Read boxes and image sizes from TF OD API records (the pixels are not decoded)."""
        import tensorflow as tf

        keys = {"image/height": tf.io.FixedLenFeature([], tf.int64, 0),
                "image/width": tf.io.FixedLenFeature([], tf.int64, 0)}
        keys.update({f"image/object/bbox/{k}": tf.io.VarLenFeature(tf.float32)
                     for k in ("xmin", "ymin", "xmax", "ymax")})

        def parse(serialized):
            f = tf.io.parse_single_example(serialized, keys)
            return (f["image/height"], f["image/width"],
                    *[f[f"image/object/bbox/{k}"].values for k in ("xmin", "ymin", "xmax", "ymax")])

        rows, longs, most = [], [], 0
        ds = tf.data.TFRecordDataset([str(p) for p in paths]).map(parse)
        for h, w, x0, y0, x1, y1 in ds.as_numpy_iterator():
            longs.append(max(h, w))
            most = max(most, len(x0))
            rows.extend(zip(x0 * w, y0 * h, x1 * w, y1 * h, [w] * len(x0), [h] * len(x0),
                            strict=True))
        return cls.from_boxes(rows, longs, most)

    def __len__(self) -> int:
        return len(self.w)

    @property
    def side(self) -> np.ndarray:
        """Box size as sqrt(area), px."""
        return np.sqrt(np.maximum(self.w * self.h, 0.0))

    @property
    def box_long(self) -> np.ndarray:
        """Longer side of each box's image."""
        return np.maximum(self.image_w, self.image_h)

    def at_input(self, size: int) -> np.ndarray:
        """Box sizes (sqrt(area)) in pixels at a square model input of ``size``."""
        return self.side * size / np.maximum(self.box_long, 1.0)

    def scaled(self, size: int) -> tuple[np.ndarray, ...]:
        """``(w, h, cx, cy)`` at a square model input of ``size`` (Model Garden's resize,
        image at the top-left corner)."""
        k = size / np.maximum(self.box_long, 1.0)
        return self.w * k, self.h * k, self.cx * k, self.cy * k


@dataclass
class SizeChoice:
    """The chosen input size, why, and what it leaves small."""

    size: int
    reason: str  # one line for the console
    under_target: float  # share of boxes under TARGET_PX at ``size``
    small_share: float  # share under SMALL_PX at ``size`` (COCO small, the tiling hint)
    p10_px: float  # 10th-percentile box at ``size``
    warning: str = ""  # set when the cap leaves many boxes too small

    def as_dict(self) -> dict:
        return {"input_size": self.size, "box_p10_px": round(self.p10_px, 1),
                "under_16px": round(self.under_target, 4), "small_share": round(self.small_share, 4),
                "small_objects": self.small_objects}

    @property
    def small_objects(self) -> bool:
        """Does the data have small objects (the hint `--tile auto` reads from model.json)?"""
        return self.small_share >= QUANTILE / 100


def round_up(value: float, multiple: int) -> int:
    return max(multiple, math.ceil(value / multiple - 1e-9) * multiple)


def round_down(value: float, multiple: int) -> int:
    return max(multiple, math.floor(value / multiple + 1e-9) * multiple)


def choose_input_size(stats: BoxStats, multiple: int, cap: int, *,
                      target_px: float = TARGET_PX, quantile: float = QUANTILE,
                      floor: int = FLOOR) -> SizeChoice:
    """Pick the square input size for ``stats`` (see the module doc).

    Args:
        multiple: the preset's size multiple (`training.presets.Preset.size_multiple`).
        cap: the budget (``train.max_input_size``), rounded down to ``multiple``.
    """
    cap = round_down(cap, multiple)
    image_px = float(np.median(stats.image_long)) if len(stats.image_long) else float(floor)
    # no bigger than the images are: their 90th-percentile longer side
    need_images = round_up(np.percentile(stats.image_long, 90) if len(stats.image_long)
                           else floor, multiple)
    ceiling = min(cap, need_images)
    if len(stats) == 0:
        size = min(round_up(floor, multiple), ceiling)
        return SizeChoice(size, f"input {size}: no boxes to measure (the default)", 0.0, 0.0, 0.0)
    rel = stats.side / np.maximum(stats.box_long, 1.0)
    # "lower": the quantile is a real box, so "10% are under" holds exactly
    p_rel = float(np.percentile(rel, quantile, method="lower"))
    p_px = float(np.percentile(stats.side, quantile, method="lower"))
    wanted = round_up(target_px / max(p_rel, 1e-6), multiple)
    size = min(max(wanted, round_up(min(floor, need_images), multiple)), ceiling)
    at = stats.at_input(size)
    under = float(np.mean(at < target_px))
    choice = SizeChoice(size, "", under, float(np.mean(at < SMALL_PX)),
                        float(np.percentile(at, quantile, method="lower")))
    pct = f"{quantile:g}% of boxes are under {p_px:.0f} px in {image_px:.0f} px images"
    if size == wanted:
        choice.reason = f"input {size}: {pct} (→ {choice.p10_px:.0f} px at the input)"
    elif size < wanted and size == cap and cap < need_images:
        choice.reason = f"input {size} (the cap, train.max_input_size): {pct}"
    elif size < wanted:
        choice.reason = f"input {size} (the images' own size): {pct}"
    else:
        choice.reason = (f"input {size}: objects are large enough ({pct}, "
                         f"{choice.p10_px:.0f} px at the input)")
    if under > quantile / 100 * 1.5:
        choice.warning = (f"{under:.0%} of boxes stay under {target_px:.0f} px at input {size}; "
                          "run the model with tiled detection (--tile auto) "
                          + ("or raise train.max_input_size" if size == cap < min(wanted, need_images)
                             else ""))
        choice.warning = choice.warning.rstrip()
    return choice


def default_cap(gpu: bool | None = None) -> int:
    """``train.max_input_size = 0``: 640 on a CPU, 1024 where a GPU trains."""
    if gpu is None:
        import tensorflow as tf

        gpu = bool(tf.config.list_physical_devices("GPU"))
    return 1024 if gpu else 640
