"""`lookout annotate` end to end with the real colour bundle on a real mp4 with audio."""

from __future__ import annotations

import json
import threading
import time

import cv2
import pytest

from lookout.cli import main
from realtime.annotate import AnnotateOutputs, annotate
from realtime.config import DetectorConfig, PipelineConfig
from realtime.detectors import Detector, load_detector
from realtime.engine.job import Job, JobSource, run_job
from realtime.engine.streams import PipelineError
from realtime.media import count_frames, probe
from realtime.settings import RunSettings
from realtime.sinks.base import Sink
from realtime.sinks.records import JsonlSink
from realtime.sinks.video import VideoSink
from realtime.sources import open_source
from realtime.tracking.config import TrackConfig
from tests.fixtures.media import corrupt, make_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """24 frames, 160x120, 12 fps, with a sine-wave AAC track."""
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", 24, fps=12)


@pytest.fixture(scope="module")
def detector(color_bundle):
    det = load_detector(color_bundle, DetectorConfig(score=0.5))
    yield det
    det.close()


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_cli_annotates_a_clip_keeping_fps_size_and_audio(color_bundle, clip, tmp_path, capsys):
    out, jsonl, coco = tmp_path / "out.mp4", tmp_path / "dets.jsonl", tmp_path / "coco.json"
    code = main(["annotate", str(color_bundle), str(clip), "--out", str(out), "--jsonl",
                 str(jsonl), "--coco", str(coco), "--frames-dir", str(tmp_path / "frames"),
                 "--batch", "4"])
    assert code == 0
    info = probe(out)
    assert (info.width, info.height, info.fps) == (160, 120, 12.0)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert count_frames(out) == 24
    lines = read_jsonl(jsonl)
    assert [line["frame"] for line in lines] == list(range(24))
    for line in lines:  # the red and the blue square are found in every frame
        assert sorted(d["label"] for d in line["detections"]) == ["blue", "red"]
    assert len(json.loads(coco.read_text())) == 48
    assert len(list((tmp_path / "frames").glob("frame_*.jpg"))) == 24
    assert "24 frames" in capsys.readouterr().err


def test_threaded_output_equals_a_sequential_frame_by_frame_run(detector, clip, tmp_path):
    jsonl = tmp_path / "threaded.jsonl"
    annotate(detector, str(clip), AnnotateOutputs(None, jsonl=jsonl),
             RunSettings(pipeline=PipelineConfig(batch=4, max_wait_ms=5, queue_size=2),
                         track=TrackConfig(enabled=False)))  # as the tutorials' loop
    threaded = [(r["frame"], r["detections"]) for r in read_jsonl(jsonl)]

    sequential, cap = [], cv2.VideoCapture(str(clip))  # the tutorials' loop, batch 1
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        (dets,) = detector.detect([cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)])
        sequential.append((len(sequential), dets.to_dicts()))
    cap.release()
    assert len(sequential) == 24
    assert threaded == sequential


def test_stride_halves_fps_and_frames(detector, clip, tmp_path):
    out = tmp_path / "half.mp4"
    stats = annotate(detector, str(clip), AnnotateOutputs(out),
                     RunSettings(pipeline=PipelineConfig(stride=2)))
    assert stats.frames_written == 12
    assert probe(out).fps == 6.0 and count_frames(out) == 12
    assert probe(out).duration == pytest.approx(2.0, abs=0.1)  # still in sync with the audio


def test_ctrl_c_finalizes_a_playable_partial_video(detector, tmp_path):
    long_clip = make_clip(tmp_path / "long.mp4", 240, fps=24)
    out = tmp_path / "partial.mp4"

    pressed = []

    def interrupt(stats):  # what Ctrl+C does: KeyboardInterrupt in the calling thread
        if stats.frames_written >= 8 and not pressed:
            pressed.append(True)
            raise KeyboardInterrupt

    class Slow(Detector):  # the real model, paced so the run is still going at Ctrl+C
        names, kind = detector.names, detector.kind

        def detect(self, images):
            time.sleep(0.02)
            return detector.detect(images)

    stats = annotate(Slow(), str(long_clip), AnnotateOutputs(out),
                     RunSettings(pipeline=PipelineConfig(batch=1, queue_size=2)),
                     progress=interrupt)
    assert stats.stopped_by == "interrupt"
    frames = count_frames(out)
    assert 8 <= frames < 240 and frames == stats.frames_written
    assert probe(out).has_audio
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4", "partial.mp4"]


def test_error_in_a_stage_still_leaves_a_playable_video(detector, clip, tmp_path):
    class Broken(Sink):
        def __init__(self):
            self.n = 0

        def write(self, result):
            self.n += 1
            if self.n == 10:
                raise OSError("disk full")

    out, source = tmp_path / "broken.mp4", open_source(str(clip))
    video = VideoSink(out, source.fps, audio_from=clip)
    with pytest.raises(PipelineError, match="sinks stage failed: OSError: disk full"):
        run_job(Job(detector, [JobSource(source, outputs=[video, Broken()])],
                    pipeline_cfg=PipelineConfig(batch=2)))
    assert count_frames(out) == 10 and probe(out).has_audio
    assert not [t for t in threading.enumerate() if t.name.startswith("lookout-")]


def test_corrupt_clip_is_annotated_with_failures_reported(color_bundle, tmp_path, capsys):
    clip = make_clip(tmp_path / "c.mp4", 60, fps=12)
    bad = corrupt(clip, tmp_path / "bad.mp4", start=0.4, length=0.1)
    out = tmp_path / "out.mp4"
    assert main(["annotate", str(color_bundle), str(bad), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "could not be decoded" in err
    assert count_frames(out) == 60  # undecodable frames were bridged: sound stays in sync


@pytest.mark.parametrize("args, message", [
    (["MODEL", "nope.mp4", "--out", "o.mp4"], "nope.mp4: no such video file"),
    (["MODEL", "CLIP", "--out", "o.avi"], "must be an .mp4"),
    (["MODEL", "CLIP"], "nothing to write"),
    (["missing_model", "CLIP", "--out", "o.mp4"], "missing_model"),
])
def test_user_mistakes_are_one_line_errors(color_bundle, clip, tmp_path, monkeypatch, capsys,
                                           args, message):
    monkeypatch.chdir(tmp_path)
    args = [str(color_bundle) if a == "MODEL" else str(clip) if a == "CLIP" else a for a in args]
    assert main(["annotate", *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o.mp4").exists()


def test_jsonl_to_stdout(detector, clip, capsys):
    sink = JsonlSink("-")
    run_job(Job(detector, [JobSource(open_source(str(clip)), outputs=[sink])]))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 24 and json.loads(lines[0])["frame"] == 0
