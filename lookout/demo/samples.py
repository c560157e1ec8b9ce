"""Sample data made by the project: nothing is downloaded, everything is deterministic by seed.

The generators feed `lookout demo` (and tests):

- `make_image_set`: labelImg-style Pascal VOC folders ``train/`` and ``test/`` (a JPEG and
  its XML side by side) of coloured shapes (``circle``, ``square``, ``triangle``) varied in
  scale, shade, rotation, background (gradients, noise, grey clutter) and occlusion;
- `lookout.demo.clips`: the same shapes moving in an mp4 with audio, and a doorbell clip.

Each class has its own hue family (red-orange circles, blue squares, green triangles) with
shade and brightness varied inside it; backgrounds and clutter are low-saturation greys,
so a small detector trained for a few minutes on a CPU can learn the objects.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from lookout.config import DEMO_CLASSES
from realtime.review.voc import VocObject, voc_xml
from training.datasets.example import Box

CLASSES = DEMO_CLASSES  # the shapes drawn; [demo] alert picks one
# OpenCV hue (0-180) centre of each class's colour family, and how far a shade may wander.
_HUE = {"circle": 4, "square": 112, "triangle": 60}
_HUE_JITTER = 10
MIN_VISIBLE = 0.55  # an object is kept only when at least this share of it is visible


@dataclass(frozen=True)
class Shape:
    """One object to draw: class, centre, size (px), rotation (deg) and colour (RGB)."""

    label: str
    cx: float
    cy: float
    size: float
    angle: float
    aspect: float
    rgb: tuple[int, int, int]


# --------------------------------------------------------------------------- drawing


def _shape_mask(shape: Shape, height: int, width: int) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of ``shape`` on an ``height x width`` canvas."""
    mask = np.zeros((height, width), np.uint8)
    half = shape.size / 2
    if shape.label == "circle":
        axes = (max(1, round(half * shape.aspect)), max(1, round(half / shape.aspect)))
        cv2.ellipse(mask, (round(shape.cx), round(shape.cy)), axes, shape.angle, 0, 360, 255,
                    -1, cv2.LINE_AA)
    else:
        if shape.label == "square":
            pts = [(-half * shape.aspect, -half / shape.aspect), (half * shape.aspect, -half / shape.aspect),
                   (half * shape.aspect, half / shape.aspect), (-half * shape.aspect, half / shape.aspect)]
        else:  # triangle: equilateral-ish, pointing up before rotation
            pts = [(0.0, -half * 1.1), (half * 1.05, half * 0.8), (-half * 1.05, half * 0.8)]
        a = math.radians(shape.angle)
        rot = [(x * math.cos(a) - y * math.sin(a) + shape.cx, x * math.sin(a) + y * math.cos(a) + shape.cy)
               for x, y in pts]
        poly = np.round(np.array(rot) * 16).astype(np.int32)  # 4 fractional bits
        cv2.fillPoly(mask, [poly], 255, cv2.LINE_AA, shift=4)
    return mask.astype(np.float32) / 255.0


def paint(canvas: np.ndarray, ids: np.ndarray, shape: Shape, obj_id: int) -> np.ndarray:
    """Composite ``shape`` onto ``canvas`` (float RGB) with soft shading; mark its pixels in ``ids``."""
    height, width = ids.shape
    alpha = _shape_mask(shape, height, width)
    ys, xs = np.nonzero(alpha > 0)
    if len(ys) == 0:
        return alpha
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    # Light from the top-left: brighter there, darker at the far corner (not flat colour).
    gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    light = 1.15 - 0.3 * (((gx - x0) / max(1, x1 - x0)) + ((gy - y0) / max(1, y1 - y0))) / 2
    colour = np.clip(np.array(shape.rgb, np.float32)[None, None, :] * light[..., None], 0, 255)
    a = alpha[y0:y1, x0:x1, None]
    canvas[y0:y1, x0:x1] = canvas[y0:y1, x0:x1] * (1 - a) + colour * a
    ids[y0:y1, x0:x1][alpha[y0:y1, x0:x1] >= 0.5] = obj_id
    return alpha


def class_colour(rng: np.random.Generator, label: str) -> tuple[int, int, int]:
    hue = (_HUE[label] + rng.integers(-_HUE_JITTER, _HUE_JITTER + 1)) % 180
    hsv = np.array([[[hue, rng.integers(150, 256), rng.integers(130, 256)]]], np.uint8)
    r, g, b = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]
    return int(r), int(g), int(b)


def background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A low-saturation backdrop: a gradient, smooth noise, grey clutter, or a plain room
    (wall, floor, a door or window), like the doorbell's porch."""
    base = rng.uniform(70, 200, 3)
    tint = base.mean() + (base - base.mean()) * 0.1  # nearly grey
    kind = rng.integers(0, 4)
    gy, gx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (gx * math.cos(angle) + gy * math.sin(angle)) / max(height, width)
    img = tint[None, None, :] + rng.uniform(20, 60) * ramp[..., None]
    if kind == 1:  # smooth noise texture
        noise = rng.normal(0, 1, (height // 8 + 1, width // 8 + 1)).astype(np.float32)
        noise = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
        img += rng.uniform(10, 25) * noise[..., None]
    elif kind == 2:  # grey clutter: lines, boxes, blobs that are not objects
        img = img.astype(np.float32).copy()
        for _ in range(rng.integers(4, 12)):
            grey = float(rng.uniform(30, 230))
            colour = (grey, grey, grey)
            p = rng.integers(0, [width, height, width, height])
            what = rng.integers(0, 3)
            if what == 0:
                cv2.line(img, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), colour,
                         int(rng.integers(1, 4)), cv2.LINE_AA)
            elif what == 1:
                cv2.rectangle(img, (int(p[0]), int(p[1])),
                              (int(p[0] + rng.integers(5, 40)), int(p[1] + rng.integers(5, 40))),
                              colour, -1)
            else:
                cv2.circle(img, (int(p[0]), int(p[1])), int(rng.integers(3, 15)), colour, -1,
                           cv2.LINE_AA)
    elif kind == 3:  # a room: wall darker towards a floor band, a door or window
        img = (tint[None, None, :] - rng.uniform(10, 50) * (gy / height)[..., None]).copy()
        floor = int(height * rng.uniform(0.6, 0.9))
        img[floor:] = tint * rng.uniform(0.45, 0.75)
        for _ in range(rng.integers(1, 3)):
            x0, y0 = int(rng.uniform(0, width * 0.8)), int(rng.uniform(0, height * 0.4))
            shade = tint * rng.uniform(0.55, 0.9) + rng.uniform(-8, 8, 3)
            cv2.rectangle(img, (x0, y0), (x0 + int(rng.uniform(0.15, 0.3) * width), floor),
                          tuple(float(v) for v in shade), -1)
    return img.astype(np.float32)


def finish(canvas: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """Add sensor noise and quantize to uint8 RGB."""
    if noise > 0:
        canvas = canvas + rng.normal(0, noise, canvas.shape).astype(np.float32)
    return np.clip(np.round(canvas), 0, 255).astype(np.uint8)


def _visible_box(ids: np.ndarray, obj_id: int, label: str) -> Box | None:
    """The tight box around the pixels of object ``obj_id`` that are still visible."""
    ys, xs = np.nonzero(ids == obj_id)
    if len(ys) == 0:
        return None
    return Box(label, float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))


# --------------------------------------------------------------------------- still images


def random_shape(rng: np.random.Generator, width: int, height: int, min_size: float,
                 max_size: float, label: str | None = None) -> Shape:
    """A random shape whose centre lies inside the image (it may be cut by the border)."""
    label = label or CLASSES[rng.integers(0, len(CLASSES))]
    size = float(math.exp(rng.uniform(math.log(min_size), math.log(max_size))))
    margin = size * 0.3
    return Shape(
        label=label,
        cx=float(rng.uniform(margin, width - margin)),
        cy=float(rng.uniform(margin, height - margin)),
        size=size,
        angle=float(rng.uniform(0, 360)) if label != "circle" else float(rng.uniform(0, 180)),
        aspect=float(rng.uniform(0.8, 1.25)),
        rgb=class_colour(rng, label),
    )


def render_image(rng: np.random.Generator, width: int = 256, height: int = 256,
                 max_objects: int = 5) -> tuple[np.ndarray, list[Box]]:
    """One annotated image: uint8 RGB and the visible box of every kept object.

    Objects are drawn in order, so later ones occlude earlier ones; an object less than
    `MIN_VISIBLE` visible (occluded or cut by the border) is redrawn elsewhere.
    """
    canvas = background(rng, height, width)
    ids = np.zeros((height, width), np.int32)
    n = int(rng.integers(1, max_objects + 1))
    short = min(width, height)
    shapes: list[Shape] = []
    areas: list[int] = []
    for _ in range(n):
        for _attempt in range(8):
            shape = random_shape(rng, width, height, short * 0.12, short * 0.42)
            trial_ids = ids.copy()
            trial = canvas.copy()
            alpha = paint(trial, trial_ids, shape, len(shapes) + 1)
            full = max(1, int((alpha >= 0.5).sum()))
            whole = _whole_area(shape)
            # Earlier objects must stay visible enough; the new one must not be mostly cut off.
            ok = full >= MIN_VISIBLE * whole and all(
                (trial_ids == i + 1).sum() >= MIN_VISIBLE * areas[i] for i in range(len(shapes)))
            if ok:
                canvas, ids = trial, trial_ids
                shapes.append(shape)
                areas.append(whole)
                break
    boxes = []
    for i, shape in enumerate(shapes):
        box = _visible_box(ids, i + 1, shape.label)
        if box:
            boxes.append(box)
    return finish(canvas, rng, float(rng.uniform(2, 8))), boxes


def _whole_area(shape: Shape) -> int:
    """Pixel area of ``shape`` drawn unclipped (on a canvas large enough to hold it)."""
    pad = int(shape.size * 2 + 4)
    moved = Shape(shape.label, pad, pad, shape.size, shape.angle, shape.aspect, shape.rgb)
    return max(1, int((_shape_mask(moved, 2 * pad, 2 * pad) >= 0.5).sum()))


def make_image_set(out_dir: str | Path, *, train: int = 200, test: int = 50, size: int = 256,
                   seed: int = 0, progress: Callable[[int], None] | None = None) -> Path:
    """Write ``out_dir/{train,test}/shapes_NNNN.{jpg,xml}`` (labelImg VOC) atomically.

    Args:
        out_dir: created (or replaced) only once every file is written.
        train, test: number of images in each split.
        size: square image side in pixels.
        seed: same seed, same files.
        progress: called with 1 after each image (for a progress bar).
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        rng = np.random.default_rng(seed)
        index = 0
        for split, count in (("train", train), ("test", test)):
            (tmp / split).mkdir()
            for _ in range(count):
                index += 1
                rgb, boxes = render_image(rng, size, size)
                name = f"shapes_{index:04d}.jpg"
                ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                       [cv2.IMWRITE_JPEG_QUALITY, 92])
                assert ok
                (tmp / split / name).write_bytes(jpg.tobytes())
                objects = [VocObject(b.label, b.xmin, b.ymin, b.xmax, b.ymax) for b in boxes]
                (tmp / split / name.replace(".jpg", ".xml")).write_text(
                    voc_xml(out_dir / split / name, size, size, 3, objects))
                if progress:
                    progress(1)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir
