"""model.json has one owner, `realtime.bundle.BundleMeta`: a bundle written by an earlier
release loads and is written back unchanged, keys a newer release adds survive, and a
bad field is one line naming the file and the key."""

from __future__ import annotations

import json

import pytest

from core.errors import UserError
from realtime.bundle import BUNDLE_FILES, BundleMeta, bundle_file, is_bundle

# model.json as `lookout export --int8` of the previous release wrote it (values shortened)
PREVIOUS = {
    "name": "raccoon",
    "architecture": "retinanet_mobilenet_fpn",
    "input_size": 320,
    "classes": {"1": "raccoon"},
    "training_run": "/runs/raccoon",
    "checkpoint": "ckpt-400",
    "step": 400,
    "metrics": {"AP": 0.41, "AP50": 0.8},
    "created_at": "2026-11-30T10:00:00+00:00",
    "lookout_version": "0.1.0",
    "outputs": ["detection_boxes", "detection_scores", "detection_classes", "num_detections"],
    "score_threshold": 1e-08,
    "tflite": {"input": "uint8 [1, H, W, 3] RGB", "outputs": "the four"},
    "int8": {"file": "model_int8.tflite", "agreement": {"matched": 9}, "summary": "9/10 matched"},
    "files": {"saved_model": "saved_model", "frozen_graph": "frozen_inference_graph.pb",
              "tflite": "model.tflite", "int8": "model_int8.tflite"},
    "export_check": {"images": 3, "top": 10},
    "anchors": {"anchor_size": 3.0, "aspect_ratios": [0.5, 1.0, 2.0], "num_scales": 3,
                "min_level": 3, "max_level": 7, "source": "fitted", "recall": 0.97},
    "training_data": {"box_p10_px": 40.0, "under_16px": 0.0, "small_share": 0.0,
                      "small_objects": False},
    "evaluation": {"data": ["/d/test.record"], "images": 4,
                   "formats": {"tflite": {"AP50": 0.8}, "int8": {"AP50": 0.78}}},
}


def write(folder, data) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "model.json").write_text(json.dumps(data, indent=2) + "\n")


def test_previous_release_round_trips_byte_for_byte(tmp_path):
    write(tmp_path, PREVIOUS)
    before = (tmp_path / "model.json").read_text()
    meta = BundleMeta.read(tmp_path)
    assert meta.classes == {1: "raccoon"} and meta.input_size == 320
    assert meta.int8_ap50_drop() == 0.02 and meta.int8_summary == "9/10 matched"
    assert meta.small_objects is False
    assert meta.tiles_ap50_gain() is None  # evaluated before tiles were
    meta.write(tmp_path)
    assert (tmp_path / "model.json").read_text() == before


def test_tiles_gain_from_the_evaluation(tmp_path):
    tiles = {"tile": 320, "whole": {"AP50": 0.30}, "tiled": {"AP50": 0.199}}
    write(tmp_path, {**PREVIOUS, "evaluation": {**PREVIOUS["evaluation"], "tiles": tiles}})
    assert BundleMeta.read(tmp_path).tiles_ap50_gain() == -0.101
    skipped = {"tile": 320, "skipped": "no test image is 640 px or larger"}
    write(tmp_path, {**PREVIOUS, "evaluation": {**PREVIOUS["evaluation"], "tiles": skipped}})
    assert BundleMeta.read(tmp_path).tiles_ap50_gain() is None
    assert BundleMeta.read(tmp_path).tiles_skipped == "no test image is 640 px or larger"


def test_oldest_bundle_and_newer_keys_load(tmp_path):
    oldest = {k: PREVIOUS[k] for k in ("name", "architecture", "input_size", "classes")}
    write(tmp_path, {**oldest, "added_later": {"x": 1}})
    before = (tmp_path / "model.json").read_text()
    meta = BundleMeta.read(tmp_path)
    meta.write(tmp_path)  # fields it never had are not added
    assert (tmp_path / "model.json").read_text() == before
    assert meta.files is None and meta.int8_ap50_drop() is None and not meta.small_objects
    assert meta.extra == {"added_later": {"x": 1}}
    meta.replace(evaluation={"formats": {}}).write(tmp_path)
    again = json.loads((tmp_path / "model.json").read_text())
    assert again["added_later"] == {"x": 1} and again["evaluation"] == {"formats": {}}


@pytest.mark.parametrize(("change", "message"), [
    ({"name": None}, "'name' must be a string"),
    ({"input_size": "320"}, "'input_size' must be an integer"),
    ({"input_size": True}, "'input_size' must be an integer"),
    ({"classes": {"one": "raccoon"}}, "'classes' keys must be label ids"),
    ({"classes": ["raccoon"]}, "'classes' must be an object"),
    ({"files": {"onnx": "model.onnx"}}, "'files' must map"),
    ({"training_data": 3}, "'training_data' must be an object"),
])
def test_a_bad_field_is_one_line_naming_file_and_key(tmp_path, change, message):
    write(tmp_path, {**PREVIOUS, **change})
    with pytest.raises(UserError, match=message) as err:
        BundleMeta.read(tmp_path)
    assert str(err.value).startswith(str(tmp_path / "model.json")) and "\n" not in str(err.value)


def test_missing_key_not_json_and_no_file(tmp_path):
    write(tmp_path, {k: v for k, v in PREVIOUS.items() if k != "architecture"})
    with pytest.raises(UserError, match="model.json: missing 'architecture'"):
        BundleMeta.read(tmp_path)
    (tmp_path / "model.json").write_text("{")
    with pytest.raises(UserError, match="model.json: not valid JSON"):
        BundleMeta.read(tmp_path)
    (tmp_path / "model.json").unlink()
    assert BundleMeta.read_if_present(tmp_path) is None
    with pytest.raises(UserError, match="model.json: not found"):
        BundleMeta.read(tmp_path)


def test_file_table(tmp_path):
    assert bundle_file(tmp_path, "int8") == tmp_path / "model_int8.tflite"
    assert set(BUNDLE_FILES) == {"saved_model", "frozen_graph", "tflite", "int8"}
    write(tmp_path, PREVIOUS)
    assert not is_bundle(tmp_path)
    (tmp_path / "saved_model").mkdir()
    assert is_bundle(tmp_path)


def test_a_new_record_writes_every_field_but_evaluation(tmp_path):
    BundleMeta(name="m", architecture="a", classes={1: "x"}, input_size=64).write(tmp_path)
    data = json.loads((tmp_path / "model.json").read_text())
    assert list(data)[:4] == ["name", "architecture", "input_size", "classes"]
    assert data["classes"] == {"1": "x"} and data["int8"] is None and "evaluation" not in data
