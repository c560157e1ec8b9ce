"""`lookout demo --quick`: the whole path end to end, every output checked.

The quick mode still trains for real (from scratch, RetinaNet needs a few hundred steps
before it finds anything), so the doorbell really rings; this is the slowest test.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from rich.console import Console

from lookout.cli import main
from lookout.config import Config
from lookout.demo.demo import QUICK, run_demo
from lookout.demo.plan import DemoResult
from lookout.demo.stages import doorbell_visit


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    out = tmp_path_factory.mktemp("demo") / "demo_out"
    return run_demo(Config(), out=out, quick=True, console=Console(quiet=True))


@pytest.mark.slow
def test_quick_demo_makes_every_output(quick_demo: DemoResult) -> None:
    from realtime.detections import Detections
    from realtime.detectors import load_detector
    from realtime.media import count_frames, probe
    from realtime.watch.events import read_events

    p = quick_demo.paths
    assert [s.name for s in quick_demo.stages] == [
        "samples", "dataset", "train", "eval", "export", "annotate", "watch"]
    assert not any(s.reused for s in quick_demo.stages)

    # The annotated clip plays: every frame of the 2 s, 15 fps sample, audio kept.
    assert count_frames(p.annotated) == 30
    info = probe(p.annotated)
    assert (info.width, info.height, info.has_audio) == (320, 240, True)
    lines = [json.loads(line) for line in p.detections.read_text().splitlines()]
    assert len(lines) == 30 and [r["frame"] for r in lines] == list(range(30))

    # Metrics with an AP50, a bundle that loads and detects.
    metrics = json.loads(p.metrics.read_text())
    assert quick_demo.ap50 is not None and 0.0 <= quick_demo.ap50 <= 1.0
    assert metrics
    detector = load_detector(p.bundle)
    assert set(detector.names.values()) == {"circle", "square", "triangle"}
    image = cv2.cvtColor(cv2.imread(str(next((p.samples / "test").glob("*.jpg")))),
                         cv2.COLOR_BGR2RGB)
    (found,) = detector.detect([image])
    assert isinstance(found, Detections)
    assert np.all((found.xyxy >= 0) & (found.xyxy <= image.shape[1]))
    detector.close()

    # The doorbell rang while the visitor (a circle) was in view, snapshot on disk.
    events = read_events(p.events / "events.jsonl")
    assert quick_demo.events >= 1
    new = [e for e in events if e["phase"] == "new"]
    enter, leave = doorbell_visit(QUICK["doorbell_seconds"])
    assert new and new[0]["label"] == "circle" and enter <= new[0]["start"] <= leave
    assert (p.events / new[0]["snapshot"]).is_file()


@pytest.mark.slow
def test_running_again_reuses_everything(quick_demo: DemoResult, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    state = quick_demo.paths.state.read_text()
    code = main(["demo", "--quick", "--out", str(quick_demo.paths.root)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("reused (") == 7 and "7 of 7 stages reused" in out
    assert str(quick_demo.paths.annotated) in out and "events.jsonl" in out and "AP50" in out
    assert f"lookout serve {quick_demo.paths.events}" in out  # opens its events in a page
    assert quick_demo.paths.state.read_text() == state
