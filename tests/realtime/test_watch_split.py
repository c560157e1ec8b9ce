"""The watch sink split in two: a pure visit tracker (no files, no clock of its own)
and a recorder thread that writes; a slow disk slows only the recorder."""

from __future__ import annotations

import os
import time

from realtime.frames import Frame, FrameResult
from realtime.watch.config import WatchConfig, WatchRuleConfig
from realtime.watch.events import read_events
from realtime.watch.rules import compile_rules
from realtime.watch.sink import WatchSink
from realtime.watch.snapshots import SnapshotStore
from realtime.watch.visits import VisitTracker
from tests.fixtures.doorbell import Visit, doorbell_frames
from tests.fixtures.models import LABELS
from tests.realtime.test_watch_sink import numpy_detector

FPS = 10
RULE = WatchRuleConfig(labels=["red"], end_after_s=2.0, cooldown_s=5.0)
WALL0 = 1_764_000_000.0  # 2025-11-24T16:00:00Z


def track(frames, camera="porch"):
    tracker = VisitTracker(compile_rules([RULE], LABELS), camera)
    phases = []
    for i, rgb in enumerate(frames):
        frame = Frame("clip.mp4", i, i / FPS, rgb)
        phases += tracker.update(FrameResult(frame, numpy_detector(rgb)), WALL0 + i / FPS)
    return tracker, phases + tracker.close(WALL0 + 100)


def test_visit_tracker_is_pure_and_uses_the_times_it_is_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(time, "time", lambda: 0.0)  # a clock of its own would show 1970
    visits = (Visit(3.0, 4.0), Visit(14.0, 3.0))
    frames = list(doorbell_frames(visits, seconds=22))
    tracker, phases = track(frames)
    assert os.listdir(tmp_path) == []  # no files
    news = [p for p in phases if p.kind == "new"]
    ends = [p for p in phases if p.kind == "end"]
    assert len(news) == len(ends) == 2 and tracker.events == 2
    for visit, new in zip(visits, news, strict=True):
        assert abs(new.event.start - visit.enter) <= 0.3
        assert new.event.started_at.startswith("2025-11-24T16:00:")
        assert new.event.camera == "porch" and "-porch-" in new.event.id
        assert new.shot is not None and new.event.snapshot == f"snapshots/{new.event.id}.jpg"
    # phases are copies: the end of a visit did not rewrite what its "new" said
    assert news[0].event.end is None and ends[0].event.end is not None
    # the same frames give the same phases (ids aside): nothing depends on a clock
    _, again = track(frames)
    assert [(p.kind, p.event.start, p.event.end, p.event.score) for p in again] == \
        [(p.kind, p.event.start, p.event.end, p.event.score) for p in phases]


def test_a_slow_disk_slows_the_recorder_not_the_tracker(tmp_path, monkeypatch):
    real_save = SnapshotStore.save

    def slow_save(self, *args, **kwargs):
        time.sleep(1.0)  # a disk that takes a second per snapshot
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(SnapshotStore, "save", slow_save)
    cfg = WatchConfig(events_dir=str(tmp_path / "ev"))
    sink = WatchSink(compile_rules([RULE], LABELS), cfg, camera="front")
    spent = 0.0
    frames = list(doorbell_frames((Visit(1.0, 2.0), Visit(11.0, 1.5)), seconds=16))
    for i, rgb in enumerate(frames):
        result = FrameResult(Frame("c", i, i / FPS, rgb), numpy_detector(rgb))
        t0 = time.monotonic()
        sink.write(result)
        spent += time.monotonic() - t0
    assert spent < 1.5  # the 4+ seconds of snapshot writing happened elsewhere
    sink.close()  # waits for the recorder: nothing is lost
    records = read_events(tmp_path / "ev" / "events.jsonl")
    assert [r["phase"] for r in records if r["phase"] != "update"] == ["new", "end", "new", "end"]
    assert all(r["camera"] == "front" for r in records)
    for r in records:
        assert (tmp_path / "ev" / r["snapshot"]).exists()


def test_health_has_a_line_per_camera():
    from realtime.watch.health import HealthReporter

    cams = {"front": {"frames": 0, "detector_runs": 0, "motion_frames": 0, "gate_frames": 0,
                      "reconnects": 0, "state": "running"},
            "garage": {"frames": 0, "detector_runs": 0, "motion_frames": 0, "gate_frames": 0,
                       "reconnects": 0, "state": "opening"}}
    counters = {"events": 0, "open": 0, "pending": 0, "cameras": cams}
    health = HealthReporter(lambda: {**counters, "cameras": {k: dict(v) for k, v in
                                                             cams.items()}}, every_s=60)
    cams["front"].update(frames=100, detector_runs=10, motion_frames=20, gate_frames=100)
    cams["garage"].update(reconnects=3, state="failed")
    counters.update(events=2, open=1)
    first, front, garage = health.lines()
    assert first.startswith("health: 2 cameras, events 2 (1 open)") and "rss" in first
    assert front.startswith("health [front]:") and "detector 10 calls" in front
    assert "motion 20% of frames" in front and "reconnects 0" in front
    assert garage.startswith("health [garage]:") and "reconnects 3, failed" in garage
