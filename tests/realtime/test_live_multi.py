"""`lookout live` with several sources: one job, one model, a tile per source in one
window (each with its own FPS and latency), q quits all; without a window one JSONL
stream whose lines name their source. Real MJPEG cameras on 127.0.0.1."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lookout.config import DetectorConfig, LiveConfig, PipelineConfig
from realtime.detectors import load_detector
from realtime.live import run_live, stats_line
from realtime.settings import RunSettings
from realtime.sinks.base import StopPipeline
from tests.fixtures.media import MjpegServer
from tests.realtime.test_sinks import ScreenDouble

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def detector(color_bundle):
    det = load_detector(color_bundle, DetectorConfig())
    yield det
    det.close()


@pytest.fixture
def cameras():
    servers = [MjpegServer(fps=30).start(), MjpegServer(fps=30, width=320, height=240).start()]
    yield servers
    for server in servers:
        server.close()


def test_two_cameras_no_window_one_jsonl_stream(detector, cameras, tmp_path):
    jsonl, lines, pressed = tmp_path / "live.jsonl", [], []

    def stop_when_both_ran(stats):  # Ctrl+C = KeyboardInterrupt in the calling thread
        lines.append(stats_line(stats))
        if all(s.frames_written >= 20 for s in stats.sources) and not pressed:
            pressed.append(True)
            raise KeyboardInterrupt

    settings = RunSettings(pipeline=PipelineConfig(batch=2, open_timeout_s=3), live=LiveConfig())
    result = run_live(detector, [c.url for c in cameras], settings, window=False,
                      jsonl=str(jsonl), progress=stop_when_both_ran)
    stats = result.stats
    assert stats.stopped_by == "interrupt" and len(stats.sources) == 2
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(records) == stats.frames_written
    for camera, source in zip(cameras, stats.sources, strict=True):
        mine = [r["frame"] for r in records if r["source"] == camera.url]
        assert len(mine) == source.frames_written >= 20
        assert mine == sorted(mine)  # each camera's frames in order, never back in time
    assert len(lines[-1].splitlines()) == 2  # the status shows a line per camera
    assert all("fps" in line and "latency" in line for line in lines[-1].splitlines())


def test_two_cameras_one_window_a_tile_each_q_quits_all(detector, cameras, tmp_path):
    screen = ScreenDouble()
    shown_tiles = []

    def press_q_when_both_shown(stats):
        if screen.shown and all(s.frames_written >= 5 for s in stats.sources) \
                and not shown_tiles:
            shown_tiles.append(screen.shown[-1])
            screen.typed.append("s")
            screen.typed.append("q")

    settings = RunSettings(pipeline=PipelineConfig(batch=2, open_timeout_s=3),
                           live=LiveConfig(snapshot_dir=str(tmp_path / "snaps")))
    result = run_live(detector, [c.url for c in cameras], settings, window=True,
                      display=screen, progress=press_q_when_both_shown)
    assert result.stats.stopped_by == "sink" and screen.closed
    frame = shown_tiles[0]
    assert frame.shape == (360, 1280, 3)  # two 640x360 tiles side by side
    left, right = frame[:, :640], frame[:, 640:]
    assert left.std() > 10 and right.std() > 10  # both tiles hold a picture
    (snap,) = result.snapshots
    assert snap.exists()
    assert all(s.frames_written >= 5 for s in result.stats.sources)


def test_tiles_have_their_own_banner(tmp_path):
    from realtime.sinks.window import BoardSink, DisplayBoard, LiveWindow
    from tests.realtime.test_sinks import result

    board, screen = DisplayBoard(), ScreenDouble()
    window = LiveWindow(board, "t", tmp_path, display=screen)
    sink = BoardSink(board)
    first = result(1)
    other = type(first)(type(first.frame)("cam2", 1, 0.0, first.frame.rgb), first.detections)
    sink.write(first)
    sink.write(other)
    window.tick()
    assert set(window.tiles) == {first.frame.source, "cam2"}
    shown = screen.shown[-1]
    assert shown.shape == (360, 1280, 3)
    assert not np.array_equal(shown[:40, :640], shown[:40, 640:])  # different names in banners
    screen.typed = list("q")
    with pytest.raises(StopPipeline):
        window.tick()
