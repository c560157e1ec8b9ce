"""The page's HTTP side against a real uvicorn on 127.0.0.1: the JSON API, range requests,
files that cannot leave the events folder, CSRF, logins, and the reader of a growing
events log."""

from __future__ import annotations

import logging
import re
import time

import pytest

from core.errors import UserError
from realtime.serve.config import ServeConfig, parse_bind
from realtime.serve.security import hash_password
from realtime.serve.server import PageServer
from realtime.watch.events import EventIndex
from tests.fixtures.events import EventsWriter
from tests.fixtures.page import Client, page_server

DAY_S = 86400.0


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("events")
    writer = EventsWriter(root)
    now = time.time()
    ids = {
        "old_garage": writer.event("garage", "blue", wall=now - 2 * DAY_S),
        "clip": writer.event("front", "red", wall=now - 60, clip_s=3.0, zone="porch"),
        "open": writer.event("front", "red", wall=now - 5, end=False),
    }
    writer.close()
    (root / "notes.txt").write_text("not served")
    return root, ids


@pytest.fixture(scope="module")
def server(folder):
    with page_server(folder[0]) as srv:
        yield srv


def test_api_lists_events_newest_first_with_filters_and_paging(server, folder):
    _, ids = folder
    client = Client(server.url)
    listing = client.get("/api/events").json()
    assert [e["id"] for e in listing["events"]] == [ids["open"], ids["clip"], ids["old_garage"]]
    assert listing["total"] == 3
    clip = listing["events"][1]
    assert clip["state"] == "ended" and clip["duration_s"] == 3.5 and clip["zone"] == "porch"
    assert clip["clip_url"] == f"/files/clips/{ids['clip']}.mp4"
    assert client.get(clip["snapshot_url"]).headers["content-type"] == "image/jpeg"

    by_camera = client.get("/api/events?camera=garage").json()
    assert [e["id"] for e in by_camera["events"]] == [ids["old_garage"]]
    assert client.get("/api/events?label=red").json()["total"] == 2
    day = by_camera["events"][0]["started_local"][:10]
    assert [e["id"] for e in client.get(f"/api/events?day={day}").json()["events"]] == [
        ids["old_garage"]]
    page2 = client.get("/api/events?limit=2&offset=2").json()
    assert [e["id"] for e in page2["events"]] == [ids["old_garage"]] and page2["total"] == 3


def test_api_event_has_phases_and_each_notifiers_delivery_state(server, folder):
    _, ids = folder
    client = Client(server.url)
    event = client.get(f"/api/events/{ids['clip']}").json()
    assert [p["phase"] for p in event["phases"]] == ["new", "end"]
    states = {d["notifier"]: (d["state"], d["last_error"]) for d in event["deliveries"]}
    assert states == {"webhook": ("done", None), "mqtt": ("pending", "broker down")}
    assert client.get("/api/events/nope").status == 404
    assert client.get("/events/nope").status == 404
    cameras = client.get("/api/cameras").json()
    assert cameras == {"live": False, "cameras": [
        {"name": "front", "state": "not watched", "up": None},
        {"name": "garage", "state": "not watched", "up": None}]}


def test_clip_answers_range_requests(server, folder):
    root, ids = folder
    whole = (root / "clips" / f"{ids['clip']}.mp4").read_bytes()
    part = Client(server.url).get(f"/files/clips/{ids['clip']}.mp4",
                                  headers={"Range": "bytes=100-199"})
    assert part.status == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole)}"
    assert part.body == whole[100:200]


@pytest.mark.parametrize("path", [
    "/files/../events.jsonl", "/files/%2e%2e/events.jsonl", "/files/snapshots/../events.jsonl",
    "/files/snapshots/..%2f..%2fetc%2fpasswd", "/files//etc/passwd", "/files/%2Fetc%2Fpasswd",
    "/files/spool.sqlite", "/files/notes.txt", "/files/events.jsonl", "/files/snapshots",
    "/files/snapshots/outside.jpg",  # a symlink out of the folder
])
def test_file_urls_cannot_leave_the_events_folder(server, folder, path, tmp_path_factory):
    root, _ = folder
    outside = tmp_path_factory.mktemp("outside") / "secret.jpg"
    outside.write_bytes(b"secret")
    link = root / "snapshots" / "outside.jpg"
    if not link.is_symlink():
        link.symlink_to(outside)
    reply = Client(server.url).get(path)
    assert reply.status == 404 and b"secret" not in reply.body


def test_every_response_sets_a_content_security_policy(server):
    for path in ("/events", "/api/events", "/files/nope", "/static/app.js"):
        csp = Client(server.url).get(path).headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp


def test_state_changes_need_the_csrf_token(tmp_path):
    env = {"LOOKOUT_SERVE_PASSWORD": "hunter2-correct"}
    with page_server(tmp_path, environ=env) as srv:
        client = Client(srv.url)
        form = client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        assert client.cookie("lookout_csrf") == token
        assert "HttpOnly" in form.headers["set-cookie"]
        assert "SameSite=Strict" in form.headers["set-cookie"]

        no_token = client.post("/login", form={"password": "hunter2-correct"})
        wrong = client.post("/login", form={"password": "hunter2-correct", "csrf": "x" * 43})
        assert (no_token.status, wrong.status) == (403, 403)
        assert client.cookie("lookout_session") is None

        ok = client.post("/login", form={"password": "hunter2-correct", "csrf": token})
        assert ok.status == 303 and client.cookie("lookout_session")
        assert "HttpOnly" in ok.headers["set-cookie"] and "SameSite=Strict" in ok.headers[
            "set-cookie"]
        assert client.get("/api/events").status == 200
        assert client.post("/logout").status == 403  # a logged-in session needs it too
        assert client.post("/logout", headers={"X-CSRF-Token": token}).status == 303
        assert client.get("/api/events").status == 401


def test_login_is_rate_limited_and_the_password_never_shows(tmp_path, caplog):
    secret = "s3cret-Pa55word"
    caplog.set_level(logging.DEBUG)
    with page_server(tmp_path, environ={"LOOKOUT_SERVE_PASSWORD": secret}) as srv:
        client = Client(srv.url)
        assert client.get("/events").status == 303  # to the login page
        assert client.get("/api/events").status == 401
        token = client.cookie("lookout_csrf") or re.search(
            r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        statuses = [client.post("/login", form={"password": f"guess{i}", "csrf": token}).status
                    for i in range(7)]
        assert statuses == [401] * 5 + [429] * 2
        limited = client.post("/login", form={"password": secret, "csrf": token})
        assert limited.status == 429  # even the right one, until the window passes
        pages = [client.get(p).text for p in ("/login", "/events", "/api/events")]
        assert all(secret not in text for text in pages)
        assert "$LOOKOUT_SERVE_PASSWORD" in srv.describe()
    assert secret not in caplog.text and secret not in repr(srv.password)


def test_another_address_needs_a_password(tmp_path):
    with pytest.raises(UserError, match=r"listening on 0\.0\.0\.0 needs a password"):
        PageServer(tmp_path, ServeConfig(), bind="0.0.0.0:0", environ={})
    hashed = hash_password("letmein")
    cfg = ServeConfig(password_hash=hashed)
    with page_server(tmp_path, cfg, bind="0.0.0.0:0") as srv:
        client = Client(srv.url)
        assert client.get("/api/events").status == 401
        token = client.cookie("lookout_csrf")
        assert client.post("/login", form={"password": "nope", "csrf": token}).status == 401
        assert client.post("/login", form={"password": "letmein", "csrf": token}).status == 303
        assert client.get("/api/events").status == 200


def test_without_a_password_only_loopback_host_names_are_answered(server):
    # a DNS-rebinding site would send its own host name
    assert Client(server.url).get("/api/events", headers={"Host": "evil.example"}).status == 421


def test_the_cli_refuses_in_one_line(tmp_path, capsys, monkeypatch):
    from lookout.cli import main

    monkeypatch.delenv("LOOKOUT_SERVE_PASSWORD", raising=False)
    assert main(["serve", str(tmp_path), "--bind", "0.0.0.0:8080"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "needs a password" in err
    assert main(["serve", str(tmp_path / "missing")]) == 1
    assert "no such events folder" in capsys.readouterr().err


@pytest.mark.parametrize("text, expected", [
    ("8080", ("127.0.0.1", 8080)), ("0.0.0.0:80", ("0.0.0.0", 80)), ("[::1]:9", ("::1", 9)),
])
def test_parse_bind(text, expected):
    assert parse_bind(text) == expected


@pytest.mark.parametrize("text", ["", "host:", ":80", "80000", "a:b"])
def test_parse_bind_rejects(text):
    with pytest.raises(UserError, match="expected \\[HOST:\\]PORT"):
        parse_bind(text)


def test_event_index_reads_only_complete_new_lines(tmp_path):
    writer = EventsWriter(tmp_path)
    first = writer.event("front", end=False)
    index = EventIndex(tmp_path / "events.jsonl")
    index.refresh()
    assert [e["id"] for e in index.events()] == [first]
    with open(tmp_path / "events.jsonl", "a") as f:  # a line being written
        f.write('{"phase":"new","id":"half')
        f.flush()
        index.refresh()
        assert len(index.events()) == 1
        f.write('way","started_at":"2099-01-01T00:00:00.000Z"}\n')
    index.refresh()
    assert [e["id"] for e in index.events()] == ["halfway", first]
    writer.event("front")
    index.refresh()
    assert index.get(first)["phases"][0][0] == "new" and len(index.events()) == 3
    writer.close()


def test_the_cli_serves_until_sigterm(folder, tmp_path):
    """``lookout serve`` as a person starts it: the page answers, SIGTERM stops it cleanly."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from tests.fixtures.procs import finish

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo), "COLUMNS": "300"}
    env.pop("LOOKOUT_SERVE_PASSWORD", None)
    proc = subprocess.Popen([sys.executable, "-m", "lookout", "serve", str(folder[0]),
                             "--bind", "127.0.0.1:0"], cwd=tmp_path, env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = ""
        while "page on" not in line:
            line = proc.stderr.readline()
            assert line, "lookout serve ended before listening"
        url = re.search(r"page on (http://[\d.]+:\d+)", line).group(1)
        assert Client(url).get("/api/events").json()["total"] == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        finish(proc, 30)
    assert proc.returncode == 0


def test_watch_serve_elsewhere_without_a_password_is_refused_before_the_model(tmp_path, capsys,
                                                                             monkeypatch):
    from lookout.cli import main

    monkeypatch.delenv("LOOKOUT_SERVE_PASSWORD", raising=False)
    code = main(["watch", str(tmp_path / "no-model.tflite"), "--source", "0",
                 "--events", str(tmp_path / "events"), "--serve", "0.0.0.0:8080"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert "listening on 0.0.0.0 needs a password" in err
    assert not (tmp_path / "events").exists()  # refused before anything was opened


def test_hash_password_prints_a_hash_the_page_accepts(monkeypatch, capsys):
    import getpass

    from lookout.cli import main
    from realtime.serve.security import Password, hash_problem

    answers = iter(["tr0ub4dor&3", "tr0ub4dor&3"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    assert main(["serve", "--hash-password"]) == 0
    hashed = capsys.readouterr().out.strip()
    assert hash_problem(hashed) is None and "tr0ub4dor" not in hashed
    password = Password(hashed, "serve.password_hash")
    assert password.check("tr0ub4dor&3") and not password.check("tr0ub4dor&4")
    assert ServeConfig(password_hash=hashed).password_hash == hashed
    with pytest.raises(UserError, match="password_hash: not a hash"):
        ServeConfig(password_hash="hunter2")


@pytest.mark.parametrize("zone, day, bounds", [
    ("Europe/Berlin", "2026-03-29", ("2026-03-28T23:00:00.000Z", "2026-03-29T22:00:00.000Z")),
    ("America/New_York", "2026-11-01",
     ("2026-11-01T04:00:00.000Z", "2026-11-02T05:00:00.000Z")),
    ("UTC", "2026-12-05", ("2026-12-05T00:00:00.000Z", "2026-12-06T00:00:00.000Z")),
])
def test_a_day_filter_is_the_local_day_daylight_saving_included(monkeypatch, zone, day, bounds):
    from realtime.serve.views import EventFilter

    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        flt = EventFilter(day=day)
        assert flt.bounds == bounds
        assert flt.match({"started_at": bounds[0]})
        assert not flt.match({"started_at": bounds[1]})
    finally:
        monkeypatch.undo()
        time.tzset()
