"""`lookout frames`: sampling by time, by count and by scene change, on real mp4 clips."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.errors import UserError
from lookout.cli import main as lookout
from tests.fixtures.media import make_clip, write_video
from training.labeling.frames import Every, extract_frames, frame_name


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    # 36 frames at 12 fps = 3 s
    return make_clip(tmp_path_factory.mktemp("clip") / "door.mp4", n_frames=36, audio=False)


@pytest.mark.parametrize("text, expected", [
    ("2s", Every(seconds=2.0)), ("500ms", Every(seconds=0.5)), ("1m", Every(seconds=60.0)),
    ("0.25s", Every(seconds=0.25)), ("30", Every(frames=30)),
])
def test_every_parses(text, expected) -> None:
    assert Every.parse(text) == expected


@pytest.mark.parametrize("text", ["", "0", "-2s", "2h", "1.5", "abc"])
def test_every_rejects(text) -> None:
    with pytest.raises(UserError, match="--every"):
        Every.parse(text)


def test_names_sort_in_time_order() -> None:
    assert frame_name("clip", 62.5) == "clip_00-01-02.500.jpg"
    assert frame_name("a b", 3725.004) == "a b_01-02-05.004.jpg"
    names = [frame_name("c", t) for t in (0, 0.5, 9.9, 10, 61, 3600)]
    assert names == sorted(names)


def test_every_seconds_from_the_cli(tmp_path, clip, capsys) -> None:
    out = tmp_path / "frames"
    assert lookout(["frames", str(clip), "--every", "1s", "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["door_00-00-00.000.jpg", "door_00-00-01.000.jpg", "door_00-00-02.000.jpg"]
    assert "wrote 3 frame(s) of 36 read" in capsys.readouterr().out
    image = cv2.imread(str(out / names[1]))
    assert image.shape == (120, 160, 3)


def test_every_n_frames(tmp_path, clip) -> None:
    report = extract_frames(clip, tmp_path, Every(frames=10))
    assert report.read == 36
    assert [p.name for p in report.written] == [
        "door_00-00-00.000.jpg", "door_00-00-00.833.jpg", "door_00-00-01.667.jpg",
        "door_00-00-02.500.jpg"]


def test_scene_keeps_only_changed_frames(tmp_path) -> None:
    # 12 identical grey frames, then 12 of a different scene, then the first again
    grey = np.full((96, 128, 3), 90, np.uint8)
    scene = grey.copy()
    scene[20:80, 30:100] = (240, 200, 30)
    video = write_video(tmp_path / "still.mp4", [grey] * 12 + [scene] * 12 + [grey] * 12)
    everything = extract_frames(video, tmp_path / "all", Every(frames=1))
    assert len(everything.written) == 36
    report = extract_frames(video, tmp_path / "scene", Every(frames=1), scene=0.05)
    assert [p.name for p in report.written] == [
        "still_00-00-00.000.jpg", "still_00-00-01.000.jpg", "still_00-00-02.000.jpg"]
    assert report.skipped_similar == 33


def test_bad_video_is_one_line(tmp_path, capsys) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all" * 50)
    assert lookout(["frames", str(bad), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "broken.mp4" in err and "Traceback" not in err
    assert lookout(["frames", str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "o")]) == 1
    assert "no such video file" in capsys.readouterr().err
    assert lookout(["frames", str(bad), "--every", "2h", "--out", str(tmp_path / "o")]) == 1
