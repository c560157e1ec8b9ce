"""Watch mode end to end: a generated doorbell mp4 through the real pipeline and the real
colour-blob bundle, a real webhook on 127.0.0.1, the CLI, SIGTERM, and SIGKILL mid-delivery."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lookout.cli import main
from lookout.config import Config
from realtime.watch.config import WatchConfig, WatchDeliveryConfig, WatchRuleConfig
from realtime.watch.events import read_events
from realtime.watch.runner import run_watch
from tests.fixtures.doorbell import Visit, write_doorbell_clip
from tests.fixtures.webhook import WebhookServer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
VISITS = (Visit(3.0, 4.0), Visit(14.0, 3.0))
TOLERANCE_S = 0.3  # event start/end vs. when the object enters/leaves the view


@pytest.fixture(scope="module")
def doorbell_clip(tmp_path_factory):
    return write_doorbell_clip(tmp_path_factory.mktemp("clips") / "doorbell.mp4",
                               visits=VISITS, seconds=22)


def watch_config(events: Path, url: str = "", **delivery) -> Config:
    rule = WatchRuleConfig(name="visitor", labels=["red"], end_after_s=2.0, cooldown_s=5.0)
    delivery = WatchDeliveryConfig(**{"console": False, "retry_base_s": 0.05,
                                      "retry_max_s": 0.5, **delivery})
    watch = WatchConfig(events_dir=str(events), rules=[rule], delivery=delivery)
    watch.webhook.url = url
    return dataclasses.replace(Config(), watch=watch)


def by_id(records):
    out: dict[str, dict] = {}
    for r in records:
        out.setdefault(r["id"], {})[r["phase"]] = r
    return out


def test_doorbell_clip_gives_two_events_each_delivered_once(color_bundle, doorbell_clip,
                                                            tmp_path):
    server = WebhookServer(fail_first=1).start()
    try:
        config = watch_config(tmp_path / "events", server.url)
        result = run_watch(color_bundle, str(doorbell_clip), config)
    finally:
        server.stop()
    events = by_id(read_events(tmp_path / "events" / "events.jsonl"))
    assert result.events == 2 and len(events) == 2
    for visit, phases in zip(VISITS, events.values(), strict=True):
        assert abs(phases["new"]["start"] - visit.enter) <= TOLERANCE_S
        assert abs(phases["end"]["end"] - visit.leave) <= TOLERANCE_S
        assert (tmp_path / "events" / phases["end"]["snapshot"]).stat().st_size > 0
    assert set(server.accepted) == {f"{i}:new:webhook" for i in events}
    assert server.duplicates == 0 and result.pending == 0
    stats = result.stats
    assert stats.frames_written == 220 and stats.frames_detected == result.detector_runs
    assert stats.frames_detected < 0.4 * stats.frames_written  # motion gating at work


def test_still_scene_never_calls_the_detector(color_bundle, tmp_path):
    clip = write_doorbell_clip(tmp_path / "still.mp4", visits=(), seconds=15)
    result = run_watch(color_bundle, str(clip), watch_config(tmp_path / "events"))
    assert result.stats.frames_written == 150
    assert result.stats.frames_detected == 0 and result.events == 0


def test_sigterm_stops_cleanly_and_closes_the_open_event(color_bundle, tmp_path):
    clip = write_doorbell_clip(tmp_path / "long.mp4", visits=(Visit(2.0, 120.0),), seconds=90)
    log = tmp_path / "events" / "events.jsonl"

    def terminate_after_first_event():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(r["phase"] == "new" for r in read_events(log)):
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=terminate_after_first_event, daemon=True)
    killer.start()
    result = run_watch(color_bundle, str(clip), watch_config(tmp_path / "events"))
    killer.join()
    assert result.stats.stopped_by == "sigterm"
    assert result.stats.frames_written < 900
    (phases,) = by_id(read_events(log)).values()
    assert phases["end"]["end_reason"] == "stopped"


def test_cli_errors_are_one_line(color_bundle, doorbell_clip, tmp_path, capsys):
    code = main(["watch", str(color_bundle), "--source", str(doorbell_clip), "--events",
                 str(tmp_path / "e"), "--alert", "dog"])
    err = capsys.readouterr().err
    assert code == 1 and "--alert[0].labels: 'dog' is not a label of this model" in err
    assert "Traceback" not in err
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[[watch.rules]]\nlabels = ["red"]\nzones = [[[0, 0], [1, 1]]]\n')
    code = main(["--config", str(cfg), "watch", str(color_bundle), "--source",
                 str(doorbell_clip), "--events", str(tmp_path / "e")])
    err = capsys.readouterr().err
    assert code == 1 and "bad.toml: watch.rules[0].zones[0]: a polygon needs at least 3" in err
    code = main(["watch", str(color_bundle), "--source", str(doorbell_clip), "--alert", "red:2"])
    assert code == 1 and "MIN_SCORE must be a number in [0, 1]" in capsys.readouterr().err


def test_kill_during_delivery_then_restart_delivers_the_rest_once(color_bundle, doorbell_clip,
                                                                  tmp_path):
    """Process 1 watches the clip; the receiver takes the first delivery and holds the
    second open; we SIGKILL the process then. Process 2 (a restart) delivers the rest."""
    server = WebhookServer(hold_at=1).start()
    events = tmp_path / "events"
    config = tmp_path / "watch.toml"
    config.write_text(
        f'[watch]\nevents_dir = "{events}"\n'
        '[watch.delivery]\non = ["new", "end"]\nconsole = false\nretry_base_s = 0.05\nretry_max_s = 0.5\n'
        f'[watch.webhook]\nurl = "{server.url}"\ntimeout_s = 120.0\n'
        '[[watch.rules]]\nlabels = ["red"]\nend_after_s = 2.0\ncooldown_s = 5.0\n')
    cli = [sys.executable, "-m", "lookout.cli", "--config", str(config), "watch"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        with open(tmp_path / "first.log", "w") as out:
            first = subprocess.Popen([*cli, str(color_bundle), "--source", str(doorbell_clip)],
                                     cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 240
                while time.monotonic() < deadline and first.poll() is None:
                    ends = [r for r in read_events(events / "events.jsonl") if r["phase"] == "end"]
                    if server.held.is_set() and len(ends) == 2:
                        break
                    time.sleep(0.05)
                assert first.poll() is None, (tmp_path / "first.log").read_text()
                first.send_signal(signal.SIGKILL)  # mid-delivery: a request is in flight
                first.wait(30)
            finally:
                if first.poll() is None:
                    first.kill()
        server.release()
        assert len(server.accepted) == 1
        second = subprocess.run([*cli, "--deliver-only"], cwd=REPO, env=env, timeout=120,
                                capture_output=True, text=True, check=False)
        assert second.returncode == 0, second.stdout + second.stderr
    finally:
        server.stop()
    records = read_events(events / "events.jsonl")
    expected = {f"{r['id']}:{r['phase']}:webhook" for r in records if r["phase"] in ("new", "end")}
    assert len(expected) == 4
    assert set(server.accepted) == expected and server.duplicates == 0
    assert len(server.received) == 5  # 4 + the one in flight when the process died
    assert "delivered 3, still pending 0" in second.stdout


def test_cli_flags_alert_events_webhook_command(color_bundle, doorbell_clip, tmp_path, capsys):
    server = WebhookServer().start()
    marks = tmp_path / "marks"
    marks.mkdir()
    command = (f"{sys.executable} -c \"import os, pathlib; pathlib.Path({str(marks)!r}, "
               f"os.environ['LOOKOUT_EVENT_ID']).write_text(os.environ['LOOKOUT_LABEL'])\"")
    try:
        code = main(["watch", str(color_bundle), "--source", str(doorbell_clip), "--alert",
                     "red:0.6", "--events", str(tmp_path / "ev"), "--webhook", server.url,
                     "--command", command])
    finally:
        server.stop()
    out = capsys.readouterr().out
    # --alert rules keep the default 30 s cooldown: the return 5 s after the first visit
    # ended is the same visit, so one event, delivered by console, webhook and command
    assert code == 0 and "1 event(s)" in out and "delivered 3, pending 0" in out
    ids = {r["id"] for r in read_events(tmp_path / "ev" / "events.jsonl")}
    assert len(ids) == 1 and {p.name for p in marks.iterdir()} == ids
    assert {p.read_text() for p in marks.iterdir()} == {"red"}
    assert set(server.accepted) == {f"{i}:new:webhook" for i in ids}


def test_live_stream_that_drops_reconnects_and_stays_one_visit(color_bundle, tmp_path):
    """An MJPEG camera on 127.0.0.1 with a red square always in view goes away for a
    second: the source reconnects by itself and the visit stays one event."""
    from realtime.config import PipelineConfig
    from tests.fixtures.media import MjpegServer

    server = MjpegServer(fps=15).start()
    config = watch_config(tmp_path / "events")
    config.watch.rules[0].end_after_s = 5.0
    config = dataclasses.replace(config, pipeline=PipelineConfig(
        batch=1, open_timeout_s=3, read_timeout_s=1, reconnect_backoff_s=0.1,
        reconnect_backoff_max_s=0.4))
    log = tmp_path / "events" / "events.jsonl"

    def drop_then_stop():
        deadline = time.monotonic() + 120
        while not any(r["phase"] == "new" for r in read_events(log)):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        server.cut()
        time.sleep(1.0)
        server.restore()
        sent = server.frames_sent
        while server.frames_sent < sent + 45 and time.monotonic() < deadline:
            time.sleep(0.05)  # ~3 s of frames after the camera came back
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=drop_then_stop, daemon=True)
    thread.start()
    try:
        result = run_watch(color_bundle, server.url, config)
    finally:
        thread.join(30)
        server.close()
    assert result.stats.mode == "live" and result.stats.stopped_by == "sigterm"
    assert result.stats.reconnects >= 1
    (phases,) = by_id(read_events(log)).values()
    assert phases["end"]["end_reason"] == "stopped"
    # Stream time leaves out the time spent reconnecting, and less than 0.5 s of it passed
    # before the cut: an end past 1.5 s was seen after the camera came back, with room for
    # the detector to lag the last frames on a loaded machine.
    assert phases["end"]["end"] - phases["new"]["start"] > 1.5  # spans the drop
