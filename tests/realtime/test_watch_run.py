"""A watch run as a checklist: `WatchRun.start()` opens the events folder, the spool and
notifiers, the model, the cameras and the server, in that order; `stop()` closes them in
reverse, also after a step failed. A cheap in-test detector, a real clip and spool."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import UserError
from realtime.settings import RunSettings
from realtime.watch import rules as rules_module
from realtime.watch.cameras import Camera
from realtime.watch.config import WatchConfig, WatchDeliveryConfig, WatchRuleConfig
from realtime.watch.runner import WatchRun
from tests.fixtures.engine import BrightnessDetector
from tests.fixtures.media import make_clip


def settings(events: Path, labels: list[str]) -> RunSettings:
    watch = WatchConfig(events_dir=str(events), rules=[WatchRuleConfig(labels=labels)],
                        delivery=WatchDeliveryConfig(console=False))
    return RunSettings(watch=watch)


class Server:
    """Stands in for ``watch --serve``'s page: records what was open when it started
    and when it stopped."""

    def __init__(self) -> None:
        self.run: WatchRun | None = None
        self.seen: list[tuple] = []

    def start(self) -> None:
        run = self.run
        self.seen.append(("start", run.root.is_dir(), run.spool is not None,
                          run.recorder is not None, run.detector is not None,
                          all(c.source is not None for c in run.cameras)))

    def stop(self) -> None:
        run = self.run
        self.seen.append(("stop", run.spool is not None, run.detector is not None))


def test_start_opens_in_order_stop_closes_in_reverse_and_rules_compile_once(
        tmp_path, monkeypatch):
    clip = make_clip(tmp_path / "door.mp4", 12, audio=False)
    compiled = []
    compile_one = rules_module._compile
    monkeypatch.setattr(rules_module, "_compile",
                        lambda c, *a, **k: compiled.append(c) or compile_one(c, *a, **k))
    detector, server = BrightnessDetector(), Server()
    run = WatchRun(detector, [Camera(str(clip))], settings(tmp_path / "events", ["thing"]),
                   server=server)
    server.run = run
    assert not (tmp_path / "events").exists()  # building it only checks values
    run.start()
    try:
        stats = run.run()
    finally:
        run.stop()
    # the server started last, with everything before it open; it stopped first
    assert server.seen == [("start", True, True, True, True, True), ("stop", True, True)]
    assert run.spool is None and run.recorder is None and run.detector is None
    assert len(compiled) == 1  # one rule, one camera: compiled once
    assert stats.frames_written == 12 and run.result(stats).frames == 12
    assert (tmp_path / "events" / "spool.sqlite").is_file()


def test_a_failed_step_still_closes_what_opened_before_it(tmp_path):
    clip = make_clip(tmp_path / "door.mp4", 6, audio=False)
    server = Server()
    run = WatchRun(BrightnessDetector(), [Camera(str(clip))],
                   settings(tmp_path / "events", ["raccoon"]), server=server)
    server.run = run
    with pytest.raises(UserError, match=r"watch.rules\[0\].labels: 'raccoon' is not a label "
                                        r"of this model \(it has: thing\)"):
        run.start()
    run.stop()
    assert run.spool is None and run.detector is None and not run.started
    assert server.seen == []  # never started, so never stopped
    assert all(c.source is None for c in run.cameras)  # the camera step never ran


def test_several_cameras_keep_one_counts_file_each(tmp_path):
    clip = make_clip(tmp_path / "door.mp4", 6, audio=False)
    run = WatchRun(BrightnessDetector(), [Camera(str(clip), "front"), Camera(str(clip), "back")],
                   settings(tmp_path / "events", ["thing"]))
    assert [c.counts_path.name for c in run.cameras] == ["counts-front.json", "counts-back.json"]
    one = WatchRun(BrightnessDetector(), [Camera(str(clip), "front")],
                   settings(tmp_path / "events", ["thing"]))
    assert one.cameras[0].counts_path == tmp_path / "events" / "counts.json"
