"""Sinks on real files: JSONL, COCO results, annotated mp4 (+audio, gaps, partial), window keys."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import UserError
from realtime.detections import Detections
from realtime.frames import Frame, FrameResult
from realtime.media import count_frames, probe
from realtime.sinks.base import StopPipeline
from realtime.sinks.images import ImageFolderSink
from realtime.sinks.records import CocoSink, JsonlSink
from realtime.sinks.video import VideoSink
from realtime.sinks.window import BoardSink, DisplayBoard, LiveWindow, check_display
from tests.fixtures.media import clip_frame, make_clip, remux_with_audio


def result(index: int, width: int = 160, height: int = 120, fps: float = 12.0) -> FrameResult:
    dets = Detections([[10, 20, 50, 60]], [0.9], [1], ["red"]) if index % 2 else Detections.empty()
    return FrameResult(Frame("clip.mp4", index, index / fps, clip_frame(index, width, height)), dets)


def test_jsonl_writes_one_flushed_line_per_frame(tmp_path):
    path = tmp_path / "out" / "dets.jsonl"
    sink = JsonlSink(path)
    sink.write(result(0))
    sink.write(result(1))
    assert len(path.read_text().splitlines()) == 2  # flushed before close
    sink.close()
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert first == {"source": "clip.mp4", "frame": 0, "timestamp": 0.0, "detected": True,
                     "detections": []}
    assert second["detections"] == [{"label": "red", "class_id": 1, "score": 0.9,
                                     "box": [10.0, 20.0, 50.0, 60.0]}]


def test_coco_results_are_xywh_and_written_atomically(tmp_path):
    path = tmp_path / "results.json"
    sink = CocoSink(path)
    for i in range(4):
        sink.write(result(i))
    assert not path.exists()
    sink.close()
    rows = json.loads(path.read_text())
    assert rows == [{"image_id": i, "category_id": 1, "bbox": [10.0, 20.0, 40.0, 40.0],
                     "score": 0.9} for i in (1, 3)]
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_image_folder_sink_draws_boxes(tmp_path):
    sink = ImageFolderSink(tmp_path / "frames", ext="png")
    sink.write(result(1))
    sink.close()
    import cv2

    saved = cv2.imread(str(tmp_path / "frames" / "frame_000001.png"))[:, :, ::-1]
    assert saved.shape == (120, 160, 3)
    assert not np.array_equal(saved, clip_frame(1))  # a box was drawn


def test_video_sink_keeps_fps_size_audio_and_fills_gaps(tmp_path):
    src = make_clip(tmp_path / "src.mp4", 24, fps=12)
    out = tmp_path / "out.mp4"
    sink = VideoSink(out, fps=12, audio_from=src)
    for i in [*range(10), *range(13, 24)]:  # frames 10-12 were undecodable
        sink.write(result(i))
    assert not out.exists()  # only a hidden temporary until close
    sink.close()
    info = probe(out)
    assert (info.width, info.height, info.fps) == (160, 120, 12.0)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert count_frames(out) == 24  # gaps repeated the last frame: picture stays in sync
    import cv2

    cap = cv2.VideoCapture(str(out))
    decoded = [cap.read()[1][:, :, ::-1] for _ in range(24)]
    cap.release()
    drawn = sink.draw(clip_frame(5), result(5).detections)
    assert np.abs(decoded[5].astype(int) - drawn).mean() < 6  # colours survive the encode
    def diff(a, b):
        return np.abs(decoded[a].astype(int) - decoded[b]).mean()

    assert diff(10, 9) < 1 < diff(13, 9)  # frame 9 stands in for the lost 10-12
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4", "src.mp4"]


@pytest.mark.parametrize(("container", "source_codec", "encoder", "expected"), [
    ("avi", "pcm_s16le", "pcm_s16le", "aac"),  # mp4 would take it as ipcm: few players can
    ("mkv", "mp3", "libmp3lame", "mp3"),  # mp4 plays mp3: copied as it is
])
def test_video_sink_audio_is_playable_in_mp4(tmp_path, container, source_codec, encoder,
                                             expected):
    silent = make_clip(tmp_path / "silent.mp4", 12, fps=12, audio=False)
    src = remux_with_audio(silent, tmp_path / f"src.{container}", encoder, video_codec="mjpeg")
    assert probe(src).audio_codec == source_codec
    out = tmp_path / "out.mp4"
    sink = VideoSink(out, fps=12, audio_from=src)
    for i in range(12):
        sink.write(result(i))
    sink.close()
    info = probe(out)
    assert info.audio_codec == expected and info.video_codec == "h264"
    assert info.duration == pytest.approx(1.0, abs=0.1)


def test_video_sink_partial_output_is_playable_and_audio_cut_to_it(tmp_path):
    src = make_clip(tmp_path / "src.mp4", 48, fps=12)
    out = tmp_path / "out.mp4"
    sink = VideoSink(out, fps=12, audio_from=src)
    for i in range(12):  # interrupted after a quarter of the clip
        sink.write(result(i))
    sink.close()
    sink.close()  # idempotent
    assert count_frames(out) == 12
    info = probe(out)
    assert info.has_audio and info.duration == pytest.approx(1.0, abs=0.1)


def test_video_sink_without_audio_and_odd_size(tmp_path):
    out = tmp_path / "odd.mp4"
    sink = VideoSink(out, fps=10, audio_from=None)
    for i in range(5):
        sink.write(result(i, width=101, height=75))
    sink.close()
    info = probe(out)
    assert (info.width, info.height) == (100, 74) and not info.has_audio
    assert count_frames(out) == 5



def test_annotate_video_draws_on_the_frame_after_the_other_outputs_read_it(tmp_path):
    """The video sink draws on the frame itself (no 720p copy per frame), so it is the
    last output: the image folder, written before it, saw the frame without boxes."""
    from realtime.annotate import AnnotateOutputs, build_sinks
    from realtime.config import AnnotateConfig
    from realtime.drawing import draw_detections, draw_result
    from realtime.sources import open_source

    source = open_source(str(make_clip(tmp_path / "src.mp4", 4, fps=12)))
    sinks = build_sinks(source, AnnotateOutputs(tmp_path / "out.mp4", tmp_path / "d.jsonl",
                                                frames_dir=tmp_path / "frames"), AnnotateConfig())
    source.close()
    assert isinstance(sinks[-1], VideoSink) and sinks[-1].inplace
    (folder,) = [s for s in sinks if isinstance(s, ImageFolderSink)]
    seen = []
    folder.draw = lambda res: (seen.append(res.frame.rgb.copy()), draw_result(res))[1]
    r = result(1)
    clean = r.frame.rgb.copy()
    for sink in sinks:
        sink.write(r)
    for sink in sinks:
        sink.close()
    assert np.array_equal(seen[0], clean)  # the folder's picture has its boxes once
    assert np.array_equal(r.frame.rgb, draw_detections(clean, r.detections))  # no copy
    assert count_frames(tmp_path / "out.mp4") == 1

class ScreenDouble:
    """Stands in for the OpenCV window (no display on the test machine): records what
    is shown and plays back keys as if typed into the window."""

    def __init__(self, keys: str = "") -> None:
        self.shown: list[np.ndarray] = []
        self.typed = list(keys)
        self.closed = False

    def show(self, bgr):
        self.shown.append(bgr)

    def poll_key(self):
        return self.typed.pop(0) if self.typed else None

    def closed_by_user(self):
        return False

    def close(self):
        self.closed = True


def test_window_shows_only_the_newest_result_and_handles_keys(tmp_path):
    board = DisplayBoard()
    screen = ScreenDouble()
    window = LiveWindow(board, "t", tmp_path / "snaps", display=screen)
    sink = BoardSink(board)
    for i in (1, 2, 3):  # three results before the window's next tick: only 3 is shown
        sink.write(result(i))
    window.tick()
    assert len(screen.shown) == 1 and window.shown.frame.index == 3 and board.replaced == 2
    screen.typed = list("s")
    window.tick()
    assert len(window.snapshots) == 1 and "frame000003" in window.snapshots[0].name
    screen.typed = list("p")
    window.tick()  # paused: the frozen frame is shown again, with PAUSED
    assert window.paused and len(screen.shown) == 2
    sink.write(result(4))
    window.tick()
    assert len(screen.shown) == 2 and window.shown.frame.index == 3
    assert screen.shown[0].shape == (120, 160, 3)
    assert not np.array_equal(screen.shown[0][:, :, ::-1], clip_frame(3))  # boxes + banner
    screen.typed = list("q")
    with pytest.raises(StopPipeline):
        window.tick()
    window.close()
    assert screen.closed


def test_headless_machine_gets_a_clear_message(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(UserError, match="--no-window"):
        check_display()
