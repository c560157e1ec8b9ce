"""`export_bundle()`: the bundle of models/README.md, loaded back the way its users load it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from core.errors import UserError
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


def test_tflite_agrees_with_saved_model(bundle: Path, serving) -> None:
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(str(bundle / "model.tflite")).get_signature_runner("serving_default")
    for shape in [(1, 128, 128), (1, 90, 160)]:
        image = _images(*shape, seed=5)
        lite = runner(images=image)
        saved = {k: v.numpy() for k, v in serving(images=tf.constant(image)).items()}
        box, score = compare({k: saved[k][0] for k in KEYS}, {k: lite[k][0] for k in KEYS},
                             TOLERANCE["tflite"]["score"])
        assert box <= TOLERANCE["tflite"]["box"] and score <= TOLERANCE["tflite"]["score"]


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
