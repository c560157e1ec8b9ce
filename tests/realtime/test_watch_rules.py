"""Watch mode's pure parts: rules, K-of-N confirmation, the IoU tracker, motion gating."""

from __future__ import annotations

import pytest

from core.errors import UserError
from lookout.config import load_config
from realtime.detections import Detections
from realtime.frames import Frame
from realtime.watch.config import WatchConfig, WatchMotionConfig, WatchRuleConfig
from realtime.watch.motion import MotionGate
from realtime.watch.rules import RuleState, compile_rules, parse_alert_flag
from tests.fixtures.doorbell import doorbell_frames

NAMES = {1: "person", 2: "raccoon"}


def dets(*rows: tuple) -> Detections:
    """``(label, score, x0, y0, x1, y1)`` rows."""
    ids = {v: k for k, v in NAMES.items()}
    return Detections([r[2:] for r in rows], [r[1] for r in rows], [ids[r[0]] for r in rows],
                      [r[0] for r in rows]) if rows else Detections.empty()


def rule(**kw):
    return compile_rules([WatchRuleConfig(labels=kw.pop("labels", ["person"]), **kw)], NAMES)[0]


# --------------------------------------------------------------------------- rules


def test_rule_filters_label_score_and_area_fraction():
    r = rule(min_score=0.5, min_area=0.01, max_area=0.5)  # frame 100x100: 100..5000 px
    d = dets(("person", 0.9, 0, 0, 20, 20),     # 400 px: ok
             ("person", 0.4, 0, 0, 20, 20),     # low score
             ("raccoon", 0.9, 0, 0, 20, 20),    # other label
             ("person", 0.9, 0, 0, 5, 5),       # 25 px: too small
             ("person", 0.9, 0, 0, 90, 90))     # 8100 px: too big
    assert r.match(d, 100, 100).tolist() == [True, False, False, False, False]


def test_rule_area_in_pixels():
    r = rule(min_area=300, max_area=1000)
    d = dets(("person", 0.9, 0, 0, 10, 10), ("person", 0.9, 0, 0, 20, 20),
             ("person", 0.9, 0, 0, 40, 40))
    assert r.match(d, 640, 480).tolist() == [False, True, False]


def test_zone_uses_bottom_centre_in_fractions_and_pixels():
    # the lower half of the frame
    frac = rule(zones=[[[0, 0.5], [1, 0.5], [1, 1], [0, 1]]])
    pix = rule(zones=[[[0, 50], [200, 50], [200, 100], [0, 100]]])
    d = dets(("person", 0.9, 10, 10, 30, 40),   # feet at y=40: outside
             ("person", 0.9, 10, 10, 30, 70))   # a tall box whose feet (y=70) are inside
    assert frac.match(d, 200, 100).tolist() == [False, True]
    assert pix.match(d, 200, 100).tolist() == [False, True]


@pytest.mark.parametrize("kw, message", [
    ({"labels": ["persn"]}, (r"watch.rules\[0\].labels: 'persn' is not a label of this model "
                            r"\(it has: person, raccoon\)")),
    ({"labels": []}, r"labels: needs at least one label"),
    ({"zones": [[[0, 0], [1, 1]]]}, r"zones\[0\]: a polygon needs at least 3 points"),
    ({"zones": [[[0, 0], [0.5, 0.5], [1, 1]]]}, r"zones\[0\]: polygon has zero area"),
    ({"zones": [[[0, 0], [1, 0], [1, 1]], [[0, 0], [100, 0], [100, 100]]]}, r"mix of fractional"),
    ({"zones": [[[0, 0, 1], [1, 0], [1, 1]]]}, r"each \[x, y\]"),
    ({"min_score": 1.5}, r"watch.rules.min_score: must be between 0 and 1, got 1.5"),
    ({"confirm_k": 4, "confirm_n": 3}, r"confirm_k: need confirm_k \(4\) <= confirm_n \(3\)"),
    ({"end_after_s": 0}, r"end_after_s: must be above 0, got 0"),
    ({"min_area": 0.5, "max_area": 0.1}, r"min_area: 0.5 > max_area 0.1"),
])
def test_bad_rules_are_one_line_errors(kw, message):
    with pytest.raises(UserError, match=message) as info:
        compile_rules([WatchRuleConfig(**{"labels": ["person"], **kw})], NAMES)
    assert "\n" not in str(info.value)


def test_no_rules_means_every_label():
    (r,) = compile_rules([], NAMES)
    assert r.labels == {"person", "raccoon"}


def test_rules_from_config_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[[watch.rules]]\nname = "door"\nlabels = ["raccoon"]\nmin_score = 0.3\n'
                    'zones = [[[0, 0.5], [1, 0.5], [1, 1], [0, 1]]]\n\n'
                    '[[watch.rules]]\nlabels = ["person"]\nconfirm_k = 2\n')
    cfg = load_config(path)
    rules = compile_rules(cfg.watch.rules, NAMES, f"{path}: watch.rules")
    assert [r.name for r in rules] == ["door", "person"]
    assert rules[0].zones_fraction and rules[1].confirm_k == 2
    path.write_text('[[watch.rules]]\nlabels = ["dog"]\n')
    with pytest.raises(UserError, match=r"c.toml: watch.rules\[0\].labels: 'dog' is not a label"):
        compile_rules(load_config(path).watch.rules, NAMES, f"{path}: watch.rules")


@pytest.mark.parametrize("flag, label, score", [
    ("person", "person", 0.5), ("person:0.8", "person", 0.8), ("class 7:0.3", "class 7", 0.3),
])
def test_alert_flag(flag, label, score):
    c = parse_alert_flag(flag)
    assert c.labels == [label] and c.min_score == score and c.median_score >= score


@pytest.mark.parametrize("flag", ["person:high", "person:1.5", ":0.5"])
def test_bad_alert_flag(flag):
    with pytest.raises(UserError, match="--alert"):
        parse_alert_flag(flag)


def test_k_of_n_and_median_score():
    state = RuleState(rule(confirm_k=3, confirm_n=5, median_score=0.6))
    for t, (hit, score) in enumerate([(True, 0.9), (False, 0), (True, 0.9), (False, 0)]):
        state.observe(hit, score, float(t))
        assert not state.confirmed()
    state.observe(True, 0.9, 4.0)
    assert state.confirmed() and state.first_match == 0.0
    low = RuleState(rule(confirm_k=2, confirm_n=2, median_score=0.8))
    low.observe(True, 0.7, 0.0)
    low.observe(True, 0.75, 1.0)
    assert not low.confirmed()  # seen often enough, but not convincingly
    assert low.expired(7.0) and not low.expired(5.0)


# --------------------------------------------------------------------------- motion


def frames(rgbs, fps=10):
    return [Frame("t", i, i / fps, rgb) for i, rgb in enumerate(rgbs)]


def test_still_noisy_scene_never_runs_the_detector():
    gate = MotionGate(WatchMotionConfig())
    runs = [gate(f) for f in frames(doorbell_frames(visits=(), seconds=20))]
    assert len(runs) == 200 and not any(runs)
    assert gate.motion_frames == 0 and gate.detector_runs == 0


def test_motion_runs_the_detector_and_present_objects_are_rechecked():
    cfg = WatchMotionConfig(recheck_s=1.0)
    gate = MotionGate(cfg)
    fs = frames(doorbell_frames(seconds=9))  # visit: walks in at 3.0-4.0, still 4.0-8.0
    runs = [gate(f) for f in fs[:45]]
    assert not any(runs[:30]) and all(runs[31:40])  # walking in
    # standing still: the background absorbs it; with objects present, ~1 run per second
    gate.set_objects_present(True)
    later = [gate(f) for f in fs[60:80]]
    assert 1 <= sum(later) <= 4
    gate.set_objects_present(False)
    leaving = [gate(f) for f in fs[81:]]  # walks out from 8.0 s: motion again
    assert all(leaving)
    disabled = MotionGate(WatchMotionConfig(enabled=False))
    assert all(disabled(f) for f in fs[:20])


def test_idle_recheck_catches_an_object_there_from_the_start():
    # the object stands still from the first frame: motion alone never sees it
    fs = frames(doorbell_frames(seconds=6))[45:]  # 4.5 s on: standing still
    still = MotionGate(WatchMotionConfig())
    assert not any(still(f) for f in fs)
    idle = MotionGate(WatchMotionConfig(idle_recheck_s=0.5))
    runs = [idle(f) for f in fs]
    assert runs[0] and sum(runs) == 3  # frame 0, then every 0.5 s: 5.0 and 5.5 s


RULE = "[[watch.rules]]\nlabels = ['person']\nend_after_s = 3.0\n"


@pytest.mark.parametrize("toml, message", [
    ("[watch.motion]\nrecheck_s = 5.0\n", (r"c.toml:2: watch.motion.recheck_s: 5.0 must be shorter "
                                          r"than every rule's end_after_s \(3\)")),
    ("[watch.motion]\nmin_fraction = 2.0\n",
     r"watch.motion.min_fraction: must be between 0 and 1, got 2.0"),
    ("[watch.delivery]\non = ['start']\n", r"watch.delivery.on: must be one of new \| end, got 'start'"),
    ("[watch.delivery]\nretry_base_s = 0\n", r"watch.delivery.retry_base_s: must be above 0, got 0.0"),
    ("[watch]\nsnapshot_keep = 0\n", r"watch.snapshot_keep: must be at least 1, got 0"),
])
def test_bad_watch_values_are_one_line_errors(tmp_path, toml, message):
    path = tmp_path / "c.toml"
    path.write_text(toml + RULE)
    with pytest.raises(UserError, match=message):
        load_config(path)


def test_default_watch_config_passes_checks():
    WatchConfig(rules=[WatchRuleConfig(labels=["person"])])
