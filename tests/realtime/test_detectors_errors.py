"""Every user mistake with a model is one clear `UserError` naming what is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.errors import UserError
from realtime.config import DetectorConfig
from realtime.detectors import load_detector
from tests.fixtures.models import LABEL_MAP_TEXT, make_blob_image


def _missing(tmp: Path, models: dict) -> Path:
    return tmp / "nope" / "model.tflite"


def _not_a_model(tmp: Path, models: dict) -> Path:
    (tmp / "weights.onnx").write_bytes(b"\0" * 16)
    return tmp / "weights.onnx"


def _empty_folder(tmp: Path, models: dict) -> Path:
    (tmp / "empty").mkdir()
    return tmp / "empty"


def _garbage_pb(tmp: Path, models: dict) -> Path:
    (tmp / "label_map.pbtxt").write_text(LABEL_MAP_TEXT)
    (tmp / "frozen_inference_graph.pb").write_bytes(b"this is not a graph \xff\xfe" * 10)
    return tmp / "frozen_inference_graph.pb"


def _graph_without_od_names(tmp: Path, models: dict) -> Path:
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="input")
        tf.identity(x * 2.0, name="output")
    (tmp / "label_map.pbtxt").write_text(LABEL_MAP_TEXT)
    (tmp / "graph.pb").write_bytes(graph.as_graph_def().SerializeToString())
    return tmp / "graph.pb"


def _frozen_without_labels(tmp: Path, models: dict) -> Path:
    shutil.copy(models["frozen_graph"], tmp / "frozen_inference_graph.pb")
    return tmp / "frozen_inference_graph.pb"


def _garbage_tflite(tmp: Path, models: dict) -> Path:
    (tmp / "label_map.pbtxt").write_text(LABEL_MAP_TEXT)
    (tmp / "model.tflite").write_bytes(b"TFL3" + b"\x01" * 64)
    return tmp / "model.tflite"


def _saved_model_without_signature(tmp: Path, models: dict) -> Path:
    import tensorflow as tf

    module = tf.Module()
    module.v = tf.Variable(1.0)
    tf.saved_model.save(module, str(tmp / "sm"))
    (tmp / "label_map.pbtxt").write_text(LABEL_MAP_TEXT)
    return tmp / "sm"


def _saved_model_float_input(tmp: Path, models: dict) -> Path:
    import tensorflow as tf

    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="inputs")])
    def serve(inputs):
        return {"logits": inputs * 2.0}

    module.serve = serve
    tf.saved_model.save(module, str(tmp / "sm"), signatures={"serving_default": serve})
    (tmp / "label_map.pbtxt").write_text(LABEL_MAP_TEXT)
    return tmp / "sm"


def _saved_model_not_a_detector(tmp: Path, models: dict) -> Path:
    import tensorflow as tf

    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    def serve(images):
        return {"logits": tf.reduce_mean(tf.cast(images, tf.float32), axis=[1, 2])}

    module.serve = serve
    tf.saved_model.save(module, str(tmp / "sm"), signatures={"serving_default": serve})
    (tmp / "label_map.pbtxt").write_text(LABEL_MAP_TEXT)
    return tmp / "sm"


def _bundle_with_edited_label_map(tmp: Path, models: dict) -> Path:
    bundle = shutil.copytree(models["color_bundle"], tmp / "bundle")
    (bundle / "label_map.pbtxt").write_text("item { id: 1 name: 'raccoon' }\n")
    return bundle


def _bundle(tmp: Path, models: dict) -> Path:
    return models["color_bundle"]


def _bundle_without_tflite(tmp: Path, models: dict) -> Path:
    bundle = shutil.copytree(models["color_bundle"], tmp / "bundle")
    (bundle / "model.tflite").unlink()
    return bundle


# (make the artifact, detector config, words the message must contain)
CASES = [
    (_missing, {}, ["nope/model.tflite", "not found"]),
    (_not_a_model, {}, ["weights.onnx", "not a model", ".tflite"]),
    (_empty_folder, {}, ["empty", "not a model"]),
    (_garbage_pb, {}, ["frozen_inference_graph.pb"]),
    (_graph_without_od_names, {}, ["graph.pb", "image_tensor:0"]),
    (_frozen_without_labels, {}, ["no label map", "detector.labels"]),
    (_garbage_tflite, {}, ["model.tflite", "not a valid .tflite"]),
    (_saved_model_without_signature, {}, ["sm", "serving_default"]),
    (_saved_model_float_input, {}, ["serving_default", "uint8"]),
    (_saved_model_not_a_detector, {}, ["detection_boxes", "not an object detector"]),
    (_bundle_with_edited_label_map, {}, ["label_map.pbtxt", "model.json"]),
    (_bundle, {"device": "gpu"}, ["detector.device gpu", "GPU"]),
    (_bundle, {"device": "gpu:x"}, ["detector.device", "'gpu:x'"]),
    (_bundle, {"device": "tpu"}, ["detector.device", "'tpu'", "auto, cpu, gpu"]),
    (_bundle, {"device": "gpu", "bundle_format": "tflite"}, ["detector.device gpu", "CPU"]),
    (_bundle, {"classes": ["dog"]}, ["detector.classes dog", "red, blue"]),
    (_bundle, {"score": 1.5}, ["detector.score", "1.5"]),
    (_bundle, {"max_det": -1}, ["detector.max_det", "got -1"]),
    (_bundle, {"bundle_format": "onnx"}, ["bundle_format", "onnx"]),
    (_bundle, {"labels": "missing_labels.pbtxt"}, ["missing_labels.pbtxt", "not found"]),
    (_bundle_without_tflite, {"bundle_format": "tflite"}, ["model.tflite", "--tflite"]),
]


@pytest.fixture(scope="module")
def models(color_bundle, frozen_graph):
    return {"color_bundle": color_bundle, "frozen_graph": frozen_graph}


@pytest.mark.parametrize("make, overrides, words", CASES, ids=[c[0].__name__[1:] + (
    "-" + "-".join(f"{k}" for k in c[1]) if c[1] else "") for c in CASES])
def test_mistake_is_one_clear_line(tmp_path, models, make, overrides, words):
    path = make(tmp_path, models)
    with pytest.raises(UserError) as caught:
        load_detector(path, DetectorConfig(**overrides))
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_labels_that_do_not_match_the_model(frozen_graph, tmp_path):
    """A label map lacking an id the model emits: named when it first happens."""
    labels = tmp_path / "one.pbtxt"
    labels.write_text("item { id: 1 name: 'red' }\n")
    detector = load_detector(frozen_graph, DetectorConfig(score=0.0, labels=str(labels)))
    (found,) = detector.detect([make_blob_image(64, 64, red=(0, 0, 20, 20))])  # fine so far
    assert found.labels == ("red",)
    with pytest.raises(UserError, match=r"class id 2.*one\.pbtxt lacks.*detector\.labels"):
        detector.detect([make_blob_image(64, 64, blue=(0, 0, 20, 20))])


def test_saved_model_pb_file_means_its_folder(od_api_saved_model):
    detector = load_detector(od_api_saved_model / "saved_model.pb", DetectorConfig())
    assert detector.kind == "saved_model"
