"""The ntfy notifier against a local receiver that checks requests as ntfy documents them."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import UserError
from realtime.watch.config import WatchConfig
from realtime.watch.events import Event
from realtime.watch.notifiers import build_notifiers
from realtime.watch.notify_base import DeliveryError
from realtime.watch.notify_config import NtfyConfig
from realtime.watch.ntfy import NtfyNotifier, header_value, title_and_message
from realtime.watch.snapshots import write_jpeg
from tests.fixtures.ntfy import NtfyServer

TOKEN = "tk_mysecrettokenvalue0001"


def record(root, phase="new", label="red", snapshot=True):
    ev = Event(id="20261125T080001Z-abc123", rule="visitor", label=label,
               source="/clips/front door.mp4", start=1.0, start_frame=10,
               started_at="2026-11-25T08:00:01.250Z", score=0.91)
    if snapshot:
        (root / "snapshots").mkdir(exist_ok=True)
        ev.snapshot = f"snapshots/{ev.id}.jpg"
        write_jpeg(root / ev.snapshot, np.full((48, 64, 3), 90, np.uint8))
    if phase == "end":
        ev.end, ev.end_reason = 5.0, "unseen"
    return ev.record(phase)


@pytest.fixture
def server():
    srv = NtfyServer(token=TOKEN).start()
    yield srv
    srv.stop()


def cfg(server, **kw) -> NtfyConfig:
    return NtfyConfig(**{"url": server.url + "/", "topic": "lookout-porch-7f3a", **kw})


def test_snapshot_goes_as_an_attachment_with_the_documented_headers(server, tmp_path):
    rec = record(tmp_path)
    ntfy = NtfyNotifier(cfg(server, tags=["bell", "door"], click="https://ha.example/lovelace"),
                        TOKEN)
    ntfy.send(rec, "k", tmp_path)
    assert server.rejected == []
    (got,) = server.published
    assert got.method == "PUT" and got.topic == "lookout-porch-7f3a"
    assert got.body == (tmp_path / rec["snapshot"]).read_bytes()
    h = got.headers
    assert h["X-Title"] == "red at front_door"
    assert h["X-Message"] == "new visitor, score 0.91 at 08:00:01 UTC"
    assert h["X-Priority"] == "4" and h["X-Tags"] == "bell,door"
    assert h["X-Click"] == "https://ha.example/lovelace"
    assert h["Filename"] == "20261125T080001Z-abc123.jpg"
    assert h["Authorization"] == f"Bearer {TOKEN}"


def test_without_a_snapshot_the_text_is_the_body(server, tmp_path):
    rec = record(tmp_path, phase="end", snapshot=False)
    NtfyNotifier(cfg(server, priority=2, tags=[]), TOKEN).send(rec, "k", tmp_path)
    (got,) = server.published
    assert got.method == "POST" and "Filename" not in got.headers
    assert got.body.decode() == "red left after 4 s (end visitor, score 0.91 at 08:00:01 UTC)"
    assert got.headers["X-Priority"] == "2" and "X-Tags" not in got.headers
    assert "X-Click" not in got.headers


def test_unicode_titles_are_rfc2047_encoded(server, tmp_path):
    rec = record(tmp_path, label="chat noir \u00e9")
    NtfyNotifier(cfg(server, tags=["\U0001f514"]), TOKEN).send(rec, "k", tmp_path)
    (got,) = server.published
    assert got.title == "chat noir \u00e9 at front_door"
    assert got.headers["X-Tags"] == "\U0001f514"
    assert header_value("plain") == "plain"


def test_too_large_attachment_falls_back_to_text(tmp_path):
    srv = NtfyServer(max_attachment=100).start()
    try:
        NtfyNotifier(cfg(srv)).send(record(tmp_path), "k", tmp_path)
    finally:
        srv.stop()
    assert [code for code, _ in srv.rejected] == [413]
    (got,) = srv.published
    assert got.method == "POST" and got.message.startswith("new visitor")
    assert "Authorization" not in got.headers


def test_errors_never_show_the_token_or_the_topic(server, tmp_path):
    ntfy = NtfyNotifier(cfg(server), "tk_wrong_" + TOKEN)
    with pytest.raises(DeliveryError) as info:
        ntfy.send(record(tmp_path), "k", tmp_path)
    message = str(info.value)
    assert message == f"ntfy {server.url}: HTTP 401"
    assert TOKEN not in message and "porch" not in message
    assert TOKEN not in repr(ntfy) and TOKEN not in repr(ntfy.cfg)
    with pytest.raises(UserError, match="watch.ntfy.url: not an http"):
        NtfyNotifier(NtfyConfig(url="ntfy.sh", topic="t"))


def test_token_from_the_environment(server, tmp_path):
    watch = WatchConfig()
    watch.ntfy = cfg(server)
    watch.delivery.console = False
    (ntfy,) = build_notifiers(watch, {"LOOKOUT_NTFY_TOKEN": TOKEN})
    ntfy.send(record(tmp_path), "k", tmp_path)
    assert server.published[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_title_and_message_of_each_phase(tmp_path):
    assert title_and_message(record(tmp_path)) == (
        "red at front_door", "new visitor, score 0.91 at 08:00:01 UTC")
    assert title_and_message({**record(tmp_path), "camera": "porch"})[0] == "red at porch"
