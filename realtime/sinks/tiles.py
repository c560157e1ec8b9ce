"""Several live sources in one window: a grid of equal tiles, each with its own banner.

`tile_grid(n)` picks the grid (columns x rows) and `compose(tiles, size)` lays the
annotated frames out, letterboxed into equal cells, in source order.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

TILE = (640, 360)  # the cell size (width, height) a tile is fitted into
BACKGROUND = (24, 24, 24)


def tile_grid(n: int) -> tuple[int, int]:
    """(columns, rows) for ``n`` tiles: as square as possible, wider than tall."""
    cols = max(1, math.ceil(math.sqrt(n)))
    return cols, max(1, math.ceil(n / cols))


def fit(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``rgb`` scaled to fit ``size`` (width, height), centred on a dark cell."""
    w, h = size
    ih, iw = rgb.shape[:2]
    scale = min(w / iw, h / ih)
    nw, nh = max(1, round(iw * scale)), max(1, round(ih * scale))
    cell = np.full((h, w, 3), BACKGROUND, np.uint8)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    x, y = (w - nw) // 2, (h - nh) // 2
    cell[y: y + nh, x: x + nw] = cv2.resize(rgb, (nw, nh), interpolation=interp)
    return cell


def compose(tiles: list[np.ndarray | None], size: tuple[int, int] = TILE) -> np.ndarray:
    """One RGB image with every tile in its cell (None: an empty cell, a source that
    has shown nothing yet)."""
    cols, rows = tile_grid(len(tiles))
    w, h = size
    canvas = np.full((rows * h, cols * w, 3), BACKGROUND, np.uint8)
    for i, tile in enumerate(tiles):
        if tile is None:
            continue
        r, c = divmod(i, cols)
        canvas[r * h:(r + 1) * h, c * w:(c + 1) * w] = fit(tile, size)
    return canvas
