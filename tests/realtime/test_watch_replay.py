"""`watch --replay CLIPS --truth REVIEWS`: a recorded clip through the rules and the real
colour-blob bundle, scored against a person's verdicts on the events of its first run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lookout.cli import main
from lookout.config import Config
from realtime.review.store import ReviewBox, ReviewStore
from realtime.watch.config import WatchConfig, WatchDeliveryConfig, WatchRuleConfig
from realtime.watch.events import read_events
from realtime.watch.replay import ReplayScore, replay, score_replay
from realtime.watch.runner import run_watch
from tests.fixtures.doorbell import Visit, write_doorbell_clip

pytestmark = pytest.mark.slow

VISITS = (Visit(3.0, 4.0), Visit(14.0, 3.0))


def config_for(events: Path, min_score: float = 0.5) -> Config:
    rule = WatchRuleConfig(name="visitor", labels=["red"], end_after_s=2.0, cooldown_s=5.0,
                           min_score=min_score, median_score=min_score)
    watch = WatchConfig(events_dir=str(events), rules=[rule],
                        delivery=WatchDeliveryConfig(console=False))
    return dataclasses.replace(Config(), watch=watch)


@pytest.fixture(scope="module")
def reviewed(color_bundle, tmp_path_factory) -> tuple[Path, Path]:
    """The doorbell clip watched once; its first visit reviewed right, the second wrong."""
    root = tmp_path_factory.mktemp("replay")
    clip = write_doorbell_clip(root / "porch.mp4", visits=VISITS, seconds=20)
    events = root / "events"
    assert run_watch(color_bundle, str(clip), config_for(events)).events == 2
    last = {}
    for record in read_events(events / "events.jsonl"):
        last[record["id"]] = record
    first, second = sorted(last.values(), key=lambda r: r["start"])
    store = ReviewStore(events)
    store.save(first["id"], "right", [ReviewBox("red", tuple(first["box"]))])
    store.save(second["id"], "wrong", [])  # say the second visitor was a decoy
    return clip, events


def test_replay_scores_the_clip_against_the_verdicts(color_bundle, reviewed) -> None:
    clip, events = reviewed
    before = (events / "events.jsonl").read_bytes()
    result = replay(color_bundle, [clip], config_for(events), events / "review")
    score = result.score
    assert (score.true_alerts, score.false_alerts, score.missed, score.quiet) == (1, 1, 0, 0)
    assert score.precision == 0.5 and score.recall == 1.0
    assert score.uncovered == 0 and score.unreviewed == 0 and result.events == 2
    assert (events / "events.jsonl").read_bytes() == before  # the real events are left alone
    assert not result.events_dir.exists()  # the replay's own folder was temporary
    assert result.clip_seconds == pytest.approx(20.0, abs=0.2)


def test_another_rule_tried_on_the_recording(color_bundle, reviewed) -> None:
    """A rule for another label: nothing fires, so recall drops to 0, precision is undefined."""
    clip, events = reviewed
    result = replay(color_bundle, [clip], config_for(events), events / "review",
                    rules=[WatchRuleConfig(name="other", labels=["blue"])])
    assert (result.score.true_alerts, result.score.missed, result.score.quiet) == (0, 1, 1)
    assert result.score.recall == 0.0 and result.score.precision is None


def test_the_cli_prints_precision_and_recall(color_bundle, reviewed, capsys) -> None:
    """--alert's rule has a 30 s cooldown: the decoy 7 s after the first visit stays quiet."""
    clip, events = reviewed
    code = main(["watch", str(color_bundle), "--replay", str(clip), "--truth",
                 str(events / "review"), "--alert", "red", "--events", str(events)])
    out = capsys.readouterr().out
    assert code == 0
    assert "precision 1.00, recall 1.00" in out and "x real time" in out
    assert "right  red          fires" in out and "wrong  red          quiet" in out


def test_no_verdicts_is_one_line(color_bundle, tmp_path, capsys) -> None:
    (tmp_path / "review").mkdir()
    code = main(["watch", str(color_bundle), "--replay", str(tmp_path / "x.mp4"),
                 "--truth", str(tmp_path / "review")])
    err = capsys.readouterr().err
    assert code == 1 and "no reviewed events" in err and "Traceback" not in err


def _review(name, verdict, label, source="", start=None, end=None, boxes=()):
    from realtime.review.store import Review

    return Review(name, Path("x.jpg"), Path("x.xml"), [ReviewBox(*b) for b in boxes], "v",
                  verdict=verdict, event=name, label=label, source=source, start=start, end=end)


def test_matching_by_own_clip_or_by_time_in_the_same_file() -> None:
    events = [
        {"id": "e1", "source": "/rec/clips/ev-a.mp4", "label": "cat", "start": 2.0, "end": 5.0},
        {"id": "e2", "source": "/x/porch.mp4", "label": "cat", "start": 100.0, "end": 104.0},
        {"id": "e3", "source": "/x/porch.mp4", "label": "dog", "start": 300.0, "end": 301.0},
    ]
    reviews = [
        _review("ev-a", "wrong", "cat"),  # its own clip, replayed: fires
        _review("ev-b", "right", "cat", "rtsp://cam/porch.mp4", 101.0, 103.0),  # time overlaps
        _review("ev-c", "right", "cat", "/old/porch.mp4", 200.0, 205.0),  # nothing then
        _review("ev-d", "wrong", "cat", "/elsewhere/garage.mp4", 1.0, 2.0),  # not replayed
        _review("ev-e", "missed", "dog", "/x/porch.mp4", 299.0, 299.5, [("dog", (1, 1, 5, 5))]),
    ]
    score = score_replay(events, reviews, ["/rec/clips/ev-a.mp4", "/x/porch.mp4"])
    assert isinstance(score, ReplayScore)
    assert (score.true_alerts, score.false_alerts, score.missed, score.uncovered) == (2, 1, 1, 1)
    assert score.unreviewed == 0
    assert [r["fired"] for r in score.rows] == [["e1"], ["e2"], [], ["e3"]]
