"""Camera tiles: the live picture with boxes, at a capped rate, and each camera's health.

The engine only leaves references behind (`LiveSource.latest`: the last frame and its
detections, no copy); everything costly (drawing, scaling, JPEG) happens here, in the
server's threads, at most ``max_fps`` times a second per camera however many tabs look,
so a browser can never slow the detector.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from realtime.detections import Detections

TILE_WIDTH = 640  # px: enough for a tile, a quarter of the bytes of 1280
JPEG_QUALITY = 75


class LiveSource(Protocol):
    """What a running watch offers the page (`realtime.watch` implements it)."""

    def cameras(self) -> list[dict]:
        """Per camera: name, state, up, fps, detector_share, reconnects, events."""

    def latest(self, name: str) -> tuple[int, np.ndarray, Detections] | None:
        """(sequence number, RGB frame, its detections) last seen by ``name``'s sink."""

    def model(self) -> str:
        """Which model runs now ('' unknown): a promoted bundle changes it (hot reload)."""


@dataclass
class _Tile:
    seq: int
    at: float
    jpeg: bytes


class Tiles:
    """The newest JPEG per camera, re-encoded at most ``max_fps`` times a second."""

    def __init__(self, source: LiveSource, max_fps: float) -> None:
        self.source, self.min_gap = source, 1.0 / max_fps
        self._tiles: dict[str, _Tile] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.encoded = 0  # how many JPEGs were made (tests, the benchmark)

    def jpeg(self, name: str) -> bytes | None:
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:  # viewers of one camera share one encoding
            tile, now = self._tiles.get(name), time.monotonic()
            if tile is not None and now - tile.at < self.min_gap:
                return tile.jpeg
            got = self.source.latest(name)
            if got is None:
                return tile.jpeg if tile else None
            seq, rgb, dets = got
            if tile is not None and tile.seq == seq:
                tile.at = now
                return tile.jpeg
            self._tiles[name] = _Tile(seq, now, encode_tile(rgb, dets))
            self.encoded += 1
            return self._tiles[name].jpeg


def encode_tile(rgb: np.ndarray, dets: Detections) -> bytes:
    """The frame with its boxes, at most `TILE_WIDTH` wide, as JPEG."""
    from realtime.drawing import draw_detections

    drawn = draw_detections(rgb, dets)
    height, width = drawn.shape[:2]
    if width > TILE_WIDTH:
        drawn = cv2.resize(drawn, (TILE_WIDTH, round(height * TILE_WIDTH / width)),
                           interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("tile JPEG encoding failed")
    return data.tobytes()
