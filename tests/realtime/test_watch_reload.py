"""Hot reload: a running watch switches to a promoted bundle between batches (real
colour-blob bundles), refuses one that does not load or changes labels, reloads on SIGHUP."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import signal
import threading
from pathlib import Path

import pytest

from lookout.config import Config
from realtime.config import DetectorConfig
from realtime.detectors import load_detector
from realtime.detectors.base import Detector
from realtime.watch.config import WatchConfig, WatchDeliveryConfig, WatchRuleConfig
from realtime.watch.events import read_events
from realtime.watch.reload import HotModel
from realtime.watch.runner import run_watch
from tests.fixtures.doorbell import Visit, write_doorbell_clip
from tests.fixtures.models import expected_detections, make_blob_image
from training.retrain import promote_bundle

pytestmark = pytest.mark.slow

WAIT_S = 120.0  # upper bound for a load on a busy machine; the tests wait on events


class Recorded(Detector):
    """A real detector that notes its calls and its close, and can hold call ``hold_at``
    until ``release`` is set (to put a switch in the middle of a run for sure)."""

    def __init__(self, inner: Detector, hold_at: int | None = None) -> None:
        self.inner, self.names, self.kind = inner, inner.names, inner.kind
        self.workers = inner.workers
        self.calls, self.closed = 0, False
        self.hold_at = hold_at
        self.holding, self.release = threading.Event(), threading.Event()

    def detect(self, images):
        self.calls += 1
        if self.calls == self.hold_at:
            self.holding.set()
            assert self.release.wait(WAIT_S), "the new model never came"
        return self.inner.detect(images)

    def close(self) -> None:
        self.closed = True
        self.inner.close()


def copy_bundle(src: Path, dst: Path, step: int) -> Path:
    shutil.copytree(src, dst)
    meta = json.loads((dst / "model.json").read_text())
    (dst / "model.json").write_text(json.dumps({**meta, "step": step}))
    return dst


@pytest.fixture
def bundle(color_bundle, tmp_path) -> Path:
    return copy_bundle(color_bundle, tmp_path / "models" / "door", step=1)


def loader(made: list[Recorded], hold_first_at: int | None = None):
    def load(path, cfg):
        made.append(Recorded(load_detector(path, cfg), hold_first_at if not made else None))
        return made[-1]
    return load


def test_a_promoted_bundle_is_switched_to_and_the_old_one_closed(bundle, color_bundle,
                                                                 tmp_path) -> None:
    made: list[Recorded] = []
    hot = HotModel(bundle, DetectorConfig(), poll_s=0.05, loader=loader(made))
    detector = hot.start()
    try:
        image = make_blob_image(96, 128, red=(10, 20, 60, 70))
        assert detector.detect([image])[0].labels == ("red",)
        assert "door step 1" in hot.version
        promote_bundle(copy_bundle(color_bundle, tmp_path / "cand", step=2), bundle)
        assert hot.swapped.wait(WAIT_S)
        assert hot.reloads == 1 and "door step 2" in hot.version
        found = detector.detect([image])[0]
        assert found.labels == ("red",) and found.xyxy[0].tolist() == \
            expected_detections(image)[0]["box"]
        assert made[0].closed and not made[1].closed
        assert (made[0].calls, made[1].calls) == (1, 1)
    finally:
        hot.stop()
    assert made[1].closed


def _relabel(bundle: Path) -> None:
    """The same model under other labels (a label map and model.json that agree)."""
    (bundle / "label_map.pbtxt").write_text("item { id: 1 name: 'cat' }\n"
                                            "item { id: 2 name: 'blue' }\n")
    meta = json.loads((bundle / "model.json").read_text())
    (bundle / "model.json").write_text(json.dumps({**meta, "classes": {"1": "cat", "2": "blue"}}))


@pytest.mark.parametrize("breaks, says", [
    (lambda b: [(b / f).write_bytes(b"nonsense") for f in ("saved_model/saved_model.pb",
                                                          "model.tflite") if (b / f).exists()],
     "does not load"),
    (lambda b: (b / "label_map.pbtxt").write_text("item { id: 1 name: 'cat' }\n"),
     "does not load"),  # the loader checks the label map against model.json
    (_relabel, "changed its labels"),
])
def test_a_bundle_that_does_not_load_is_refused(bundle, color_bundle, tmp_path, caplog,
                                                breaks, says) -> None:
    made: list[Recorded] = []
    hot = HotModel(bundle, DetectorConfig(), poll_s=3600, loader=loader(made))
    detector = hot.start()
    try:
        bad = copy_bundle(color_bundle, tmp_path / "bad", step=3)
        breaks(bad)
        promote_bundle(bad, bundle)
        with caplog.at_level(logging.ERROR, logger="lookout.watch"):
            assert hot.check() is False
        assert hot.refused == 1 and hot.reloads == 0 and "step 1" in hot.version
        assert says in caplog.text and "still running door step 1" in caplog.text
        image = make_blob_image(96, 128, red=(10, 20, 60, 70))
        assert detector.detect([image])[0].labels == ("red",)  # the old model runs on
        assert not made[0].closed
    finally:
        hot.stop()


def test_sighup_reloads_now(bundle) -> None:
    before = signal.getsignal(signal.SIGHUP)  # SIG_IGN under nohup, SIG_DFL otherwise
    hot = HotModel(bundle, DetectorConfig(), poll_s=3600)
    hot.start()
    try:
        os.kill(os.getpid(), signal.SIGHUP)
        assert hot.swapped.wait(WAIT_S) and hot.reloads == 1
    finally:
        hot.stop()
    assert signal.getsignal(signal.SIGHUP) is before  # put back as it was


def test_watch_switches_mid_visit_without_dropping_a_frame(bundle, color_bundle,
                                                           tmp_path) -> None:
    """The promotion lands at the 4th detector call (the still scene before the first
    visit needs one; the visit's walk-in the next): every frame gets a result, the
    visits stay two events, and the rest of the clip runs on the new model."""
    clip = write_doorbell_clip(tmp_path / "porch.mp4", visits=(Visit(3.0, 4.0), Visit(14.0, 3.0)),
                               seconds=20)
    made: list[Recorded] = []
    hot = HotModel(bundle, DetectorConfig(), poll_s=0.05, loader=loader(made, hold_first_at=4))

    def promote() -> None:
        for _ in range(int(WAIT_S / 0.01)):  # until watch has loaded the first model
            if made or threading.Event().wait(0.01):
                break
        if made and made[0].holding.wait(WAIT_S):
            promote_bundle(copy_bundle(color_bundle, tmp_path / "cand", step=2), bundle)
            hot.swapped.wait(WAIT_S)
        made[0].release.set()

    rule = WatchRuleConfig(name="visitor", labels=["red"], end_after_s=2.0, cooldown_s=5.0)
    watch = WatchConfig(events_dir=str(tmp_path / "events"), rules=[rule],
                        delivery=WatchDeliveryConfig(console=False))
    helper = threading.Thread(target=promote)
    helper.start()
    try:
        result = run_watch(hot, str(clip), dataclasses.replace(Config(), watch=watch),
                           mode="file")
    finally:
        if made:
            made[0].release.set()
        helper.join(WAIT_S)
    assert hot.reloads == 1 and made[0].closed and made[1].closed
    assert made[0].calls >= 4 and made[1].calls > 0  # both models ran in the one job
    assert result.stats.frames_written == 200  # no frame went without a result
    events = {r["id"] for r in read_events(tmp_path / "events" / "events.jsonl")}
    assert result.events == 2 and len(events) == 2  # the open visit stayed one event


def test_health_names_the_model(bundle) -> None:
    from realtime.watch.health import _run

    assert _run({"events": 0, "open": 0, "pending": 0, "model": "door step 1"}).endswith(
        "model door step 1")
