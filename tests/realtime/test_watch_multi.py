"""Several cameras in one watch run (one model): the right events per camera and no
cross-talk; per-camera rules; a camera that never opens and one that drops for good
while the others keep producing events. Real doorbell mp4s, the real colour-blob
bundle, a real webhook and a real MJPEG camera on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from realtime.config import PipelineConfig
from realtime.watch.cameras import Camera, camera_name
from realtime.watch.config import WatchRuleConfig
from realtime.watch.events import read_events
from realtime.watch.runner import run_watch
from tests.fixtures.doorbell import Visit, write_doorbell_clip
from tests.fixtures.webhook import WebhookServer, free_port
from tests.realtime.test_watch_e2e import by_id, watch_config

pytestmark = pytest.mark.slow
TOLERANCE_S = 0.3
VISITS = {"front": (Visit(2.0, 2.0),), "garage": (Visit(7.0, 2.0),),
          "backyard": (Visit(1.0, 1.5), Visit(10.0, 1.0))}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cams")
    return {name: write_doorbell_clip(folder / f"{name}.mp4", visits=visits, seconds=16)
            for name, visits in VISITS.items()}


def test_three_cameras_one_run_right_events_per_camera(color_bundle, clips, tmp_path):
    server = WebhookServer().start()
    try:
        config = watch_config(tmp_path / "events", server.url)
        cameras = [Camera(str(clips["front"]), name="front"),
                   Camera(str(clips["garage"]), name="garage"),
                   Camera(str(clips["backyard"]))]  # named from its source: "backyard"
        result = run_watch(color_bundle, None, config, cameras=cameras)
    finally:
        server.stop()
    events = by_id(read_events(tmp_path / "events" / "events.jsonl"))
    got: dict[str, list[dict]] = {}
    for phases in events.values():
        got.setdefault(phases["new"]["camera"], []).append(phases)
    assert sorted(got) == ["backyard", "front", "garage"]
    for name, visits in VISITS.items():
        mine = sorted(got[name], key=lambda p: p["new"]["start"])
        assert len(mine) == len(visits)  # no event borrowed from another camera
        for visit, phases in zip(visits, mine, strict=True):
            assert abs(phases["new"]["start"] - visit.enter) <= TOLERANCE_S
            assert abs(phases["end"]["end"] - visit.leave) <= TOLERANCE_S
            assert phases["new"]["source"] == str(clips[name])
            assert f"-{name}-" in phases["new"]["id"]
            assert phases["end"]["snapshot"].startswith("snapshots/")
            assert name in phases["end"]["snapshot"]
    assert {body["camera"] for body in server.accepted.values()} == {"front", "garage", "backyard"}
    assert all(body["event"]["camera"] == body["camera"] for body in server.accepted.values())
    assert result.events == 4 and set(result.cameras) == {"front", "garage", "backyard"}
    assert all(c["frames"] == 160 for c in result.cameras.values())
    assert result.stats.frames_written == 480 and len(result.stats.sources) == 3


def test_per_camera_rules_replace_the_global_ones(color_bundle, clips, tmp_path):
    config = watch_config(tmp_path / "events")
    # the garage only cares about the top half of its view: its visitor never enters it
    top_half = WatchRuleConfig(name="top", labels=["red"], end_after_s=2.0,
                               zones=[[[0, 0], [1, 0], [1, 0.5], [0, 0.5]]])
    cameras = [Camera(str(clips["front"]), name="front"),
               Camera(str(clips["garage"]), name="garage", rules=[top_half])]
    result = run_watch(color_bundle, None, config, cameras=cameras)
    assert result.cameras["front"]["events"] == 1 and result.cameras["garage"]["events"] == 0
    records = read_events(tmp_path / "events" / "events.jsonl")
    assert {r["camera"] for r in records} == {"front"} and {r["rule"] for r in records} == \
        {"visitor"}


def test_cameras_down_or_dropping_do_not_stop_the_others(color_bundle, clips, tmp_path):
    from tests.fixtures.media import MjpegServer

    camera = MjpegServer(fps=15).start()
    config = watch_config(tmp_path / "events")
    config = dataclasses.replace(config, pipeline=PipelineConfig(
        open_timeout_s=2, read_timeout_s=1, reconnect_backoff_s=0.1,
        reconnect_backoff_max_s=0.3, reconnect_give_up_s=2.0))

    def cut_for_good():
        while camera.frames_sent < 20:
            time.sleep(0.05)
        camera.cut()

    threading.Thread(target=cut_for_good, daemon=True).start()
    dead = f"rtsp://127.0.0.1:{free_port()}/nothing"
    cameras = [Camera(dead, name="dead"), Camera(camera.url, name="street"),
               Camera(str(clips["backyard"]), name="backyard")]
    try:
        t0 = time.monotonic()
        result = run_watch(color_bundle, None, config, cameras=cameras)
    finally:
        camera.close()
    assert time.monotonic() - t0 < 120
    dead_stats, street_stats, yard_stats = result.stats.sources
    assert dead_stats.state == "failed" and "127.0.0.1" in dead_stats.error
    assert street_stats.state == "failed" and "not back after 2 s" in street_stats.error
    assert street_stats.frames_written > 0 and yard_stats.state == "ended"
    events = by_id(read_events(tmp_path / "events" / "events.jsonl"))
    yard = sorted((p for p in events.values() if p["new"]["camera"] == "backyard"),
                  key=lambda p: p["new"]["start"])
    assert len(yard) == 2  # both visits, as if the other cameras were fine
    for visit, phases in zip(VISITS["backyard"], yard, strict=True):
        assert abs(phases["new"]["start"] - visit.enter) <= TOLERANCE_S
    assert result.cameras["dead"]["frames"] == 0


@pytest.mark.parametrize(("source", "name"), [
    ("0", "webcam0"), ("rtsp://user:secret@doorbell.local/stream1", "doorbell_local"),
    ("clips/garage cam.mp4", "garage_cam"), ("http://10.0.0.5:8080/video", "10_0_0_5")])
def test_camera_names_from_sources_never_leak_credentials(source, name):
    assert camera_name(source) == name


def test_cli_runs_every_camera_of_the_config(color_bundle, clips, tmp_path, capsys):
    from lookout.cli import main

    config = tmp_path / "home.toml"
    config.write_text(f"""
[watch]
events_dir = "{tmp_path / 'events'}"
[watch.delivery]
console = false
[[watch.rules]]
name = "visitor"
labels = ["red"]
end_after_s = 2.0
cooldown_s = 5.0

[[cameras]]
name = "front"
source = "{clips['front']}"

[[cameras]]
source = "{clips['garage']}"
[[cameras.rules]]
name = "top"
labels = ["red"]
zones = [[[0, 0], [1, 0], [1, 0.5], [0, 0.5]]]
[cameras.motion]
enabled = false
""")
    assert main(["--config", str(config), "watch", str(color_bundle)]) == 0
    out = capsys.readouterr().out
    assert "front: 1 event(s)" in out and "garage: 0 event(s)" in out
    # the garage camera's own [cameras.motion] turned gating off: every frame detected
    assert "garage: 0 event(s), detector ran on 160 of 160 frames" in out
    records = read_events(tmp_path / "events" / "events.jsonl")
    assert {r["camera"] for r in records} == {"front"}


def test_cli_bad_camera_config_is_one_line(color_bundle, clips, tmp_path, capsys):
    from lookout.cli import main

    config = tmp_path / "bad.toml"
    config.write_text(f'[[cameras]]\nname = "a"\nsource = "{clips["front"]}"\n'
                      f'[[cameras]]\nname = "a"\nsource = "{clips["garage"]}"\n')
    assert main(["--config", str(config), "watch", str(color_bundle)]) == 1
    err = capsys.readouterr().err
    assert "the name 'a' is used twice" in err and "Traceback" not in err
    assert main(["watch", str(color_bundle)]) == 1
    assert "give MODEL and --source, or [[cameras]]" in capsys.readouterr().err
