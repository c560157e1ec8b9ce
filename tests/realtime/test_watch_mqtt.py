"""The MQTT notifier against a real mosquitto on 127.0.0.1: every topic, Home Assistant
discovery, the spool's once-per-phase through a broker outage, a refused password, the
last will. (The whole `lookout watch` run over MQTT is in test_watch_notify_e2e.py.)"""

from __future__ import annotations

import itertools
import json
import logging
import re

import numpy as np
import pytest

from core.errors import UserError
from realtime.watch.camera import camera_from_source, camera_of, slug
from realtime.watch.config import WatchDeliveryConfig
from realtime.watch.delivery import Deliverer
from realtime.watch.events import Event, EventLog
from realtime.watch.mqtt import MqttNotifier, ObjectCounts, epoch, event_state
from realtime.watch.notify_config import MqttConfig, NtfyConfig
from realtime.watch.snapshots import write_jpeg
from realtime.watch.spool import Spool, record_phase
from tests.fixtures.mosquitto import Mosquitto, Subscriber

FAST = WatchDeliveryConfig(retry_base_s=0.05, retry_max_s=0.3)
PASSWORD = "pw-Zq81-never-shown"


@pytest.fixture
def broker(tmp_path):
    server = Mosquitto(tmp_path / "broker").start()
    yield server
    server.stop()


def visit_records(root, event_id="ev0", source="/clips/front door.mp4", shade=60, log=True):
    """new, update, end of one visit with a snapshot each, logged to events.jsonl (unless
    ``log`` is False: then `log_and_spool` does it phase by phase, as the engine does)."""
    (root / "snapshots").mkdir(parents=True, exist_ok=True)
    ev = Event(id=event_id, rule="visitor", label="red", source=source, start=1.0,
               start_frame=10, started_at="2026-11-25T08:00:01.250Z", score=0.8,
               box=[10, 20, 40, 80])
    out = []
    for i, phase in enumerate(("new", "update", "end")):
        ev.snapshot = f"snapshots/{event_id}.{phase}.jpg"
        write_jpeg(root / ev.snapshot, np.full((24, 32, 3), shade + 40 * i, np.uint8))
        ev.score = 0.8 + 0.05 * i
        if phase == "end":
            ev.end, ev.end_reason = 4.5, "unseen"
        rec = ev.record(phase)
        rec["logged_at"] = f"2026-11-25T08:00:0{2 + i}.000Z"  # strictly increasing
        out.append(rec)
    if log:
        for rec in out:
            log_and_spool(root, rec)
    return out


def log_and_spool(root, record, spool=None):
    event_log = EventLog(root / "events.jsonl")
    event_log.append(record)
    event_log.close()
    if spool is not None:
        spool.enqueue(record, ["mqtt"])


def notifier(broker, **kw) -> MqttNotifier:
    cfg = MqttConfig(host="127.0.0.1", port=broker.port, timeout_s=1.0, **kw)
    return MqttNotifier(cfg, kw.pop("password", ""))


def deliver(spool, notifiers, root, timeout_s=20.0):
    deliverer = Deliverer(spool, notifiers, FAST, root).start()
    try:
        return deliverer.drain(timeout_s)
    finally:
        deliverer.stop()


def test_camera_names_never_carry_credentials():
    assert camera_from_source("/clips/front door.mp4") == "front_door"
    assert camera_from_source("rtsp://user:pa55@doorbell.local:554/s1") == "doorbell_local"
    assert camera_from_source("rtsp://***@doorbell.local/s1") == "doorbell_local"  # as logged
    assert camera_from_source("webcam:0") == "webcam0"
    assert camera_of({"camera": "garage/left+#", "source": "x.mp4"}) == "garage_left"
    assert slug("traffic light") == "traffic_light"


def test_event_state_times_and_no_source():
    rec = {"id": "e", "phase": "end", "label": "red", "source": "rtsp://u:secret@cam/s",
           "started_at": "2026-11-25T08:00:01.250Z", "duration": 3.5, "snapshot": "s.jpg"}
    state = event_state(rec)
    assert state["start_time"] == epoch("2026-11-25T08:00:01Z") + 0.25
    assert state["end_time"] == state["start_time"] + 3.5
    assert state["camera"] == "cam" and state["has_snapshot"] and not state["has_clip"]
    assert "secret" not in json.dumps(state)


def test_counts_survive_a_reordered_retry(tmp_path):
    """An ``end`` delivered before its ``new`` (a retry that lost the race) must not leave
    the count stuck at 1; nor may an event already ended in the log reopen it."""
    new, _update, end = visit_records(tmp_path)
    counts = ObjectCounts()
    counts.ended = set()  # nothing ended in the log yet
    assert counts.apply(end, tmp_path) == 0
    assert counts.apply(new, tmp_path) == 0
    fresh = ObjectCounts()  # a restart: the log says ev0 ended
    assert fresh.apply(new, tmp_path) == 0


def test_each_update_is_its_own_delivery_once(tmp_path):
    """An event can have several updates (better snapshots): each is delivered, each once."""
    new, update, end = visit_records(tmp_path / "e")
    later = {**update, "logged_at": "2026-11-25T08:00:03.500Z"}
    spool = Spool(tmp_path / "spool.sqlite")
    assert [spool.enqueue(r, ["mqtt"]) for r in (new, update, later, end)] == [1, 1, 1, 1]
    assert [spool.enqueue(r, ["mqtt"]) for r in (new, update, later, end)] == [0, 0, 0, 0]
    assert spool.counts()["pending"] == 4
    spool.close()


@pytest.mark.parametrize(("table", "values", "expected"), [
    (MqttConfig, {"qos": 3}, "watch.mqtt.qos: must be one of 0 | 1 | 2, got 3"),
    (MqttConfig, {"port": 0}, "watch.mqtt.port: must be between 1 and 65535, got 0"),
    (MqttConfig, {"host": "mqtt://ha.local"}, "host: 'mqtt://ha.local': a host name or address"),
    (MqttConfig, {"host": "ha.local:1883"}, "host: 'ha.local:1883': a host name"),
    (MqttConfig, {"topic_prefix": "home/#"}, "topic_prefix: 'home/#' must be a topic"),
    (NtfyConfig, {"url": "https://ntfy.sh"}, "watch.ntfy.topic: needed when ntfy.url is set"),
    (NtfyConfig, {"priority": 7}, "watch.ntfy.priority: must be between 1 and 5, got 7"),
])
def test_bad_mqtt_and_ntfy_values_name_the_key(table, values, expected):
    with pytest.raises(UserError, match=re.escape(expected)):
        table(**values)


def test_a_bad_value_in_the_file_names_file_line_and_key(tmp_path):
    from lookout.config import load_config

    path = tmp_path / "c.toml"
    path.write_text('[watch.mqtt]\nhost = "ha.local"\nqos = 3\n[watch.ntfy]\npriority = 0\n')
    with pytest.raises(UserError) as info:
        load_config(path)
    assert str(info.value).splitlines() == [
        f"{path}:3: watch.mqtt.qos: must be one of 0 | 1 | 2, got 3",
        f"{path}:5: watch.ntfy.priority: must be between 1 and 5, got 0"]
    assert MqttConfig(host="fd00::1").host == "fd00::1"  # IPv6 is fine


def test_every_topic_and_discovery(broker, tmp_path):
    root = tmp_path / "events"
    records = visit_records(root, log=False)
    sub = Subscriber(broker.port, ["lookout/#", "homeassistant/#"])
    mqtt = notifier(broker, discovery=True)
    spool = Spool(root / "spool.sqlite")
    try:
        mqtt.start()
        mqtt.announce("front_door", ["red", "blue"])
        for rec in records:  # as the engine does: log, spool, deliver, next phase
            log_and_spool(root, rec, spool)
            assert deliver(spool, [mqtt], root) == 0
        mqtt.stop()
        assert sub.wait_for(lambda: [m.payload for m in sub.on("lookout/available")][-1:]
                            == [b"offline"], 10)
    finally:
        mqtt.stop()
        spool.close()
        sub.close()

    events = [json.loads(m.payload) for m in sub.on("lookout/events")]
    assert [e["type"] for e in events] == ["new", "update", "end"]
    assert [e["key"] for e in events] == [f"ev0:{record_phase(r)}:mqtt" for r in records]
    assert events[1]["key"] == "ev0:update@2026-11-25T08:00:03.000Z:mqtt"
    assert events[0]["before"] == events[0]["after"]
    for prev, cur in itertools.pairwise(events):
        assert cur["before"] == prev["after"]  # before = the state last published
    end = events[-1]["after"]
    assert end["camera"] == "front_door" and end["label"] == "red"
    assert end["score"] == 0.9 and end["box"] == [10.0, 20.0, 40.0, 80.0]
    assert end["end_time"] == pytest.approx(end["start_time"] + 3.5)
    assert end["snapshot"] == "snapshots/ev0.end.jpg" and end["end_reason"] == "unseen"
    # announce: 0 for each label, then 1 while the visit is open, 0 after its end
    assert [m.payload for m in sub.on("lookout/front_door/red")] == [b"0", b"1", b"1", b"0"]
    assert [m.payload for m in sub.on("lookout/front_door/blue")] == [b"0"]
    snaps = sub.on("lookout/front_door/red/snapshot")
    assert [m.payload for m in snaps] == [(root / r["snapshot"]).read_bytes() for r in records]
    assert [m.payload for m in sub.on("lookout/available")] == [b"online", b"offline"]
    # per phase: the picture first, then the count, then the event (automations find the
    # picture in place)
    order = [m.topic.rsplit("/", 1)[-1] for m in sub.messages
             if m.topic.startswith("lookout/") and not m.topic.endswith(("available", "blue"))]
    assert order == ["red"] + ["snapshot", "red", "events"] * 3

    configs = {m.topic: json.loads(m.payload) for m in sub.messages
               if m.topic.startswith("homeassistant/")}
    node = "homeassistant/{}/lookout_front_door/{}/config"
    assert set(configs) == {node.format(c, f"{label}_{w}") for label in ("red", "blue")
                            for c, w in (("binary_sensor", "present"), ("sensor", "count"),
                                         ("image", "snapshot"))}
    present = configs[node.format("binary_sensor", "red_present")]
    assert present["state_topic"] == "lookout/front_door/red"
    assert present["availability_topic"] == "lookout/available"
    assert present["device"]["identifiers"] == ["lookout_front_door"]
    image = configs[node.format("image", "red_snapshot")]
    assert image["image_topic"] == "lookout/front_door/red/snapshot"
    assert image["content_type"] == "image/jpeg"
    assert len({c["unique_id"] for c in configs.values()}) == 6
    assert image["default_entity_id"] == "image.lookout_front_door_red_snapshot"
    # retained: a client that subscribes now gets the current state at once
    late = Subscriber(broker.port, ["lookout/+/+", "lookout/+/+/snapshot", "lookout/available"],
                      client_id="late")
    try:
        assert late.wait_for(lambda: len(late.messages) >= 4, 10)
        state = {m.topic: m.payload for m in late.messages if m.retain}
    finally:
        late.close()
    assert state["lookout/front_door/red"] == b"0"
    assert state["lookout/available"] == b"offline"
    assert state["lookout/front_door/red/snapshot"] == snaps[-1].payload


def test_broker_down_then_back_each_phase_once(broker, tmp_path, caplog):
    """The broker stops with deliveries due; attempts fail and are retried; after it comes
    back every phase arrives exactly once (paho's queued re-send and the spool's retry
    must not both publish)."""
    root = tmp_path / "events"
    records = visit_records(root) + visit_records(root, "ev1", shade=20)
    sub = Subscriber(broker.port, ["lookout/events"], client_id="durable", durable=True)
    mqtt = notifier(broker)
    spool = Spool(root / "spool.sqlite")
    deliverer = Deliverer(spool, [mqtt], FAST, root)
    try:
        mqtt.start()
        spool.enqueue(records[0], ["mqtt"])
        deliverer.start()
        assert deliverer.drain(10) == 0
        broker.stop()
        for rec in records[1:]:
            spool.enqueue(rec, ["mqtt"])
        deliverer.wake()
        with caplog.at_level(logging.WARNING, "lookout.watch"):
            assert deliverer.drain(2.5) > 0  # down: nothing goes
            assert deliverer.failures > 0
            broker.start()
            assert deliverer.drain(30) == 0
    finally:
        deliverer.stop()
        mqtt.stop()
        spool.close()
    assert sub.wait_for(lambda: len(sub.on("lookout/events")) >= 6, 20)
    sub.wait_for(lambda: False, 1.0)  # a late duplicate would arrive now
    sub.close()
    keys = [json.loads(m.payload)["key"] for m in sub.on("lookout/events")]
    assert sorted(keys) == sorted(f"{r['id']}:{record_phase(r)}:mqtt" for r in records)
    assert "not connected" in caplog.text


def test_refused_password_is_one_line_and_never_shows_the_password(tmp_path):
    server = Mosquitto(tmp_path / "broker", users={"doorbell": PASSWORD}).start()
    try:
        mqtt = MqttNotifier(MqttConfig(host="127.0.0.1", port=server.port, timeout_s=5.0,
                                       username="doorbell"), "wrong-" + PASSWORD)
        with pytest.raises(UserError) as info:
            mqtt.start()
        good = MqttNotifier(MqttConfig(host="127.0.0.1", port=server.port, timeout_s=5.0,
                                       username="doorbell"), PASSWORD)
        good.start()
        assert good._connected.is_set()
        good.stop()
    finally:
        server.stop()
    message = str(info.value)
    assert "\n" not in message and PASSWORD not in message
    assert message == (f"watch.mqtt: the broker at 127.0.0.1:{server.port} refused user "
                       "'doorbell': not authorized")
    assert PASSWORD not in repr(good.cfg) and PASSWORD not in repr(good)


def test_broker_down_at_start_is_a_warning_then_delivers(tmp_path, caplog):
    server = Mosquitto(tmp_path / "broker")  # not started yet
    root = tmp_path / "events"
    (rec, *_rest) = visit_records(root)
    mqtt = MqttNotifier(MqttConfig(host="127.0.0.1", port=server.port, timeout_s=1.0))
    spool = Spool(root / "spool.sqlite")
    try:
        with caplog.at_level(logging.WARNING, "lookout.watch"):
            mqtt.start()
        assert f"MQTT broker 127.0.0.1:{server.port} not reachable" in caplog.text
        spool.enqueue(rec, ["mqtt"])
        server.start()
        sub = Subscriber(server.port, ["lookout/events"])
        assert deliver(spool, [mqtt], root, 30) == 0
        assert sub.wait_for(lambda: len(sub.on("lookout/events")) == 1, 10)
        sub.close()
    finally:
        mqtt.stop()
        spool.close()
        server.stop()


def test_an_unchanged_snapshot_is_not_sent_again(broker, tmp_path):
    root = tmp_path / "events"
    new, update, end = visit_records(root, log=False)
    update["snapshot"] = end["snapshot"] = new["snapshot"]  # no better view came
    sub = Subscriber(broker.port, ["lookout/#"])
    mqtt = notifier(broker)
    spool = Spool(root / "spool.sqlite")
    try:
        mqtt.start()
        for rec in (new, update, end):
            log_and_spool(root, rec, spool)
            assert deliver(spool, [mqtt], root) == 0
        assert sub.wait_for(lambda: len(sub.on("lookout/events")) == 3, 10)
    finally:
        mqtt.stop()
        spool.close()
        sub.close()
    assert len(sub.on("lookout/front_door/red/snapshot")) == 1


def test_tls_with_the_brokers_ca_and_an_untrusted_certificate(tmp_path):
    server = Mosquitto(tmp_path / "broker", users={"doorbell": PASSWORD}, tls=True).start()
    root = tmp_path / "events"
    (rec, *_rest) = visit_records(root)
    spool = Spool(root / "spool.sqlite")
    tls = {"host": "127.0.0.1", "port": server.port, "tls": True, "username": "doorbell",
           "timeout_s": 5.0}
    try:
        untrusted = MqttNotifier(MqttConfig(**tls), PASSWORD)  # system CAs only
        with pytest.raises(UserError, match=r"TLS certificate of the broker at 127.0.0.1:\d+ "
                                            r"is not trusted \(.+\); set watch.mqtt.ca_file"):
            untrusted.start()
        mqtt = MqttNotifier(MqttConfig(**tls, ca_file=str(server.ca_file)), PASSWORD)
        mqtt.start()
        spool.enqueue(rec, ["mqtt"])
        assert deliver(spool, [mqtt], root) == 0  # acknowledged over TLS
        mqtt.stop()
    finally:
        spool.close()
        server.stop()


def test_deliver_only_sends_what_the_log_holds(broker, tmp_path):
    """``lookout watch --deliver-only`` after a run without MQTT: recovery spools every
    logged phase for the MQTT notifier, which delivers them and says offline at the end."""
    from lookout.config import Config
    from realtime.watch.config import WatchConfig
    from realtime.watch.outbox import deliver_pending

    root = tmp_path / "events"
    records = visit_records(root)
    watch = WatchConfig(events_dir=str(root), delivery=WatchDeliveryConfig(console=False))
    watch.mqtt = MqttConfig(host="127.0.0.1", port=broker.port, timeout_s=2.0)
    sub = Subscriber(broker.port, ["lookout/#"])
    try:
        result = deliver_pending(Config(watch=watch), drain_s=20)
        assert sub.wait_for(lambda: sub.on("lookout/available")[-1:] != [], 10)
        sub.wait_for(lambda: sub.on("lookout/available")[-1].payload == b"offline", 10)
    finally:
        sub.close()
    assert result.delivered == 3 and result.pending == 0
    assert [json.loads(m.payload)["key"] for m in sub.on("lookout/events")] == [
        f"ev0:{record_phase(r)}:mqtt" for r in records]
    assert [m.payload for m in sub.on("lookout/available")] == [b"online", b"offline"]
