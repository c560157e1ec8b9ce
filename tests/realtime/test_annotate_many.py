"""Many clips in one process with one model: each output equals annotating that clip
alone (frame for frame, line for line), globs, --jobs, a bad clip failing alone."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from core.errors import UserError
from realtime.annotate import AnnotateOutputs, annotate, annotate_many
from realtime.config import DetectorConfig, PipelineConfig
from realtime.detectors import load_detector
from realtime.media import probe
from realtime.settings import RunSettings
from tests.fixtures.media import make_clip, truncate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("many")
    (folder / "more").mkdir()
    return [make_clip(folder / "a.mp4", 24, fps=12),
            make_clip(folder / "b.mp4", 18, width=128, height=96, fps=10, audio=False),
            make_clip(folder / "more" / "c.mov", 30, fps=15)]


@pytest.fixture(scope="module")
def detector(color_bundle):
    det = load_detector(color_bundle, DetectorConfig(score=0.5))
    yield det
    det.close()


def frames_of(path):
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append(bgr)
    cap.release()
    return out


def test_three_clips_at_once_equal_three_single_runs(detector, clips, tmp_path):
    cfg = PipelineConfig(batch=4)
    stats = annotate_many(detector, [str(clips[0]), str(clips[1]),
                                     str(clips[2].parent / "*.mov")],
                          tmp_path / "many", RunSettings(pipeline=cfg))
    assert [s.frames_written for s in stats.sources] == [24, 18, 30]
    assert stats.frames_written == 72 and stats.stopped_by == "end" and not stats.errors
    for clip in clips:
        single = AnnotateOutputs(tmp_path / "one" / f"{clip.stem}.mp4",
                                 tmp_path / "one" / f"{clip.stem}.jsonl")
        (tmp_path / "one").mkdir(exist_ok=True)
        annotate(detector, str(clip), single, RunSettings(pipeline=cfg))
        many_video, many_jsonl = tmp_path / "many" / f"{clip.stem}.mp4", \
            tmp_path / "many" / f"{clip.stem}.jsonl"
        assert many_jsonl.read_text() == single.jsonl.read_text()
        assert [json.loads(line)["source"] for line in many_jsonl.read_text().splitlines()] \
            == [str(clip)] * len(many_jsonl.read_text().splitlines())
        a, b = frames_of(many_video), frames_of(single.video)
        assert len(a) == len(b) == len(frames_of(clip))
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
        assert probe(many_video).audio_codec == probe(clip).audio_codec  # audio kept (or none)
        assert probe(many_video).fps == probe(clip).fps


def test_jobs_bounds_open_clips_and_gives_the_same_outputs(detector, clips, tmp_path):
    annotate_many(detector, [str(c) for c in clips], tmp_path / "j1",
                  RunSettings(pipeline=PipelineConfig(batch=4)), jobs=1)
    annotate_many(detector, [str(c) for c in clips], tmp_path / "j3",
                  RunSettings(pipeline=PipelineConfig(batch=2)), jobs=3)
    for clip in clips:
        assert (tmp_path / "j1" / f"{clip.stem}.jsonl").read_text() == \
            (tmp_path / "j3" / f"{clip.stem}.jsonl").read_text()


def test_a_clip_that_cannot_be_read_fails_alone(detector, clips, tmp_path):
    broken = truncate(clips[0], tmp_path / "broken.mp4", keep=0.01)
    stats = annotate_many(detector, [str(broken), str(clips[1])], tmp_path / "out")
    assert stats.sources[0].state == "failed" and "broken.mp4" in stats.sources[0].error
    assert stats.sources[1].frames_written == 18
    assert len(frames_of(tmp_path / "out" / "b.mp4")) == 18


@pytest.mark.parametrize(("inputs", "message"), [
    (["nope.mp4"], "nope.mp4: no such video file"),
    (["zzz/*.mov"], r"zzz/\*.mov: no file matches this pattern"),
])
def test_bad_inputs_are_one_line_errors(detector, inputs, message, tmp_path):
    with pytest.raises(UserError, match=message):
        annotate_many(detector, inputs, tmp_path / "out")


def test_two_clips_with_one_name_are_refused(detector, clips, tmp_path):
    other = make_clip(tmp_path / "a.mp4", 4, audio=False)
    with pytest.raises(UserError, match="same name as .*a.mp4"):
        annotate_many(detector, [str(clips[0]), str(other)], tmp_path / "out")


def test_cli_out_dir_with_globs_and_one_line_errors(color_bundle, clips, tmp_path, capsys):
    from lookout.cli import main

    code = main(["annotate", str(color_bundle), str(clips[0]), str(clips[1]),
                 str(clips[2].parent / "*.mov"), "--out-dir", str(tmp_path / "out"),
                 "--jobs", "2", "--batch", "4"])
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a.jsonl", "a.mp4", "b.jsonl", "b.mp4", "c.jsonl", "c.mp4"]
    err = capsys.readouterr().err
    assert "3 sources, 72 frames" in err and "c.mov: 30 frames" in err
    assert main(["annotate", str(color_bundle), str(clips[0]), str(clips[1])]) == 1
    assert "give --out-dir DIR" in capsys.readouterr().err
    assert main(["annotate", str(color_bundle), str(clips[0]), "--out-dir",
                 str(tmp_path / "o"), "--out", "x.mp4"]) == 1
    assert "drop --out" in capsys.readouterr().err
