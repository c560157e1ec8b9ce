"""Draw detections on RGB images: per-class colours, ``label score`` tags, sized to the image.

Line width and text scale grow with the image's shorter side, so boxes read the same on a
320x240 webcam frame and a 4K clip; label tags are kept inside the image. OpenCV draws;
images are uint8 RGB ``[H, W, 3]`` (colours below are RGB).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import cv2
import numpy as np

from realtime.detections import Detections

if TYPE_CHECKING:
    from realtime.frames import FrameResult
    from realtime.tracking.view import TrackView

FONT = cv2.FONT_HERSHEY_SIMPLEX
_GOLDEN = 0.618033988749895


@lru_cache(maxsize=256)
def class_color(class_id: int) -> tuple[int, int, int]:
    """A bright RGB colour that is the same for a class id in every frame and every run
    (golden-ratio hues, so neighbouring ids differ)."""
    hue = (0.11 + class_id * _GOLDEN) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


@dataclass(frozen=True)
class Style:
    """Sizes for one image size: box line width, text scale and thickness, tag padding."""

    line: int
    font_scale: float
    text: int
    pad: int

    @classmethod
    @lru_cache(maxsize=64)  # the same few frame sizes all run long: computed once each
    def for_size(cls, height: int, width: int) -> Style:
        unit = min(height, width) / 480.0  # 1.0 at 640x480
        return cls(
            line=max(1, round(2 * unit)),
            font_scale=max(0.4, 0.5 * unit),
            text=max(1, round(1.2 * unit)),
            pad=max(2, round(3 * unit)),
        )


@lru_cache(maxsize=4096)
def _text_size(text: str, style: Style) -> tuple[tuple[int, int], int]:
    """``cv2.getTextSize`` of a tag: the same few texts (``#3 raccoon 87%``) recur every
    frame, and each tag needs it twice (its box, then the text's baseline)."""
    return cv2.getTextSize(text, FONT, style.font_scale, style.text)


def label_box(text: str, x: float, y: float, height: int, width: int,
              style: Style) -> tuple[int, int, int, int]:
    """Where the tag for a box whose top-left is ``(x, y)`` goes: ``(x0, y0, x1, y1)``,
    above the box when it fits there, else just inside it, always inside the image."""
    (tw, th), baseline = _text_size(text, style)
    w, h = tw + 2 * style.pad, th + baseline + 2 * style.pad
    w, h = min(w, width), min(h, height)
    x0 = int(min(max(x, 0), width - w))
    y0 = int(y) - h if y - h >= 0 else int(max(y, 0))
    y0 = min(max(y0, 0), height - h)
    return x0, y0, x0 + w, y0 + h


def draw_detections(rgb: np.ndarray, detections: Detections, inplace: bool = False) -> np.ndarray:
    """Boxes and ``label 87%`` tags (``#12 label 87%`` for tracked boxes) on ``rgb``.

    Args:
        rgb: uint8 ``[H, W, 3]`` RGB image.
        detections: in ``rgb``'s pixel coordinates.
        inplace: draw on ``rgb`` itself (saves a copy in the video path; a non-contiguous
            view is still copied); by default the input is left untouched and a drawn copy
            is returned.

    Returns:
        The drawn image (``rgb`` itself when ``inplace``).
    """
    out = rgb if inplace else rgb.copy()
    if not out.flags.c_contiguous:  # OpenCV draws only on contiguous arrays
        out = np.ascontiguousarray(out)
    height, width = out.shape[:2]
    style = Style.for_size(height, width)
    if not len(detections):
        return out
    # Low scores first, so the most confident box and tag end up on top. Corners and
    # texts for all boxes at once: numpy calls per box cost more than the drawing.
    order = np.argsort(detections.scores, kind="stable")
    xyxy = detections.xyxy[order]
    top = [width - 1, height - 1]
    p0s = np.clip(np.floor(xyxy[:, :2]), 0, top).astype(np.int32).tolist()
    p1s = np.clip(np.ceil(xyxy[:, 2:]) - 1, 0, top).astype(np.int32).tolist()
    scores = detections.scores[order].tolist()
    class_ids = detections.class_ids[order].tolist()
    tracks = None if detections.track_ids is None else detections.track_ids[order].tolist()
    half = style.line // 2
    for k, i in enumerate(order.tolist()):
        color = class_color(class_ids[k])
        p0, p1 = tuple(p0s[k]), tuple(p1s[k])
        # Axis-aligned edges on whole pixels look the same without anti-aliasing, which
        # costs 5x here (~30 vs 5 us a box at 720p); text and diagonals keep it.
        cv2.rectangle(out, p0, p1, color, style.line, cv2.LINE_8)
        text = f"{detections.labels[i]} {scores[k]:.0%}"
        if tracks is not None and tracks[k] >= 0:
            text = f"#{tracks[k]} {text}"
        _tag(out, text, p0[0] - half, p0[1] - half, color, style)
    return out


def draw_tracking(rgb: np.ndarray, view: TrackView) -> np.ndarray:
    """Zones (outline + objects inside), counting lines (+ in/out totals) and trails,
    drawn in place on ``rgb``."""
    style = Style.for_size(*rgb.shape[:2])
    zone_color, line_color = (80, 200, 255), (255, 255, 255)
    for name, polygon, inside in view.zones:
        pts = np.round(polygon).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(rgb, [pts], True, zone_color, style.line, cv2.LINE_AA)
        _tag(rgb, f"{name}: {inside}", *pts.reshape(-1, 2).min(0), zone_color, style)
    for name, ends, counts in view.lines:
        p0, p1 = (tuple(round(float(v)) for v in p) for p in ends)
        cv2.line(rgb, p0, p1, line_color, style.line + 1, cv2.LINE_AA)
        text = f"{name} in {counts.get('in', 0)} out {counts.get('out', 0)}"
        _tag(rgb, text, min(p0[0], p1[0]), min(p0[1], p1[1]), (40, 40, 40), style,
             text_color=line_color)
    for _, class_id, points in view.trails:
        pts = np.round(points).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(rgb, [pts], False, class_color(class_id), style.line, cv2.LINE_AA)
    return rgb


def draw_result(result: FrameResult, inplace: bool = False) -> np.ndarray:
    """A sink's picture of one result: tracking overlays under the boxes and tags."""
    rgb = result.frame.rgb
    if result.tracking is not None:
        rgb = draw_tracking(rgb if inplace else rgb.copy(), result.tracking)
        inplace = True
    return draw_detections(rgb, result.detections, inplace=inplace)


def draw_banner(rgb: np.ndarray, text: str, inplace: bool = True) -> np.ndarray:
    """A status line (``12.3 fps  45 ms``) in the top-left corner, white on dark grey."""
    out = rgb if inplace else rgb.copy()
    style = Style.for_size(*out.shape[:2])
    _tag(out, text, 0, 0, (40, 40, 40), style, text_color=(255, 255, 255))
    return out


def _tag(out: np.ndarray, text: str, x: float, y: float, color: tuple[int, int, int],
         style: Style, text_color: tuple[int, int, int] | None = None) -> None:
    height, width = out.shape[:2]
    bx0, by0, bx1, by1 = label_box(text, x, y, height, width, style)
    cv2.rectangle(out, (bx0, by0), (bx1 - 1, by1 - 1), color, cv2.FILLED)
    if text_color is None:  # dark text on light colours, white on dark ones
        luma = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
        text_color = (0, 0, 0) if luma > 150 else (255, 255, 255)
    _, baseline = _text_size(text, style)
    origin = (bx0 + style.pad, by1 - style.pad - baseline)
    cv2.putText(out, text, origin, FONT, style.font_scale, text_color, style.text, cv2.LINE_AA)
