"""Camera tiles: the sink's side is one reference swap; the page encodes at a capped
rate however often it is asked; health becomes rates."""

from __future__ import annotations

import time

import cv2
import numpy as np

from realtime.detections import Detections
from realtime.frames import Frame, FrameResult
from realtime.serve.live import TILE_WIDTH, Tiles
from realtime.watch.live import LatestFrame, WatchLive
from tests.fixtures.events import scene


def result(i: int, detected: bool = True) -> FrameResult:
    rgb, dets = scene(i / 10, 0.2 + 0.01 * i)
    rgb = cv2.resize(rgb, (1280, 960))
    return FrameResult(Frame("cam", i, i / 10, rgb), dets if detected else Detections.empty(),
                       detected=detected)


def test_a_gated_frame_keeps_the_last_boxes():
    latest = LatestFrame()
    assert latest.get() is None
    latest.put(result(0))
    latest.put(result(1, detected=False))
    seq, rgb, dets = latest.get()
    assert seq == 2 and rgb.shape == (960, 1280, 3) and len(dets) == 1


def test_tiles_are_encoded_at_most_at_the_capped_rate():
    latest = LatestFrame()
    live = WatchLive({"front": latest}, dict)
    tiles = Tiles(live, max_fps=5.0)
    assert tiles.jpeg("front") is None and tiles.jpeg("nobody") is None
    frames, start = 0, time.monotonic()
    while time.monotonic() - start < 1.0:  # a fast camera, a greedy viewer
        latest.put(result(frames % 50))
        frames += 1
        tiles.jpeg("front")
    assert frames > 20
    assert 1 <= tiles.encoded <= 7  # 5 a second, give or take the edges
    picture = cv2.imdecode(np.frombuffer(tiles.jpeg("front"), np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[1] == TILE_WIDTH


def test_health_turns_counters_into_rates():
    counts = {"front": {"frames": 0, "detector_runs": 0, "state": "running", "events": 2,
                        "reconnects": 1}}
    live = WatchLive({"front": LatestFrame(), "garage": LatestFrame()}, lambda: counts)
    live.cameras()
    time.sleep(0.2)
    counts["front"].update(frames=10, detector_runs=4)
    front, garage = live.cameras()
    assert front["up"] and front["fps"] > 0 and front["detector_share"] == 0.4
    assert (front["events"], front["reconnects"]) == (2, 1)
    assert garage["name"] == "garage" and not garage["up"] and garage["state"] == "waiting"
