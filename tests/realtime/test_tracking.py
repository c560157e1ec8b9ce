"""Tracker and counters driven by synthetic detections with known ground truth:
crossing objects, a hidden object, line crossings both ways, loitering in a zone."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import UserError
from realtime.detections import Detections
from realtime.frames import Frame, FrameResult
from realtime.sinks.base import Sink
from realtime.tracking.config import (
    LineConfig,
    TrackConfig,
    ZoneConfig,
    parse_line_flag,
)
from realtime.tracking.counting import Counter
from realtime.tracking.iou import IoUTracker
from realtime.tracking.setup import Tracking
from realtime.tracking.tracker import build_tracker
from tests.fixtures.tracks import Mover, id_switches, sequence

FPS = 10
W, H = 640, 480


def track_all(tracker, steps):
    return [tracker.update(s.dets, s.frame / FPS) for s in steps]


def crossing(**kw):
    """Two red objects walking towards each other on one row; the far one (smaller
    bottom) is half covered while they pass, so the detector scores it low."""
    movers = [Mover(1, (40, 200, 100, 320), (8, 0)), Mover(2, (540, 190, 600, 310), (-8, 0))]
    return sequence(movers, 62, W, H, **kw)


def ids_of(tracked, steps, gid):
    """The track ids given to ground-truth object ``gid`` (matched by best IoU)."""
    from realtime.tracking.iou import iou

    out = []
    for s, d in zip(steps, tracked, strict=True):
        truth = dict(s.truth)
        if gid in truth and len(d):
            j = int(np.argmax(iou(truth[gid][None], d.xyxy)[0]))
            out.append(int(d.track_ids[j]))
    return out


# --------------------------------------------------------------------------- tracker


@pytest.mark.parametrize("noise", [0.0, 2.0])
def test_two_same_class_objects_crossing_keep_their_ids(noise):
    steps = crossing(noise=noise, seed=1)
    tracked = track_all(build_tracker(TrackConfig(), 0.5, FPS), steps)
    assert id_switches(steps, tracked) == 0
    a, b = ids_of(tracked, steps, 1), ids_of(tracked, steps, 2)
    assert set(a[1:]) == {1} and set(b[1:]) == {2}  # first sighting: no id yet (min_hits 2)
    # the plain IoU matcher on the same detections: no motion model, so where the two
    # boxes pass each other greedy IoU can hand each id to the other object
    iou_switches = id_switches(steps, track_all(IoUTracker(max_unseen_s=3.0), steps))
    assert iou_switches == (2 if noise else 0)


def test_hidden_object_keeps_its_id_within_max_missed_and_not_beyond():
    def run(hidden: set[int], max_missed: int):
        steps = sequence([Mover(1, (100, 100, 160, 220), (5, 1), hidden=hidden)], 40, W, H)
        tracked = track_all(build_tracker(TrackConfig(max_missed=max_missed), 0.5, FPS), steps)
        return {int(t) for d in tracked for t in d.track_ids if t >= 0}

    assert run(set(range(10, 18)), max_missed=8) == {1}  # 8 frames away: same object
    assert run(set(range(10, 18)), max_missed=5) == {1, 2}  # too long: a new track
    assert run(set(), max_missed=0) == {1}


def test_min_hits_one_gives_ids_from_the_first_sighting_and_classes_never_share():
    tracker = build_tracker(TrackConfig(min_hits=1), 0.5, FPS)
    a = tracker.update(Detections([[0, 0, 20, 40], [50, 50, 70, 70]], [0.9, 0.9], [1, 2],
                                  ["person", "raccoon"]), 0.0)
    assert list(a.track_ids) == [1, 2]
    b = tracker.update(Detections([[52, 50, 72, 70], [2, 0, 22, 40]], [0.9, 0.9], [2, 1],
                                  ["raccoon", "person"]), 0.1)
    assert list(b.track_ids) == [2, 1]
    # same place, other label: another object
    c = tracker.update(Detections([[4, 0, 24, 40]], [0.9], [2], ["raccoon"]), 0.2)
    assert c.track_ids[0] not in (1, 2)


def test_low_scores_only_continue_tracks():
    tracker = build_tracker(TrackConfig(min_hits=1), 0.5, FPS)
    low = Detections([[300, 300, 340, 340]], [0.3], [1], ["red"])
    assert len(tracker.update(low, 0.0)) == 0  # starts nothing: dropped as background
    tracker.update(Detections([[0, 0, 40, 80]], [0.9], [1], ["red"]), 0.1)
    kept = tracker.update(Detections([[2, 0, 42, 80]], [0.3], [1], ["red"]), 0.2)
    assert list(kept.track_ids) == [1] and kept.scores[0] == pytest.approx(0.3)


def test_iou_baseline_keeps_one_id_per_object_and_separates_labels():
    tracker = IoUTracker(max_unseen_s=2.0)
    a = tracker.update(Detections([[0, 0, 20, 40], [50, 50, 70, 70]], [0.9, 0.9], [1, 2],
                                  ["person", "raccoon"]), 0)
    b = tracker.update(Detections([[52, 50, 72, 70], [4, 0, 24, 40]], [0.9, 0.9], [2, 1],
                                  ["raccoon", "person"]), 1)
    assert list(b.track_ids) == list(a.track_ids[::-1])
    c = tracker.update(Detections([[4, 0, 24, 40]], [0.9], [2], ["raccoon"]), 2)
    assert c.track_ids[0] not in a.track_ids
    tracker.update(Detections.empty(), 3.5)
    assert [t.id for t in tracker.ended] == [1, 2] and list(tracker.tracks) == [3]


# --------------------------------------------------------------------------- counting


def count(movers, frames, cfg, noise=0.0):
    steps = sequence(movers, frames, W, H, noise=noise, seed=3)
    tracker, counter = build_tracker(cfg, 0.5, FPS), Counter(cfg)
    for s in steps:
        dets = tracker.update(s.dets, s.frame / FPS)
        counter.update(dets, s.frame / FPS, W, H, tracker.ended)
    return counter.summary()


def test_line_counts_each_direction_once_per_track_per_class():
    # a left-to-right line across the middle: walking down is "in", up is "out"
    cfg = TrackConfig(lines=[LineConfig(name="door", points=[[0.0, 0.5], [1.0, 0.5]])])
    movers = [
        Mover(1, (50, 20, 90, 100), (0, 6), end=50),  # feet 100 -> 394: in
        Mover(2, (200, 380, 240, 460), (0, -6), end=50),  # feet 460 -> 166: out
        Mover(3, (350, 20, 390, 100), (0, 6), end=50, label="blue", class_id=2),  # in
        Mover(4, (500, 380, 540, 460), (0, -6), start=10, end=60),  # out
    ]
    s = count(movers, 60, cfg, noise=1.0)
    assert s["lines"]["door"]["in"] == {"blue": 1, "red": 1}
    assert s["lines"]["door"]["out"] == {"red": 2}
    assert s["lines"]["door"]["total"] == {"in": 2, "out": 2}


def test_an_object_dithering_on_the_line_counts_once_each_way():
    cfg = TrackConfig(lines=[LineConfig(name="door", points=[[0.0, 0.5], [1.0, 0.5]])],
                      min_hits=1)
    tracker, counter = build_tracker(cfg, 0.5, FPS), Counter(cfg)
    for f in range(60):  # feet swing across y = 240 three times
        feet = 240 + 30 * np.sin(f / 60 * 6 * np.pi + 0.3)
        dets = tracker.update(Detections([[300, feet - 80, 340, feet]], [0.9], [1], ["red"]),
                              f / FPS)
        counter.update(dets, f / FPS, W, H, tracker.ended)
    door = counter.summary()["lines"]["door"]
    assert door["total"] == {"in": 1, "out": 1} and set(dets.track_ids) == {1}


def test_line_ignores_paths_beside_the_segment_and_other_classes():
    line = LineConfig(name="gate", points=[[0, 240], [200, 240]], classes=["blue"])
    movers = [Mover(1, (400, 20, 440, 100), (0, 6)),  # beside the segment
              Mover(2, (50, 20, 90, 100), (0, 6)),  # red: not counted
              Mover(3, (120, 20, 160, 100), (0, 6), label="blue", class_id=2)]
    s = count(movers, 60, TrackConfig(lines=[line]))
    assert s["lines"]["gate"]["in"] == {"blue": 1} and s["lines"]["gate"]["out"] == {}


def test_loitering_in_a_zone_gives_exact_dwell_and_occupancy():
    zone = ZoneConfig(name="porch", points=[[200, 100], [440, 100], [440, 400], [200, 400]])
    cfg = TrackConfig(zones=[zone], min_hits=1)
    # walks in (feet reach x >= 200 at frame 20), stays still, walks out (feet past
    # x = 440 at frame 83): inside for frames 20..82, hidden 40..44 (still counts)
    steps = []
    for f in range(100):
        if f < 20:
            box = (24 + 8 * f, 200, 64 + 8 * f, 300)
        elif f < 60:
            box = (184, 200, 224, 300)  # loiters: feet at (204, 300)
        else:
            box = (184 + 10 * (f - 59), 200, 224 + 10 * (f - 59), 300)
        if 40 <= f < 45:
            continue
        steps.append((f, Detections([box], [0.9], [1], ["red"])))
    passer = [(f, Detections([(40 + 12 * f, 420, 80 + 12 * f, 470)], [0.9], [2], ["blue"]))
              for f in range(50)]  # walks below the zone: never inside
    tracker, counter = build_tracker(cfg, 0.5, FPS), Counter(cfg)
    inside_now = []
    for f in range(100):
        parts = [d for g, d in steps + passer if g == f]
        dets = Detections(np.concatenate([d.xyxy for d in parts]) if parts else np.zeros((0, 4)),
                          np.concatenate([d.scores for d in parts]) if parts else [],
                          np.concatenate([d.class_ids for d in parts]) if parts else [],
                          tuple(lb for d in parts for lb in d.labels))
        dets = tracker.update(dets, f / FPS)
        counter.update(dets, f / FPS, W, H, tracker.ended)
        inside_now.append(counter.frame_record()["zones"]["porch"].get("red", 0))
    s = counter.summary()["zones"]["porch"]
    (red,) = s["tracks"]
    assert red["label"] == "red" and red["dwell_s"] == pytest.approx(6.2)  # 2.0 .. 8.2 s
    assert (red["entered"], red["left"]) == (pytest.approx(2.0), pytest.approx(8.2))
    assert s["classes"] == {"red": {"visits": 1, "dwell_s_total": pytest.approx(6.2),
                                    "dwell_s_max": pytest.approx(6.2), "max_inside": 1}}
    assert inside_now[19] == 0 and inside_now[20] == 1 and inside_now[82] == 1
    assert inside_now[42] == 0 and inside_now[83] == 0


# --------------------------------------------------------------------------- the step


class Collect(Sink):
    def __init__(self) -> None:
        self.results: list[FrameResult] = []

    def write(self, result: FrameResult) -> None:
        self.results.append(result)


def feed(step, steps, source="cam"):
    for s in steps:
        frame = Frame(source, s.frame, s.frame / FPS, np.zeros((H, W, 3), np.uint8))
        step.write(FrameResult(frame, s.dets))


def test_each_source_has_its_own_tracker_state(tmp_path):
    steps = crossing(seed=2)
    a, b = Collect(), Collect()
    cfg = TrackConfig(zones=[ZoneConfig(points=[[0, 0], [0.5, 0], [0.5, 1], [0, 1]])])
    step_a = Tracking(cfg, 0.5).step([a], FPS, tmp_path / "a.json")[0]
    step_b = Tracking(cfg, 0.5).step([b], FPS, tmp_path / "b.json")[0]
    feed(step_a, steps, "a")
    feed(step_b, steps[:30], "b")
    step_a.close()
    step_b.close()
    ids_a = {int(t) for r in a.results for t in r.detections.track_ids if t >= 0}
    ids_b = {int(t) for r in b.results for t in r.detections.track_ids if t >= 0}
    assert ids_a == ids_b == {1, 2}  # both count from 1: nothing shared
    summary_a = json.loads((tmp_path / "a.json").read_text())
    assert summary_a["zones"]["zone1"]["classes"]["red"]["visits"] == 2
    assert a.results[10].tracking.counts == {"lines": {}, "zones": {"zone1": {"red": 1}}}


def test_smoothing_calms_jittery_boxes_and_is_off_by_default():
    steps = sequence([Mover(1, (100, 100, 160, 220), (2, 0))], 60, W, H, noise=4.0, seed=5)

    def jitter(smooth):
        out = Collect()
        feed(Tracking(TrackConfig(smooth=smooth, min_hits=1), 0.5).step([out], FPS)[0], steps)
        widths = np.array([r.detections.xyxy[0, 2] - r.detections.xyxy[0, 0]
                           for r in out.results])
        return float(np.std(np.diff(widths))), out

    raw, out = jitter(0.0)
    calm, _ = jitter(0.7)
    assert calm < raw / 2
    np.testing.assert_array_equal(out.results[7].detections.xyxy, steps[7].dets.xyxy)


def test_trails_follow_shown_tracks_and_draw():
    from realtime.drawing import draw_result

    out = Collect()
    cfg = TrackConfig(trails=True, trail_length=5,
                      lines=[LineConfig(name="door", points=[[0, 0.5], [1, 0.5]])])
    feed(Tracking(cfg, 0.5).step([out], FPS)[0], crossing(seed=2)[:20])
    view = out.results[-1].tracking
    assert sorted(tid for tid, _, _ in view.trails) == [1, 2]
    assert all(len(pts) == 5 for _, _, pts in view.trails)
    assert view.lines[0][0] == "door" and view.lines[0][2] == {"in": 0, "out": 0}
    drawn = draw_result(out.results[-1])
    assert (drawn[240] > 200).all(axis=-1).mean() > 0.9  # the white line across the middle
    assert out.results[-1].detections.to_dicts()[0]["track_id"] in (1, 2)


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize("toml, message", [
    ('[track]\nmethod = "sort"', "c.toml:2: track.method: must be one of bytetrack | iou"),
    ('[track]\nanchor = "feet"', "c.toml:2: track.anchor: must be one of bottom_center"),
    ("[track]\nmax_missed = -1", "c.toml:2: track.max_missed: must be at least 0, got -1"),
    ("[track]\nsmooth = 1.0", "c.toml:2: track.smooth: must be at least 0 and below 1, got 1.0"),
    ("[[track.lines]]\npoints = [[0, 0]]", "c.toml:2: track.lines[0].points: needs two"),
    ("[[track.lines]]\npoints = [[1, 1], [1, 1]]", "the two points are the same"),
    ("[[track.zones]]\npoints = [[0, 0], [1, 0]]", "c.toml:2: track.zones[0].points: needs at"),
    (('[[track.zones]]\nname = "a"\npoints = [[0, 0], [1, 0], [1, 1]]\n[[track.zones]]\n'
     'name = "a"\npoints = [[0, 0], [1, 0], [1, 1]]'), "track.zones[1].name: 'a' is used twice"),
    ('[[watch.rules]]\nlabels = ["red"]\nzone = "porch"',
     "c.toml:3: watch.rules[0].zone: 'porch' is not a [[track.zones]] name"),
    ('[[watch.rules]]\nlabels = ["red"]\ncrossing = "door:in"',
     "c.toml:3: watch.rules[0].crossing: 'door' is not a [[track.lines]] name"),
])
def test_bad_track_values_are_one_line_errors(tmp_path, toml, message):
    from lookout.config import load_config

    path = tmp_path / "c.toml"
    path.write_text(toml + "\n")
    with pytest.raises(UserError) as info:
        load_config(path)
    assert message in str(info.value)
    with pytest.raises(UserError, match="track.max_missed: must be at least 0"):
        TrackConfig(max_missed=-1)  # from Python too


def test_line_flag_and_config_file(tmp_path):
    from lookout.cli import main

    assert parse_line_flag("0,0.5,1,0.5", 2).points == [[0.0, 0.5], [1.0, 0.5]]
    with pytest.raises(UserError, match="--line '1,2,3': expected x1,y1,x2,y2"):
        parse_line_flag("1,2,3", 1)
    bad = tmp_path / "c.toml"
    bad.write_text('[track]\nmax_missed = 5\n[[track.lines]]\nname = "door"\npoints = [[0, 1]]\n')
    assert main(["config", "check", str(bad)]) == 1


def test_the_live_window_shows_ids_lines_and_trails(tmp_path):
    import cv2

    from realtime.drawing import draw_detections, draw_result
    from realtime.sinks.window import BoardSink, DisplayBoard, LiveWindow
    from tests.realtime.test_sinks import ScreenDouble

    board, seen = DisplayBoard(), Collect()
    window = LiveWindow(board, "t", tmp_path, display=ScreenDouble())
    cfg = TrackConfig(trails=True, lines=[LineConfig(name="door", points=[[0, 0.5], [1, 0.5]])])
    feed(Tracking(cfg, 0.5).step([BoardSink(board), seen], FPS)[0], crossing(seed=2)[:12])
    window.tick()  # the main thread shows the newest result
    window.handle_key("s")
    last = seen.results[-1]
    assert list(last.detections.track_ids) == [1, 2]
    snap = cv2.imread(str(window.snapshots[0]))[:, :, ::-1]
    np.testing.assert_array_equal(snap, draw_result(last))  # the window draws the tracking
    untracked = draw_detections(last.frame.rgb, last.detections[:0])
    assert (snap != untracked).any(axis=-1).mean() > 0.01


def test_tracked_boxes_are_tagged_with_their_id():
    from realtime.drawing import Style, draw_detections, label_box

    rgb = np.full((240, 320, 3), 90, np.uint8)
    plain = Detections([[100, 100, 160, 200]], [0.87], [1], ["raccoon"])
    tracked = Detections(plain.xyxy, plain.scores, plain.class_ids, plain.labels, [12])
    a, b = draw_detections(rgb, plain), draw_detections(rgb, tracked)
    style = Style.for_size(240, 320)
    wide = label_box("#12 raccoon 87%", 99, 99, 240, 320, style)
    narrow = label_box("raccoon 87%", 99, 99, 240, 320, style)
    assert wide[2] - wide[0] > narrow[2] - narrow[0]
    x = narrow[2] + 2  # right of the plain tag, inside the tagged one
    assert (a[wide[1] + 1, x] == 90).all() and (b[wide[1] + 1, x] != 90).any()
