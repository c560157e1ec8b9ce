"""`lookout watch` on a generated doorbell clip with a real mosquitto (password file), a
durable MQTT subscriber and a local ntfy receiver: every topic checked; the broker stops
during a visit and comes back (nothing lost, nothing duplicated per phase); a wrong
password is a one-line error at start; a killed lookout leaves the last will."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from lookout.cli import main
from realtime.watch.events import read_events
from realtime.watch.spool import record_phase
from tests.fixtures.doorbell import Visit, write_doorbell_clip
from tests.fixtures.mosquitto import Mosquitto, Subscriber
from tests.fixtures.ntfy import NtfyServer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "pw-8Hq2-doorbell-only"
TOKEN = "tk_ntfy_token_never_logged"
# visit 1 is long enough to stop the broker inside it; visit 2 comes after the cooldown
VISITS = (Visit(1.0, 6.0), Visit(12.0, 2.0))


def write_config(path: Path, events: Path, broker: Mosquitto, ntfy: NtfyServer | None) -> Path:
    text = (f'[watch]\nevents_dir = "{events}"\n'
            '[watch.delivery]\non = ["new"]\nconsole = false\nretry_base_s = 0.1\n'
            'retry_max_s = 0.5\n'
            f'[watch.mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\nusername = "doorbell"\n'
            'discovery = true\ntimeout_s = 1.0\nkeepalive_s = 10\n'
            '[[watch.rules]]\nname = "visitor"\nlabels = ["red"]\nend_after_s = 1.5\n'
            'cooldown_s = 2.0\n')
    if ntfy is not None:
        text += f'[watch.ntfy]\nurl = "{ntfy.url}"\ntopic = "porch-alerts"\n'
    path.write_text(text)
    return path


def ended(events: Path, event_id: str) -> bool:
    return any(r["phase"] == "end" and r["id"] == event_id
               for r in read_events(events / "events.jsonl"))


def tried(events: Path, key: str) -> bool:
    """The spool has tried (and not yet done) the delivery ``key``."""
    with contextlib.closing(sqlite3.connect(events / "spool.sqlite", timeout=10)) as db:
        row = db.execute("SELECT state, attempts FROM deliveries WHERE key = ?",
                         (key,)).fetchone()
    return row is not None and row[0] == "pending" and row[1] >= 1


def lookout(config: Path, *args: str, password: str = PASSWORD, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "LOOKOUT_MQTT_PASSWORD": password,
           "LOOKOUT_NTFY_TOKEN": TOKEN}
    return subprocess.Popen([sys.executable, "-m", "lookout.cli", "--config", str(config),
                             "watch", *args], cwd=REPO, env=env, **popen)


def payloads(sub: Subscriber, topic: str) -> list[bytes]:
    return [m.payload for m in sub.on(topic)]


def test_watch_over_mqtt_and_ntfy_through_a_broker_restart(color_bundle, tmp_path):
    clip = write_doorbell_clip(tmp_path / "doorbell.mp4", visits=VISITS, seconds=17)
    broker = Mosquitto(tmp_path / "broker", users={"doorbell": PASSWORD,
                                                   "homeassistant": "ha"}).start()
    ntfy = NtfyServer(token=TOKEN).start()
    events = tmp_path / "events"
    config = write_config(tmp_path / "watch.toml", events, broker, ntfy)
    sub = Subscriber(broker.port, ["lookout/#", "homeassistant/#"], client_id="ha",
                     durable=True, auth=("homeassistant", "ha"))
    log = tmp_path / "watch.log"
    try:
        with open(log, "w") as out:
            proc = lookout(config, str(color_bundle), "--source", str(clip), "--mode", "live",
                           stdout=out, stderr=subprocess.STDOUT)
            try:
                assert sub.wait_for(lambda: sub.on("lookout/events"), 120), log.read_text()
                first = json.loads(sub.on("lookout/events")[0].payload)
                first_id = first["after"]["id"]
                broker.stop()  # during visit 1: its update and end wait in the spool
                assert not ended(events, first_id), "visit 1 ended before the broker stopped"
                assert sub.wait_for(lambda: ended(events, first_id), 60), log.read_text()
                # the broker comes back only once the end's delivery has failed at least once
                assert sub.wait_for(lambda: tried(events, f"{first_id}:end:mqtt"), 60), \
                    log.read_text()
                broker.start()
                proc.wait(180)
            finally:
                if proc.poll() is None:
                    proc.kill()
        output = log.read_text()
        assert proc.returncode == 0, output
        assert sub.wait_for(lambda: payloads(sub, "lookout/available")[-1:] == [b"offline"], 20)
        sub.wait_for(lambda: False, 1.0)  # room for a late duplicate to show up
        late = Subscriber(broker.port, ["lookout/#"], client_id="late",
                          auth=("homeassistant", "ha"))
        late.wait_for(lambda: len(late.messages) >= 3, 10)
        late.close()
        retained = {m.topic: m.payload for m in late.messages if m.retain}
    finally:
        sub.close()
        broker.stop()
        ntfy.stop()

    assert PASSWORD not in output and TOKEN not in output and "Traceback" not in output
    assert "not reachable" in output or "failed" in output  # the outage was noticed
    records = read_events(events / "events.jsonl")
    ids = list(dict.fromkeys(r["id"] for r in records))
    assert len(ids) == 2 and first["after"]["id"] == ids[0]
    # lookout/events: each logged phase exactly once, in order per event
    messages = [json.loads(p) for p in payloads(sub, "lookout/events")]
    keys = [m["key"] for m in messages]
    assert len(keys) == len(set(keys))  # nothing twice
    assert set(keys) == {f"{r['id']}:{record_phase(r)}:mqtt" for r in records}  # nothing lost
    for event_id in ids:
        phases = [m["type"] for m in messages if m["after"]["id"] == event_id]
        assert phases[0] == "new" and phases[-1] == "end"
    end = next(m for m in messages if m["type"] == "end" and m["after"]["id"] == ids[0])
    assert end["after"]["camera"] == "doorbell" and end["after"]["label"] == "red"
    assert end["after"]["end_time"] > end["after"]["start_time"]
    assert end["before"]["end_time"] is None  # the state before the end: still in view
    assert abs(end["after"]["start"] - VISITS[0].enter) < 0.5
    # lookout/doorbell/red: 0 at start, 1 in each visit, 0 at the end (retained)
    counts = payloads(sub, "lookout/doorbell/red")
    assert counts[0] == b"0" and counts[-1] == b"0" and counts.count(b"1") >= 2
    # lookout/doorbell/red/snapshot: JPEGs, the last one the last event's final snapshot
    snaps = payloads(sub, "lookout/doorbell/red/snapshot")
    assert all(s[:2] == b"\xff\xd8" for s in snaps) and len(snaps) >= 2
    last = next(r for r in reversed(records) if r["phase"] == "end")
    assert snaps[-1] == (events / last["snapshot"]).read_bytes()
    # what a client that subscribes later gets at once: count, snapshot, availability
    assert retained == {"lookout/doorbell/red": b"0", "lookout/available": b"offline",
                        "lookout/doorbell/red/snapshot": snaps[-1]}
    # lookout/available: online, online again after the broker came back, offline at the end
    available = payloads(sub, "lookout/available")
    assert available.count(b"online") >= 2 and available[-1] == b"offline"
    # Home Assistant discovery for the camera's label
    topics = {m.topic for m in sub.messages}
    for component, what in (("binary_sensor", "present"), ("sensor", "count"),
                            ("image", "snapshot")):
        assert f"homeassistant/{component}/lookout_doorbell/red_{what}/config" in topics
    # ntfy: one push with the picture per new event (delivery.on = new)
    assert ntfy.rejected == []
    assert [p.method for p in ntfy.published] == ["PUT", "PUT"]
    assert {p.title for p in ntfy.published} == {"red at doorbell"}
    assert all(p.body[:2] == b"\xff\xd8" for p in ntfy.published)


def test_wrong_password_is_a_one_line_error_at_start(color_bundle, tmp_path, capsys,
                                                     monkeypatch):
    broker = Mosquitto(tmp_path / "broker", users={"doorbell": PASSWORD}).start()
    clip = write_doorbell_clip(tmp_path / "still.mp4", visits=(), seconds=1)
    config = write_config(tmp_path / "watch.toml", tmp_path / "events", broker, None)
    monkeypatch.setenv("LOOKOUT_MQTT_PASSWORD", "not-" + PASSWORD)
    try:
        code = main(["--config", str(config), "watch", str(color_bundle), "--source", str(clip)])
    finally:
        broker.stop()
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err == (f"error: watch.mqtt: the broker at 127.0.0.1:{broker.port} refused user "
                   "'doorbell': not authorized")
    assert PASSWORD not in err


def test_a_killed_lookout_leaves_offline_as_its_last_will(color_bundle, tmp_path):
    clip = write_doorbell_clip(tmp_path / "still.mp4", visits=(), seconds=60)
    broker = Mosquitto(tmp_path / "broker", users={"doorbell": PASSWORD}).start()
    config = write_config(tmp_path / "watch.toml", tmp_path / "events", broker, None)
    sub = Subscriber(broker.port, ["lookout/available"], auth=("doorbell", PASSWORD))
    proc = lookout(config, str(color_bundle), "--source", str(clip), "--mode", "live",
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert sub.wait_for(lambda: payloads(sub, "lookout/available") == [b"online"], 120)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert sub.wait_for(lambda: payloads(sub, "lookout/available")[-1:] == [b"offline"], 30)
    finally:
        if proc.poll() is None:
            proc.kill()
        sub.close()
        broker.stop()
