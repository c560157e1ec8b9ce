"""Sources on real files and a real HTTP stream: fps/size, RGB, stride, bad input, reconnect."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from core.errors import UserError
from realtime.config import PipelineConfig
from realtime.sources import CaptureSource, ImageSource, open_source
from tests.fixtures.media import (
    MjpegServer,
    clip_frame,
    corrupt,
    make_clip,
    make_image_folder,
    truncate,
)


@pytest.fixture(scope="module")
def clip60(tmp_path_factory):
    """60 frames at 12 fps, 160x120, faststart (so a truncated copy still opens)."""
    return make_clip(tmp_path_factory.mktemp("src") / "clip.mp4", 60, faststart=True)


def read_all(source):
    frames = list(source.frames(threading.Event()))
    source.close()
    return frames


def test_video_file_reports_fps_size_and_yields_rgb(clip60):
    source = open_source(str(clip60))
    assert isinstance(source, CaptureSource) and not source.live
    assert source.fps == pytest.approx(12.0)
    assert source.size == (160, 120)
    assert source.expected_frames == 60
    assert "160x120 @ 12.00 fps, 60 frames" in source.describe()
    frames = read_all(source)
    assert [f.index for f in frames] == list(range(60))
    assert frames[5].timestamp == pytest.approx(5 / 12, abs=1e-3)
    # RGB, not BGR: the red square is red (H.264 shifts colours a little).
    rgb = frames[0].rgb
    red = clip_frame(0)[..., 0] == 255
    assert rgb[red][:, 0].mean() > 200 and rgb[red][:, 2].mean() < 60
    assert source.decode_failures == 0 and source.failure_report() == ""


def test_stride_reads_every_nth_frame(clip60):
    source = open_source(str(clip60), PipelineConfig(stride=4))
    assert source.fps == pytest.approx(3.0)
    assert source.expected_frames == 15
    assert [f.index for f in read_all(source)] == list(range(0, 60, 4))


def test_image_folder_and_glob(tmp_path):
    folder = make_image_folder(tmp_path / "imgs", n_frames=5)
    (folder / "notes.txt").write_text("not an image")
    source = open_source(str(folder))
    assert isinstance(source, ImageSource) and source.size == (96, 64)
    frames = read_all(source)
    assert len(frames) == 5
    np.testing.assert_array_equal(frames[2].rgb, clip_frame(2, 96, 64))  # PNG is lossless
    globbed = read_all(open_source(str(folder / "img_00[0-2].png")))
    assert [f.index for f in globbed] == [0, 1, 2]


def test_unreadable_image_is_counted_and_skipped(tmp_path):
    folder = make_image_folder(tmp_path / "imgs", n_frames=3)
    (folder / "img_001.png").write_bytes(b"\x89PNG garbage")
    source = open_source(str(folder))
    frames = read_all(source)
    assert [f.index for f in frames] == [0, 2]
    assert source.decode_failures == 1
    assert "img_001.png" in source.failure_report()


@pytest.mark.parametrize("spec, message", [
    ("no/such/clip.mp4", "no such video file"),
    ("empty_dir", "no images found"),
    ("77", "webcam 77: cannot open camera"),
])
def test_bad_sources_are_one_line_errors(tmp_path, monkeypatch, spec, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(UserError, match=message) as info:
        open_source(spec)
    assert "\n" not in str(info.value)


def test_not_a_video_is_a_user_error(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video")
    with pytest.raises(UserError, match="cannot open as a video"):
        open_source(str(bad))


def test_truncated_video_counts_the_missing_tail(clip60, tmp_path):
    source = open_source(str(truncate(clip60, tmp_path / "cut.mp4", keep=0.6)))
    frames = read_all(source)
    assert 0 < len(frames) < 60
    assert source.decode_failures > 0
    assert len(frames) + source.decode_failures == 60  # every frame is either read or counted
    assert "could not be decoded" in source.failure_report()


def test_corrupt_video_skips_bad_frames_and_carries_on(clip60, tmp_path):
    source = open_source(str(corrupt(clip60, tmp_path / "bad.mp4", start=0.4, length=0.1)))
    frames = read_all(source)
    indices = [f.index for f in frames]
    assert source.decode_failures > 0
    assert indices[-1] == 59  # it read on past the damage to the end
    assert indices == sorted(set(indices))
    assert len(frames) + source.decode_failures == 60
    assert source.first_failure == min(set(range(60)) - set(indices))


def test_live_stream_reconnects_after_the_server_is_cut_and_restored():
    server = MjpegServer(fps=30).start()
    cfg = PipelineConfig(open_timeout_s=3, read_timeout_s=1, reconnect_backoff_s=0.1,
                         reconnect_backoff_max_s=0.4)
    try:
        source = open_source(server.url, cfg)
        assert source.live and source.size == (160, 120)
        stop = threading.Event()
        got, before_cut, cut_at = 0, 0, None
        deadline = time.monotonic() + 30
        for frame in source.frames(stop):
            assert frame.rgb.shape == (120, 160, 3)
            got += 1
            if got == 10:
                before_cut, cut_at = server.frames_sent, time.monotonic()
                server.cut()
                threading.Timer(1.0, server.restore).start()
            if source.reconnects and got >= 20 or time.monotonic() > deadline:
                break
        source.close()
        assert source.reconnects >= 1
        assert got >= 20
        assert server.frames_sent > before_cut  # frames after the cut came from the new server
        assert cut_at is not None
    finally:
        server.close()


def test_live_source_stops_when_asked_while_down():
    server = MjpegServer(fps=30).start()
    cfg = PipelineConfig(open_timeout_s=1, read_timeout_s=0.5, reconnect_backoff_s=0.1,
                         reconnect_give_up_s=1.0)
    source = open_source(server.url, cfg)
    server.cut()  # never restored: gives up after reconnect_give_up_s
    with pytest.raises(UserError, match="not back after 1 s"):
        for _ in source.frames(threading.Event()):
            pass
    source.close()
