"""`export_bundle()`: the bundle of models/README.md, loaded back the way its users load it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from core.errors import UserError
from realtime.detectors.tiling import TILE_MARGIN
from realtime.labelmap import read_label_map
from tests.training.runs import shared_bundle, shared_run
from training.export import export_bundle
from training.verify import TOLERANCE, compare

pytestmark = pytest.mark.slow
KEYS = ("detection_boxes", "detection_scores", "detection_classes", "num_detections")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return shared_bundle(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return shared_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def serving(bundle: Path):
    """The bundle's SavedModel signature, loaded once as a realtime backend would."""
    return tf.saved_model.load(str(bundle / "saved_model")).signatures["serving_default"]


def _images(batch: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (batch, h, w, 3), dtype=np.uint8)


def test_bundle_files_and_model_json(bundle: Path) -> None:
    assert {p.name for p in bundle.iterdir()} == {
        "saved_model", "frozen_inference_graph.pb", "label_map.pbtxt", "model.json", "model.tflite",
        "model_int8.tflite"}
    assert read_label_map(bundle / "label_map.pbtxt") == {1: "date", 2: "fig", 3: "hazelnut"}
    meta = json.loads((bundle / "model.json").read_text())
    for key in ("name", "architecture", "input_size", "classes", "training_run", "metrics",
                "created_at", "lookout_version", "export_check"):
        assert key in meta, key
    assert meta["architecture"] == "retinanet-mobilenetv2-fpn" and meta["input_size"] == 128
    assert meta["classes"] == {"1": "date", "2": "fig", "3": "hazelnut"}
    assert meta["files"] == {"saved_model": "saved_model", "frozen_graph": "frozen_inference_graph.pb",
                             "tflite": "model.tflite", "int8": "model_int8.tflite"}
    check = meta["export_check"]
    assert set(check["max_difference"]) == {"saved_model", "frozen_graph", "tflite"}
    for name, diff in check["max_difference"].items():
        assert diff["box"] <= TOLERANCE[name]["box"] and diff["score"] <= TOLERANCE[name]["score"]


@pytest.mark.parametrize("shape", [(1, 128, 128), (3, 50, 70), (2, 300, 120)])
def test_saved_model_takes_any_size_and_batch(serving, shape) -> None:
    out = {k: v.numpy() for k, v in serving(images=tf.constant(_images(*shape))).items()}
    assert set(out) == set(KEYS)
    b = shape[0]
    assert out["detection_boxes"].shape == (b, 100, 4) and out["detection_scores"].shape == (b, 100)
    assert out["num_detections"].shape == (b,)
    assert all(v.dtype == np.float32 for v in out.values())
    assert out["detection_boxes"].min() >= 0.0 and out["detection_boxes"].max() <= 1.0
    n = int(out["num_detections"][0])
    assert n > 0 and set(np.unique(out["detection_classes"][0, :n])) <= {1.0, 2.0, 3.0}


def test_frozen_graph_has_tf1_names_and_matches_saved_model(bundle: Path, serving) -> None:
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString((bundle / "frozen_inference_graph.pb").read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    images = _images(2, 64, 96, seed=3)
    with tf.compat.v1.Session(graph=graph) as sess:
        frozen = sess.run({k: f"{k}:0" for k in KEYS}, {"image_tensor:0": images})
    saved = {k: v.numpy() for k, v in serving(images=tf.constant(images)).items()}
    for key in KEYS:
        np.testing.assert_allclose(frozen[key], saved[key], atol=1e-5, err_msg=key)


def test_tflite_uses_the_nms_op_on_a_fixed_input(bundle: Path) -> None:
    """Issue 22: no Model Garden NMS loops, no in-graph resize: TFLite's own NMS op on a
    fixed square, as the int8 file has."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(str(bundle / "model.tflite"))
    ops = [op["op_name"] for op in it._get_ops_details()]
    assert ops.count("TFLite_Detection_PostProcess") == 1
    assert not {"WHILE", "TOPK_V2", "RESIZE_BILINEAR", "NON_MAX_SUPPRESSION_V5"} & set(ops)
    (image,) = it.get_input_details()
    assert image["dtype"] == np.uint8 and list(image["shape_signature"]) == [1, 128, 128, 3]
    # Besides the network's convolutions, a few dozen ops (Model Garden's NMS added ~180)
    assert len([op for op in ops if op not in ("CONV_2D", "DEPTHWISE_CONV_2D")]) < 60


def test_tflite_agrees_with_saved_model(bundle: Path, serving) -> None:
    """On the square it takes, model.tflite gives the SavedModel's detections (the NMS op
    against Model Garden's NMS); on other sizes, through the runtime's letterbox, the
    export recorded how far they agree."""
    from ai_edge_litert.interpreter import Interpreter

    from realtime.detectors.tflite import letterbox

    runner = Interpreter(str(bundle / "model.tflite")).get_signature_runner("serving_default")
    for shape in [(1, 128, 128), (1, 90, 160)]:
        image = letterbox(_images(*shape, seed=5)[0], (128, 128))[None]
        lite = runner(images=image)
        lite["detection_boxes"] = np.clip(lite["detection_boxes"], 0.0, 1.0)
        saved = {k: v.numpy() for k, v in serving(images=tf.constant(image)).items()}
        box, score = compare({k: saved[k][0] for k in KEYS}, {k: lite[k][0] for k in KEYS},
                             TOLERANCE["tflite"]["score"])
        assert box <= TOLERANCE["tflite"]["box"] and score <= TOLERANCE["tflite"]["score"]
    tflite = json.loads((bundle / "model.json").read_text())["tflite"]
    agreement = tflite["agreement_with_saved_model"]
    assert agreement["images"] == 3 and tflite["min_agreement"] == 0.9
    assert agreement["matched"] <= agreement["reference_detections"]


def test_export_evaluates_the_tflite_files_and_says_what_auto_runs(bundle: Path) -> None:
    from lookout.commands.export import summary_lines
    from lookout.config import Config

    ev = json.loads((bundle / "model.json").read_text())["evaluation"]
    assert set(ev["formats"]) == {"tflite", "int8"} and ev["images"] == 2
    assert ev["int8_ap50_drop"] == pytest.approx(
        ev["formats"]["tflite"]["AP50"] - ev["formats"]["int8"]["AP50"], abs=1e-4)
    # fruit-nuts test images are 800x600, over 2x the 128 px input: both are tiled
    tiles = ev["tiles"]
    assert tiles["format"] == "tflite" and tiles["tile"] == 128 and tiles["min_frame"] == 256
    assert tiles["frames_tiled"] == 2 and tiles["margin"] == TILE_MARGIN
    assert 0.0 <= tiles["whole"]["AP50"] <= 1.0 and 0.0 <= tiles["tiled"]["AP50"] <= 1.0
    # the format rows ran with tile = auto, which the tiles record decided
    won = tiles["tiled"]["AP50"] - tiles["whole"]["AP50"] >= TILE_MARGIN
    assert {row["tile"] for row in ev["formats"].values()} == {128 if won else "off"}
    lines = summary_lines(bundle, Config())
    assert any(line.startswith("test split AP50 (2 images): model.tflite") for line in lines)
    auto = next(line for line in lines if line.startswith("auto runs: "))
    want = "model_int8.tflite" if ev["int8_ap50_drop"] <= 0.02 else "model.tflite"
    assert auto.startswith(f"auto runs: {want} (auto: CPU; ")


def test_export_check_fails_when_the_model_differs(bundle: Path, run_dir: Path) -> None:
    from training.model import load_checkpoint_model
    from training.verify import check_bundle

    other = load_checkpoint_model(run_dir, overrides={"task": {"model": {
        "detection_generator": {"pre_nms_score_threshold": 1e-8}}}})
    scores = [v for v in other.module.model.head.weights if "scores" in v.name and "bias" in v.name]
    assert scores
    for bias in scores:  # a model that is not the one exported: every score moves
        bias.assign(bias + 1.0)
    with pytest.raises(UserError, match="export check failed: saved_model differs"):
        check_bundle(other, bundle, [_images(1, 96, 128, seed=7)[0]])


def test_failed_export_leaves_nothing(tmp_path: Path, run_dir: Path) -> None:
    broken = tmp_path / "run"
    broken.mkdir()
    for name in ("run.json", "params.yaml", "label_map.pbtxt"):
        shutil.copy(run_dir / name, broken / name)
    out = tmp_path / "models" / "broken"
    with pytest.raises(UserError, match="no checkpoint found"):
        export_bundle(broken, out)
    assert not out.exists() and not list(out.parent.glob(".*"))


def test_refuses_to_replace_a_folder_that_is_not_a_bundle(tmp_path: Path, run_dir: Path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="exists and is not a model bundle"):
        export_bundle(run_dir, out)
    assert (out / "notes.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
