"""Durable delivery: the SQLite spool, retries with backoff, real HTTP receivers on
127.0.0.1 (failing, down then up), the command notifier, and crash recovery."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import sys
import time

import numpy as np
import pytest

from core.errors import UserError
from realtime.watch.config import WatchConfig, WatchDeliveryConfig, WatchWebhookConfig
from realtime.watch.delivery import Deliverer, backoff
from realtime.watch.events import Event, EventLog, read_events
from realtime.watch.notifiers import (
    CommandNotifier,
    WebhookNotifier,
    build_notifiers,
    event_env,
)
from realtime.watch.recovery import recover
from realtime.watch.snapshots import write_jpeg
from realtime.watch.spool import Spool
from tests.fixtures.webhook import WebhookServer, free_port

FAST = WatchDeliveryConfig(retry_base_s=0.02, retry_max_s=0.2)


def make_records(root, n=3, phases=("new", "end")):
    """``n`` events with snapshots, each phase logged to events.jsonl; returns the records."""
    (root / "snapshots").mkdir(parents=True, exist_ok=True)
    log = EventLog(root / "events.jsonl")
    records = []
    for i in range(n):
        ev = Event(id=f"ev{i}", rule="visitor", label="red", source="clip", start=float(i),
                   start_frame=i, started_at="2026-11-25T08:00:00.000Z", score=0.9,
                   snapshot=f"snapshots/ev{i}.jpg")
        write_jpeg(root / ev.snapshot, np.full((24, 32, 3), 40 * i, np.uint8))
        for phase in phases:
            if phase == "end":
                ev.end, ev.end_reason = ev.start + 2, "unseen"
            rec = ev.record(phase)
            log.append(rec)
            records.append(rec)
    log.close()
    return records


def deliver_all(spool, notifiers, root, timeout_s=20.0):
    deliverer = Deliverer(spool, notifiers, FAST, root).start()
    try:
        assert deliverer.drain(timeout_s) == 0, spool.counts()
    finally:
        deliverer.stop()
    return deliverer


def test_backoff_doubles_up_to_a_cap():
    assert [backoff(a, 2.0, 30.0) for a in range(1, 7)] == [2, 4, 8, 16, 30, 30]


def test_spool_enqueue_is_idempotent(tmp_path):
    spool = Spool(tmp_path / "spool.sqlite")
    rec = make_records(tmp_path, 1, ("new",))[0]
    assert spool.enqueue(rec, ["webhook", "command"]) == 2
    assert spool.enqueue(rec, ["webhook", "command"]) == 0
    assert [d.key for d in spool.due()] == ["ev0:new:command", "ev0:new:webhook"]
    spool.mark_done("ev0:new:command")
    spool.close()
    again = Spool(tmp_path / "spool.sqlite")  # durable across reopen
    assert again.counts() == {"pending": 1, "done": 1, "failed": 0}
    assert again.enqueue(rec, ["command"]) == 0  # done stays done


def test_webhook_failing_first_deliveries_gets_each_event_once(tmp_path, caplog):
    server = WebhookServer(fail_first=4).start()
    try:
        records = make_records(tmp_path)
        spool = Spool(tmp_path / "spool.sqlite")
        for rec in records:
            spool.enqueue(rec, ["webhook"])
        hook = WebhookNotifier(server.url, secret="hunter2-secret", snapshot=True)
        with caplog.at_level(logging.INFO, logger="lookout.watch"):
            deliverer = deliver_all(spool, [hook], tmp_path)
    finally:
        server.stop()
    expected = {f"{r['id']}:{r['phase']}:webhook" for r in records}
    assert set(server.accepted) == expected and server.duplicates == 0
    assert len(server.received) == len(expected) + 4  # each failure retried once, no more
    assert deliverer.failures == 4 and deliverer.delivered == len(expected)
    assert "failed (attempt 1)" in caplog.text and "HTTP 500" in caplog.text
    # the secret and the URL's token never reach the log
    assert "hunter2" not in caplog.text and "s3cr3t" not in caplog.text
    key, body, headers = server.received[-1]
    raw = json.dumps(body).encode()
    assert body["key"] == key and body["event"]["id"] in key
    assert headers["X-Lookout-Signature"] == "sha256=" + hmac.new(
        b"hunter2-secret", raw, hashlib.sha256).hexdigest()
    jpeg = base64.b64decode(body["snapshot_jpeg_base64"])
    assert jpeg[:2] == b"\xff\xd8"


def test_webhook_down_then_up_loses_nothing(tmp_path, caplog):
    port = free_port()
    records = make_records(tmp_path)
    spool = Spool(tmp_path / "spool.sqlite")
    for rec in records:
        spool.enqueue(rec, ["webhook"])
    hook = WebhookNotifier(f"http://127.0.0.1:{port}/hook", snapshot=False, timeout_s=2)
    deliverer = Deliverer(spool, [hook], FAST, tmp_path).start()
    with caplog.at_level(logging.WARNING, logger="lookout.watch"):
        deadline = time.monotonic() + 20
        while deliverer.failures < 6 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert deliverer.failures >= 6 and deliverer.delivered == 0
    assert "ConnectionRefusedError" in caplog.text
    server = WebhookServer(port=port).start()  # the receiver comes back
    try:
        assert deliverer.drain(20) == 0
        deliverer.stop()
    finally:
        server.stop()
    assert set(server.accepted) == {f"{r['id']}:{r['phase']}:webhook" for r in records}
    assert server.duplicates == 0 and "snapshot_jpeg_base64" not in server.received[0][1]


def test_command_notifier_env_retry_and_timeout(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # fails on its first run for each event (writes a marker), then records its environment
    script = ("import os, json, pathlib, sys\n"
              f"d = pathlib.Path({str(out)!r})\n"
              "k = os.environ['LOOKOUT_DELIVERY_KEY'].replace(':', '_')\n"
              "m = d / (k + '.tried')\n"
              "if not m.exists():\n    m.touch(); sys.exit(3)\n"
              "(d / (k + '.json')).write_text(json.dumps(dict(os.environ)))\n")
    records = make_records(tmp_path, 2, ("new",))
    spool = Spool(tmp_path / "spool.sqlite")
    for rec in records:
        spool.enqueue(rec, ["command"])
    command = CommandNotifier([sys.executable, "-c", script, "arg with spaces; rm -rf /"])
    deliverer = deliver_all(spool, [command], tmp_path)
    assert deliverer.failures == 2 and deliverer.delivered == 2
    env = json.loads((out / "ev1_new_command.json").read_text())
    assert env["LOOKOUT_EVENT_ID"] == "ev1" and env["LOOKOUT_LABEL"] == "red"
    assert env["LOOKOUT_PHASE"] == "new" and float(env["LOOKOUT_SCORE"]) == 0.9
    assert env["LOOKOUT_SNAPSHOT"].endswith("snapshots/ev1.jpg")
    assert json.loads(env["LOOKOUT_EVENT_JSON"])["id"] == "ev1"
    slow = CommandNotifier([sys.executable, "-c", "import time; time.sleep(5)"], timeout_s=0.3)
    with pytest.raises(Exception, match="timed out after 0.3s"):
        slow.send(records[0], "k", tmp_path)


def test_event_env_has_every_field(tmp_path):
    rec = make_records(tmp_path, 1, ("end",))[0]
    env = event_env(rec, "ev0:end:command", tmp_path)
    assert env["LOOKOUT_END"] == "2.0" and env["LOOKOUT_DURATION"] == "2.0"
    assert env["LOOKOUT_CLIP"] == ""


def test_build_notifiers_from_config_and_environment(tmp_path):
    cfg = WatchConfig()
    names = [n.name for n in build_notifiers(cfg, environ={})]
    assert names == ["console"]
    env = {"LOOKOUT_WEBHOOK_URL": "https://example.invalid/x?token=abc"}
    hooks = [n for n in build_notifiers(cfg, environ=env) if n.name == "webhook"]
    assert hooks and "token" not in repr(hooks[0])
    bad = WatchConfig(webhook=WatchWebhookConfig(url="ftp://x/y"))
    with pytest.raises(UserError, match="watch.webhook.url: not an http"):
        build_notifiers(bad, environ={})


def test_recovery_closes_interrupted_events_and_respools_once(tmp_path):
    records = make_records(tmp_path, 2, ("new",))  # a crash: no "end" records, nothing spooled
    spool = Spool(tmp_path / "spool.sqlite")
    assert recover(tmp_path / "events.jsonl", spool, ["webhook"], {"new", "end"}) == 4
    logged = read_events(tmp_path / "events.jsonl")
    ends = [r for r in logged if r["phase"] == "end"]
    assert [r["id"] for r in ends] == [r["id"] for r in records]
    assert {r["end_reason"] for r in ends} == {"interrupted"}
    assert recover(tmp_path / "events.jsonl", spool, ["webhook"], {"new", "end"}) == 0
    assert spool.counts()["pending"] == 4
    with open(tmp_path / "events.jsonl", "a") as f:  # a torn last line is skipped
        f.write('{"phase": "new", "id": "half')
    assert len(read_events(tmp_path / "events.jsonl")) == 4


def test_desktop_notifier_uses_notify_send_where_it_exists(tmp_path, monkeypatch, caplog):
    from realtime.watch.config import WatchDeliveryConfig as D

    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with caplog.at_level(logging.WARNING, logger="lookout.watch"):
        assert [n.name for n in build_notifiers(WatchConfig(delivery=D(desktop=True)))] == [
            "console"]
    assert "notify-send not found" in caplog.text
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin" / "notify-send"  # a stand-in that records its arguments
    fake.write_text(f"#!{sys.executable}\nimport sys, json\n"
                    f"open({str(tmp_path / 'args.json')!r}, 'w').write(json.dumps(sys.argv[1:]))\n")
    fake.chmod(0o755)
    (desktop,) = [n for n in build_notifiers(WatchConfig(delivery=D(desktop=True)))
                  if n.name == "desktop"]
    rec = make_records(tmp_path, 1, ("new",))[0]
    desktop.send(rec, "k", tmp_path)
    args = json.loads((tmp_path / "args.json").read_text())
    assert args[-2] == "lookout: red (new)" and "ev0" in args[-1]
    assert any(a.startswith("--icon=") and a.endswith("ev0.jpg") for a in args)


def test_health_line_reports_rates_and_counts():
    from realtime.watch.health import HealthReporter

    counters = {"frames": 0, "detector_runs": 0, "motion_frames": 0, "events": 0, "open": 0,
                "pending": 0, "reconnects": 0}
    health = HealthReporter(lambda: dict(counters), every_s=60)
    counters.update(frames=100, detector_runs=10, motion_frames=25, events=2, open=1,
                    pending=3, reconnects=1)
    line = health.line()
    assert "detector 10 calls" in line and "motion 25% of frames" in line
    assert "events 2 (1 open)" in line and "pending 3" in line and "reconnects 1" in line
    assert "rss" in line and "fps" in line
