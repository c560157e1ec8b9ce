"""Bundles with model_int8.tflite: which file `auto` runs, and fixed-size (letterboxed)
models of our layout, as the int8 export writes them (issue 16)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from core.errors import UserError
from realtime.config import DetectorConfig
from realtime.detectors import load_detector
from tests.fixtures.models import expected_detections, make_blob_image, make_tflite


@pytest.fixture
def int8_bundle(color_bundle, tmp_path):
    """The colour bundle with a model_int8.tflite (a copy of model.tflite: what `auto`
    chooses depends on model.json only)."""
    bundle = tmp_path / "colors"
    shutil.copytree(color_bundle, bundle)
    shutil.copy(bundle / "model.tflite", bundle / "model_int8.tflite")
    return bundle


def record_eval(bundle, float_ap50: float | None, int8_ap50: float | None) -> None:
    meta = json.loads((bundle / "model.json").read_text())
    formats = {}
    if float_ap50 is not None:
        formats["tflite"] = {"AP50": float_ap50}
    if int8_ap50 is not None:
        formats["int8"] = {"AP50": int8_ap50}
    meta["evaluation"] = {"formats": formats}
    (bundle / "model.json").write_text(json.dumps(meta))


def ran(bundle, **cfg) -> str:
    detector = load_detector(bundle, DetectorConfig(**{"device": "cpu", **cfg}), warmup=False)
    try:
        return detector.describe().split(" ")[0]
    finally:
        detector.close()


@pytest.mark.parametrize(("float_ap50", "int8_ap50", "limit", "expected"), [
    (None, None, 0.02, "model.tflite"),  # never evaluated: float
    (0.80, None, 0.02, "model.tflite"),  # int8 row missing
    (0.80, 0.79, 0.02, "model_int8.tflite"),  # lost 0.01
    (0.80, 0.78, 0.02, "model_int8.tflite"),  # lost exactly the limit
    (0.80, 0.75, 0.02, "model.tflite"),  # lost 0.05
    (0.80, 0.75, 0.06, "model_int8.tflite"),  # ... which a looser limit accepts
    (0.50, 0.55, 0.0, "model_int8.tflite"),  # int8 did better
])
def test_auto_takes_int8_only_within_the_recorded_drop(int8_bundle, float_ap50, int8_ap50,
                                                       limit, expected):
    record_eval(int8_bundle, float_ap50, int8_ap50)
    assert ran(int8_bundle, max_ap50_drop=limit) == expected


def test_describe_says_why_that_file_runs(int8_bundle):
    from realtime.detectors.loader import auto_choice

    record_eval(int8_bundle, 0.80, 0.79)
    detector = load_detector(int8_bundle, DetectorConfig(device="cpu", tile="off"), warmup=False)
    want = "auto: CPU; int8 lost 0.010 AP50 on the test split, within max_ap50_drop 0.02"
    assert want in detector.describe()
    cfg = DetectorConfig(device="cpu", max_ap50_drop=0.005)
    assert auto_choice(int8_bundle, cfg).startswith(
        "model.tflite (auto: CPU; model_int8.tflite lost 0.010 AP50 on the test split, more "
        "than max_ap50_drop 0.005); whole frames (auto: no input size in model.json)")
    cfg = DetectorConfig(device="cpu", bundle_format="int8", tile="300")
    assert auto_choice(int8_bundle, cfg) == (
        "model_int8.tflite (bundle_format = int8); tiles of 300 px (tile = 300)")
    record_eval(int8_bundle, None, None)
    assert "model_int8.tflite was never evaluated" in ran_description(int8_bundle)


def ran_description(bundle) -> str:
    detector = load_detector(bundle, DetectorConfig(device="cpu"), warmup=False)
    try:
        return detector.describe()
    finally:
        detector.close()


def test_explicit_formats_and_errors(int8_bundle, color_bundle):
    record_eval(int8_bundle, 0.8, 0.5)  # a bad int8 model still runs when asked for
    assert ran(int8_bundle, bundle_format="int8") == "model_int8.tflite"
    assert ran(int8_bundle, bundle_format="tflite") == "model.tflite"
    with pytest.raises(UserError, match="no model_int8.tflite.*--int8"):
        ran(color_bundle, bundle_format="int8")
    with pytest.raises(UserError, match="max_ap50_drop: must be between 0 and 1"):
        DetectorConfig(max_ap50_drop=2.0)


def test_auto_with_a_gpu_runs_the_saved_model(int8_bundle, monkeypatch):
    import realtime.devices

    record_eval(int8_bundle, 0.8, 0.8)
    monkeypatch.setattr(realtime.devices, "gpu_visible", lambda: False)
    assert ran(int8_bundle, device="auto") == "model_int8.tflite"
    monkeypatch.setattr(realtime.devices, "gpu_visible", lambda: True)
    assert ran(int8_bundle, device="auto") == "saved_model"


@pytest.mark.parametrize(("height", "width"), [(240, 320), (300, 150), (160, 160)])
def test_fixed_size_model_is_letterboxed_and_boxes_map_back(tmp_path, height, width):
    """A [1, 160, 160, 3] model of our layout sees each image scaled to fit and padded
    (as RetinaNet trained); its boxes on that square come back in the image's pixels."""
    model = make_tflite(tmp_path, layout="lookout_fixed", size=160)
    detector = load_detector(model, DetectorConfig(score=0.0))
    image = make_blob_image(height, width, red=(20, 30, width // 2, height // 2),
                            blue=(width // 2 + 10, height // 2 + 5, width - 10, height - 20))
    (found,) = detector.detect([image])
    want = expected_detections(image)
    assert found.labels == tuple(d["label"] for d in want)
    step = max(height, width) / 160  # one model pixel, in image pixels
    np.testing.assert_allclose(found.xyxy, [d["box"] for d in want], atol=2 * step)


def test_fixed_size_input_is_built_in_one_pass(tmp_path, monkeypatch):
    """The model's batch is each image letterboxed straight into it: a big frame is
    resized once, a frame the pipeline already shrank to the fitted size is copied in
    without a second resize, and int8 models get pixels - 128."""
    import cv2

    from realtime.detectors.tflite import letterbox

    detector = load_detector(make_tflite(tmp_path, layout="lookout_fixed", size=160),
                             DetectorConfig(score=0.0))
    big = make_blob_image(720, 1280, red=(100, 100, 600, 500))
    small = cv2.resize(big, (160, 90), interpolation=cv2.INTER_AREA)  # what --resize 160 gives
    want = np.stack([letterbox(big, (160, 160)), letterbox(small, (160, 160))])
    resized = []
    real_resize = cv2.resize
    monkeypatch.setattr(cv2, "resize", lambda im, *a, **k: resized.append(im.shape)
                        or real_resize(im, *a, **k))
    batch = detector._fit([big, small])
    assert np.array_equal(batch, want)
    assert resized == [big.shape]  # the shrunk frame was not resized again
    assert np.array_equal(detector._fit(batch), batch) and detector._fit(batch) is batch
    detector._dtype = np.int8
    assert np.array_equal(detector._prepare(batch), (batch.astype(np.int16) - 128))
