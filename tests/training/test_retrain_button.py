"""The page's retrain button end to end: a real page on 127.0.0.1 over reviews of a real
bundle starts the real ``lookout retrain --progress-json`` child, shows its progress, and
ends with the result `training.retrain` recorded (promoted or kept, and why)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

from realtime.review.store import ReviewStore
from tests.fixtures.page import Client, page_server
from tests.fixtures.reviews import make_events
from tests.training.runs import shared_run


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    from training.export import export_bundle

    run = shared_run(tmp_path_factory.getbasetemp())
    return export_bundle(run, tmp_path_factory.mktemp("button") / "models" / "fruit",
                         tflite=False)


@pytest.mark.slow
def test_retrain_button_runs_lookout_retrain_and_shows_the_outcome(bundle, tmp_path,
                                                                   monkeypatch):
    frame = np.full((240, 320, 3), 90, np.uint8)
    events = make_events(tmp_path / "events", [
        ("20261205T100000Z-aaaaaa", "date", [10, 10, 90, 90], frame),
        ("20261205T100001Z-bbbbbb", "date", [20, 20, 80, 80], frame[::-1].copy() + 20),
    ])
    store = ReviewStore(events)
    store.save("20261205T100000Z-aaaaaa", "wrong", [])  # negative examples
    store.save("20261205T100001Z-bbbbbb", "wrong", [])
    config = tmp_path / "config.toml"
    config.write_text("[retrain]\nsteps = 2\ntest_fraction = 0.5\n")
    monkeypatch.chdir(tmp_path)  # the child's default work folder: ./runs/fruit-retrain-*
    before = (bundle / "model.json").read_bytes()
    with page_server(events, model=bundle, config_file=config) as srv:
        client = Client(srv.url)
        page = client.get("/reviews")
        assert "Retrain now" in page.text
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
        assert client.post("/api/retrain", headers={"X-CSRF-Token": token}).status == 202
        again = client.post("/api/retrain", headers={"X-CSRF-Token": token})
        assert again.status == 409 and "one at a time" in again.json()["error"]
        seen: set[str] = set()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            status = client.get("/api/retrain").json()
            seen |= {t["task"] for t in status["tasks"]}
            if status["state"] not in ("running", "stopping"):
                break
            time.sleep(0.5)
    assert status["state"] == "done", status
    assert {"retrain", "train", "export"} <= seen
    result = status["result"]
    [work] = sorted((tmp_path / "runs").glob("fruit-retrain-*"))
    record = json.loads((work / "retrain.json").read_text())
    assert result["promoted"] == record["promoted"] and result["reasons"] == record["reasons"]
    assert sum(record["reviews"].values()) == 2
    if not result["promoted"]:
        assert (bundle / "model.json").read_bytes() == before
