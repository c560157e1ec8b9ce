"""The page's review API against a real uvicorn on 127.0.0.1: saving through the review
store, conflicts, clip frames, CSRF, and the retrain button's one-at-a-time child process."""

from __future__ import annotations

import json
import re
import sys
import time

import pytest

from realtime.review.voc import VocObject, read_objects, voc_xml
from realtime.serve.config import ServeConfig
from realtime.serve.retrain import Retrainer
from tests.fixtures.events import EventsWriter
from tests.fixtures.page import Client, page_server


@pytest.fixture()
def folder(tmp_path):
    writer = EventsWriter(tmp_path / "events")
    ids = {"clip": writer.event("front", "red", clip_s=3.0), "plain": writer.event("garage")}
    writer.close()
    return tmp_path / "events", ids


def token_of(client: Client) -> str:
    page = client.get("/events")
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)


def wait_for(condition, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_review_saved_listed_and_conflict_shown(folder):
    root, ids = folder
    with page_server(root, ServeConfig()) as srv:
        client = Client(srv.url)
        csrf = {"X-CSRF-Token": token_of(client)}
        url = f"/api/events/{ids['plain']}/review"
        body = {"verdict": "right", "boxes": [{"label": "red", "box": [132, 92, 188, 148]}]}
        assert client.post(url, json_body=body).status == 403  # no CSRF token
        assert client.post(url, json_body=body, headers={"X-CSRF-Token": "x" * 43}).status == 403
        assert not (root / "review").exists()

        saved = client.post(url, json_body=body, headers=csrf)
        assert saved.status == 200, saved.text
        xml = root / "review" / f"{ids['plain']}.xml"
        expected = voc_xml(xml.with_suffix(".jpg"), 320, 240, 3,
                           [VocObject("red", 132, 92, 188, 148)], verified=True)
        assert xml.read_bytes() == expected.encode()  # what `lookout label` writes
        assert client.get(url).json()["version"] == saved.json()["version"]
        listed = client.get("/api/reviews").json()["reviews"]
        assert [(r["name"], r["verdict"]) for r in listed] == [(ids["plain"], "right")]

        # a person edits the XML in labelImg; the page's next save must not replace it
        xml.write_text(expected.replace("<name>red</name>", "<name>blue</name>"))
        stale = {"verdict": "wrong", "boxes": [], "version": saved.json()["version"]}
        conflict = client.post(url, json_body=stale, headers=csrf)
        assert conflict.status == 409
        assert conflict.json()["current"]["boxes"][0]["label"] == "blue"
        assert "<name>blue</name>" in xml.read_text()
        replaced = client.post(url, json_body={**stale, "version": conflict.json()["version"]},
                               headers=csrf)
        assert replaced.status == 200 and replaced.json()["negative"]
        assert read_objects(xml.read_bytes()) == []

        bad = client.post(url, json_body={"verdict": "maybe", "boxes": []}, headers=csrf)
        assert bad.status == 400 and "verdict" in bad.json()["error"]
        gone = client.post("/api/events/nope/review", json_body=body, headers=csrf)
        assert gone.status == 404


def test_a_clip_frame_is_served_and_saved_as_the_same_bytes(folder):
    root, ids = folder
    with page_server(root) as srv:
        client = Client(srv.url)
        csrf = {"X-CSRF-Token": token_of(client)}
        at = client.get(f"/api/events/{ids['clip']}/frame?t=1.5").json()
        assert at["frame"] == 15  # 10 fps
        jpeg = client.get(at["url"])
        assert jpeg.headers["content-type"] == "image/jpeg"
        body = {"verdict": "missed", "boxes": [{"label": "red", "box": [40, 90, 100, 150]}]}
        saved = client.post(f"/api/events/{ids['clip']}/review?frame=15", json_body=body,
                            headers=csrf)
        assert saved.status == 200, saved.text
        name = f"{ids['clip']}-f000015"
        assert saved.json()["name"] == name and saved.json()["frame"] == 15
        assert (root / "review" / f"{name}.jpg").read_bytes() == jpeg.body
        assert client.get(f"/api/events/{ids['clip']}/frames/999.jpg").status == 404
        assert client.get(f"/api/events/{ids['plain']}/frame?t=1").status == 404  # no clip


def test_retrain_runs_one_at_a_time_and_reports_progress(tmp_path):
    """A real child process speaking the ``--progress-json`` protocol (the real `lookout
    retrain` is run by the browser test and the whole-loop test)."""
    script = tmp_path / "fake_retrain.py"
    script.write_text(
        "import json, sys, time\n"
        "for i in range(3):\n"
        "    print(json.dumps({'task': 'train', 'done': i + 1, 'total': 3, 'note': 'loss'}),"
        " flush=True)\n"
        "    time.sleep(0.3)\n"
        "print(json.dumps({'result': {'promoted': True, 'reasons': ['better']}}), flush=True)\n")
    runner = Retrainer([sys.executable, str(script)])
    assert runner.start() == (True, "")
    started, why = runner.start()
    assert not started and "one at a time" in why
    wait_for(lambda: runner.status()["state"] == "done")
    status = runner.status()
    assert status["tasks"] == [{"task": "train", "done": 3, "total": 3, "note": "loss"}]
    assert status["result"]["promoted"] and status["runs"] == 1

    failing = Retrainer([sys.executable, "-c",
                         ("import sys; print('error: models/x: not a model bundle', "
                          "file=sys.stderr); sys.exit(1)")])
    failing.start()
    wait_for(lambda: failing.status()["state"] == "failed")
    assert failing.status()["error"] == "models/x: not a model bundle"


def test_retrain_route_needs_csrf_and_a_model(folder, tmp_path):
    root, _ = folder
    with page_server(root) as srv:  # no model: no button
        client = Client(srv.url)
        assert client.get("/api/retrain").json()["available"] is False
        csrf = {"X-CSRF-Token": token_of(client)}
        assert client.post("/api/retrain", headers=csrf).status == 404
    bundle = tmp_path / "door"
    bundle.mkdir()
    (bundle / "model.json").write_text(json.dumps({
        "name": "door", "architecture": "test", "classes": {"1": "red"},
        "training_run": str(tmp_path / "gone")}))
    (bundle / "label_map.pbtxt").write_text("item { id: 1 name: 'red' }\n")
    server = page_server(root, model=bundle)
    with server as srv:
        client = Client(srv.url)
        assert client.post("/api/retrain").status == 403  # CSRF
        csrf = {"X-CSRF-Token": token_of(client)}
        assert client.post("/api/retrain", headers=csrf).status == 202
        status = wait_for(lambda: (s := client.get("/api/retrain").json())["state"] == "failed"
                          and s, timeout=120)
        assert "training run" in status["error"] and "is not here" in status["error"]


def test_watch_serve_reviews_for_its_own_bundle(tmp_path):
    """``lookout watch BUNDLE --serve``: the page's editor offers the bundle's labels, saves
    into ``[review] dir`` and has the retrain button (built with the run, nothing loaded)."""
    from realtime.review.config import ReviewConfig
    from realtime.settings import RunSettings
    from realtime.watch.cameras import Camera
    from realtime.watch.config import WatchConfig
    from realtime.watch.runner import WatchRun

    bundle = tmp_path / "door"
    bundle.mkdir()
    (bundle / "model.json").write_text("{}")
    (bundle / "label_map.pbtxt").write_text("item { id: 1 name: 'raccoon' }\n")
    settings = RunSettings(watch=WatchConfig(events_dir=str(tmp_path / "events")),
                           serve=ServeConfig(bind="127.0.0.1:0"),
                           review=ReviewConfig(dir=str(tmp_path / "reviews")))
    run = WatchRun(str(bundle), [Camera("clip.mp4")], settings)
    side = run.server._review_side()
    assert side.model_labels() == ["raccoon"] and side.retrainer is not None
    assert side.store.dir == tmp_path / "reviews"
    assert "--review" in side.retrainer.command and str(tmp_path / "reviews") in (
        side.retrainer.command)


def test_serve_model_that_is_not_a_bundle_is_one_line(folder, tmp_path, capsys):
    from lookout.cli import main

    assert main(["serve", str(folder[0]), "--model", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert "nope: not a model bundle" in err and "Traceback" not in err


def test_the_page_says_which_model_runs(folder):
    """After a promotion, watch's hot reload changes the version; the page follows."""
    from realtime.watch.live import LatestFrame, WatchLive

    version = ["door 20261205T100000Z"]
    live = WatchLive({"front": LatestFrame()}, dict, lambda: version[0])
    with page_server(folder[0], live=live) as srv:
        client = Client(srv.url)
        assert client.get("/api/cameras").json()["model"] == "door 20261205T100000Z"
        version[0] = "door 20261205T120000Z"  # promoted and switched to
        assert client.get("/api/cameras").json()["model"] == "door 20261205T120000Z"
        assert "door 20261205T120000Z" in client.get("/cameras").text
    with page_server(folder[0]) as srv:  # lookout serve alone: no watch, no model
        assert "model" not in Client(srv.url).get("/api/cameras").json()
