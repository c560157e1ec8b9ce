"""With ``serve.public_url`` set, alerts link to the event's page: ntfy's click, the
webhook body and the MQTT events message (through a real mosquitto on 127.0.0.1)."""

from __future__ import annotations

import json

import pytest

from realtime.serve.config import ServeConfig, event_link
from realtime.watch.config import WatchConfig, WatchWebhookConfig
from realtime.watch.notifiers import build_notifiers
from realtime.watch.notify_config import MqttConfig, NtfyConfig
from realtime.watch.spool import Spool
from tests.fixtures.mosquitto import Mosquitto, Subscriber
from tests.realtime.test_watch_mqtt import deliver, log_and_spool, visit_records

PUBLIC = "https://cam.example.org/"
PAGE = "https://cam.example.org/events/ev0"


def watch_config(**kw) -> WatchConfig:
    return WatchConfig(webhook=WatchWebhookConfig(url="http://127.0.0.1:9/hook"),
                       ntfy=NtfyConfig(url="http://127.0.0.1:9", topic="door",
                                       click="https://ha.example/"), **kw)


def test_webhook_body_and_ntfy_click_carry_the_event_page(tmp_path):
    record = visit_records(tmp_path, log=False)[0]
    by_name = {n.name: n for n in build_notifiers(watch_config(), {}, page_url=PUBLIC)}
    body = json.loads(by_name["webhook"].body(record, "k", tmp_path))
    assert body["url"] == PAGE
    assert by_name["ntfy"].request(record, tmp_path).get_header("X-click") == PAGE

    plain = {n.name: n for n in build_notifiers(watch_config(), {})}
    assert "url" not in json.loads(plain["webhook"].body(record, "k", tmp_path))
    assert plain["ntfy"].request(record, tmp_path).get_header("X-click") == "https://ha.example/"


def test_event_link_shape():
    assert event_link("", "ev0") == ""
    assert event_link("http://pi.local:8080", "a b") == "http://pi.local:8080/events/a%20b"
    with pytest.raises(Exception, match="public_url"):
        ServeConfig(public_url="cam.example.org")


def test_mqtt_events_message_carries_the_event_page(tmp_path):
    broker = Mosquitto(tmp_path / "broker").start()
    root = tmp_path / "events"
    records = visit_records(root, log=False)[:1]
    sub = Subscriber(broker.port, ["lookout/events"])
    cfg = WatchConfig(mqtt=MqttConfig(host="127.0.0.1", port=broker.port, timeout_s=2.0))
    (mqtt,) = [n for n in build_notifiers(cfg, {}, page_url=PUBLIC) if n.name == "mqtt"]
    spool = Spool(root / "spool.sqlite")
    try:
        mqtt.start()
        log_and_spool(root, records[0], spool)
        assert deliver(spool, [mqtt], root) == 0
        assert sub.wait_for(lambda: sub.on("lookout/events"), 10)
    finally:
        mqtt.stop()
        spool.close()
        sub.close()
        broker.stop()
    assert json.loads(sub.on("lookout/events")[0].payload)["url"] == PAGE
