"""`lookout annotate` with tracking, end to end: the real colour bundle on a generated
mp4 where a red and a blue square pass each other across a counting line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lookout.cli import main
from tests.fixtures.media import write_video

FPS = 10


def crossing_clip(path):
    """30 frames: red walks right (centre x = 22 + 4i), blue walks left (138 - 4i);
    both pass x = 80 between frames 14 and 15."""
    frames = []
    for i in range(30):
        rgb = np.full((120, 160, 3), 128, np.uint8)
        rgb[50:70, 12 + 4 * i: 32 + 4 * i] = (220, 30, 30)
        rgb[62:82, 128 - 4 * i: 148 - 4 * i] = (30, 30, 220)
        frames.append(rgb)
    return write_video(path, frames, FPS)


def test_annotate_writes_track_ids_counts_per_frame_and_a_counts_summary(color_bundle,
                                                                         tmp_path, capsys):
    clip = crossing_clip(tmp_path / "cross.mp4")
    config = tmp_path / "config.toml"
    config.write_text('[[track.zones]]\nname = "right"\n'
                      'points = [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]\n')
    out, jsonl = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    code = main(["--config", str(config), "annotate", str(color_bundle), str(clip), "--out",
                 str(out), "--jsonl", str(jsonl), "--line", "0.5,0,0.5,1", "--trails"])
    assert code == 0
    assert "out.counts.json" in capsys.readouterr().err
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(records) == 30
    ids = {"red": [], "blue": []}
    for r in records:
        for d in r["detections"]:
            ids[d["label"]].append(d["track_id"])
    assert ids["red"][0] is None and ids["blue"][0] is None  # confirmed on the 2nd sighting
    assert len(set(ids["red"][1:])) == 1 and len(set(ids["blue"][1:])) == 1
    assert ids["red"][1] != ids["blue"][1]
    # vertical line walked top to bottom: "in" is to the left, so blue comes in, red goes out
    assert records[14]["counts"]["lines"]["line1"] == {"in": {}, "out": {}}
    assert records[15]["counts"]["lines"]["line1"] == {"in": {"blue": 1}, "out": {"red": 1}}
    assert records[20]["counts"]["zones"]["right"] == {"red": 1}
    summary = json.loads((tmp_path / "out.counts.json").read_text())
    assert summary["lines"]["line1"]["total"] == {"in": 1, "out": 1}
    tracks = {t["label"]: t for t in summary["zones"]["right"]["tracks"]}
    assert tracks["red"]["dwell_s"] == pytest.approx(1.4)  # frames 15..29
    assert tracks["blue"]["dwell_s"] == pytest.approx(1.3)  # frames 1..14 (tracked from 1)
    # --no-track: no ids, no counts
    plain = tmp_path / "plain.jsonl"
    assert main(["annotate", str(color_bundle), str(clip), "--jsonl", str(plain),
                 "--no-track"]) == 0
    first = json.loads(plain.read_text().splitlines()[0])
    assert "counts" not in first and "track_id" not in first["detections"][0]
    assert not (tmp_path / "plain.counts.json").exists()
