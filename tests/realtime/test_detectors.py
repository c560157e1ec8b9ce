"""Every detector backend, loaded from real models made in the test, gives the exact answer
of the colour-blob reference (tests/fixtures/models.py); filters and options work."""

from __future__ import annotations

import pytest

from core.errors import UserError
from realtime.config import DetectorConfig
from realtime.detectors import load_detector
from tests.fixtures.models import expected_detections, make_blob_image

IMAGES = [
    make_blob_image(96, 96, red=(10, 20, 40, 50), blue=(50, 50, 90, 80), disc=True),
    make_blob_image(120, 160, blue=(10, 5, 60, 60)),
    make_blob_image(96, 96),  # nothing to find
    make_blob_image(240, 320, red=(200, 100, 300, 200), blue=(0, 0, 50, 60)),
    make_blob_image(96, 96, red=(0, 0, 96, 30)),  # touches three edges
    make_blob_image(96, 96, red=(40, 40, 43, 43)),  # 9 px < MIN_FRACTION: not detected
]

# (name, fixture, config overrides, kind, box tolerance px, score tolerance). The OD API .tflite
# has a fixed 96x96 input: other sizes are resized, so edges may move by a pixel there.
BACKENDS = [
    ("bundle", "color_bundle", {"bundle_format": "saved_model"}, "bundle", 1e-3, 1e-5),
    ("bundle-frozen", "color_bundle", {"bundle_format": "frozen_graph"}, "bundle", 1e-3, 1e-5),
    ("bundle-tflite", "color_bundle", {"bundle_format": "tflite"}, "bundle", 1e-3, 1e-5),
    ("frozen_graph", "frozen_graph", {}, "frozen_graph", 1e-3, 1e-5),
    ("od_api", "od_api_saved_model", {}, "saved_model", 1e-3, 1e-5),
    ("od_api_batch1", "od_api_saved_model_batch1", {}, "saved_model", 1e-3, 1e-5),
    ("tflite_lookout", "tflite_lookout", {}, "tflite", 1e-3, 1e-5),
    ("tflite_od_api", "tflite_od_api", {}, "tflite", 4.0, 0.06),
]


def _load(request, fixture: str, **overrides):
    return load_detector(request.getfixturevalue(fixture), DetectorConfig(score=0.0, **overrides))


def _assert_matches(found, expected, box_tol, score_tol):
    got = found.to_dicts()
    assert [d["label"] for d in got] == [e["label"] for e in expected]
    assert [d["class_id"] for d in got] == [e["class_id"] for e in expected]
    for d, e in zip(got, expected, strict=True):
        assert d["score"] == pytest.approx(e["score"], abs=max(score_tol, 1e-4))
        assert d["box"] == pytest.approx(e["box"], abs=max(box_tol, 0.05))


@pytest.mark.parametrize("name, fixture, overrides, kind, box_tol, score_tol", BACKENDS,
                         ids=[b[0] for b in BACKENDS])
def test_backend_gives_the_reference_answer(request, name, fixture, overrides, kind, box_tol,
                                            score_tol):
    detector = _load(request, fixture, **overrides)
    assert detector.kind == kind
    assert detector.names == {1: "red", 2: "blue"}
    results = detector.detect(IMAGES)
    assert len(results) == len(IMAGES)
    assert sum(len(r) for r in results) == 6
    for image, found in zip(IMAGES, results, strict=True):
        expected = expected_detections(image)
        exact = image.shape[:2] == (96, 96)
        _assert_matches(found, expected, 1e-3 if exact else box_tol, 1e-5 if exact else score_tol)


def test_batches_of_same_size_images_run_as_one_call(color_bundle, od_api_saved_model_batch1):
    """Same-size images are one `_run` call; a model fixed at batch 1 still takes batches."""
    for model in (color_bundle, od_api_saved_model_batch1):
        detector = load_detector(model, DetectorConfig(score=0.0))
        calls = []
        original = detector._run

        def counting(batch, shape, original=original, calls=calls):
            calls.append(batch.shape)
            return original(batch, shape)

        detector._run = counting
        batch = [IMAGES[0], IMAGES[1], IMAGES[2], IMAGES[0]]
        results = detector.detect(batch)
        assert calls == [(3, 96, 96, 3), (1, 120, 160, 3)]
        assert [r.to_dicts() for r in results] == [
            r.to_dicts() for r in (detector.detect([im])[0] for im in batch)
        ]


def test_score_threshold(color_bundle):
    detector = load_detector(color_bundle, DetectorConfig(score=0.95))
    (found,) = detector.detect([IMAGES[0]])
    assert found.labels == ("red",)  # the blue disc scores 0.89


def test_classes_filter_by_label_name(color_bundle):
    detector = load_detector(color_bundle, DetectorConfig(score=0.0, classes=["blue"]))
    found = detector.detect([IMAGES[0], IMAGES[3], IMAGES[4]])
    assert [f.labels for f in found] == [("blue",), ("blue",), ()]


def test_max_det_keeps_the_best(color_bundle):
    detector = load_detector(color_bundle, DetectorConfig(score=0.0, max_det=1))
    (found,) = detector.detect([IMAGES[0]])
    assert found.labels == ("red",) and found.scores[0] == pytest.approx(1.0)


def test_labels_flag_renames(frozen_graph, tmp_path):
    labels = tmp_path / "fruit.pbtxt"
    labels.write_text("item { id: 1 name: 'apple' }\nitem { id: 2 name: 'plum' }\n")
    detector = load_detector(frozen_graph, DetectorConfig(score=0.0, labels=str(labels)))
    (found,) = detector.detect([IMAGES[0]])
    assert found.labels == ("apple", "plum")


def test_device_cpu_places_the_model(color_bundle):
    detector = load_detector(color_bundle, DetectorConfig(score=0.0, device="cpu",
                                                          bundle_format="saved_model"))
    assert detector.device == "/CPU:0"
    (found,) = detector.detect([IMAGES[3]])
    _assert_matches(found, expected_detections(IMAGES[3]), 1e-3, 1e-5)


def test_model_garden_style_saved_model(tmp_path):
    """Model Garden exports: input ``inputs``, int classes, boxes in input pixels."""
    import tensorflow as tf

    from tests.fixtures.models import LABEL_MAP_TEXT, color_blobs

    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="inputs")])
    def serve(inputs):
        out = color_blobs(inputs)
        size = tf.cast(tf.shape(inputs)[1:3], tf.float32)
        out["detection_boxes"] = out["detection_boxes"] * tf.concat([size, size], 0)
        out["detection_classes"] = tf.cast(out["detection_classes"], tf.int32)
        out["image_info"] = tf.ones([tf.shape(inputs)[0], 4, 2])
        return out

    module.serve = serve
    tf.saved_model.save(module, str(tmp_path / "mg"), signatures={"serving_default": serve})
    (tmp_path / "label_map.pbtxt").write_text(LABEL_MAP_TEXT)
    detector = load_detector(tmp_path / "mg", DetectorConfig(score=0.0))
    for image, found in zip(IMAGES, detector.detect(IMAGES), strict=True):
        _assert_matches(found, expected_detections(image), 1e-3, 1e-5)



@pytest.mark.parametrize("make", ["frozen_graph", "tflite"])
def test_models_fixed_at_batch_1_take_batches(tmp_path, make):
    from tests.fixtures.models import make_frozen_graph, make_tflite

    path = (make_frozen_graph(tmp_path, batch1=True) if make == "frozen_graph"
            else make_tflite(tmp_path, layout="lookout", batch1=True))
    detector = load_detector(path, DetectorConfig(score=0.0))
    assert detector._fixed_batch
    batch = [IMAGES[0], IMAGES[2], IMAGES[4], IMAGES[3]]
    for image, found in zip(batch, detector.detect(batch), strict=True):
        _assert_matches(found, expected_detections(image), 1e-3, 1e-5)


def test_saved_model_fixed_at_one_size_gets_resized_images(tmp_path):
    """Some exports fix the input size too: images are resized, boxes map back."""
    import tensorflow as tf

    from tests.fixtures.models import LABEL_MAP_TEXT, color_blobs

    module = tf.Module()
    spec = tf.TensorSpec([1, 96, 96, 3], tf.uint8, name="input_tensor")
    module.serve = tf.function(color_blobs, input_signature=[spec])
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures={"serving_default": module.serve})
    (tmp_path / "label_map.pbtxt").write_text(LABEL_MAP_TEXT)
    detector = load_detector(tmp_path / "sm", DetectorConfig(score=0.0))
    image = make_blob_image(192, 288, red=(30, 60, 120, 150))  # 2x / 3x the input: exact
    (found,) = detector.detect([image])
    _assert_matches(found, expected_detections(image), 1e-3, 1e-5)


@pytest.mark.parametrize("layout", ["od_api_tf1", "od_api_scores_first", "od_api_uint8"])
def test_od_api_tflite_variants(tmp_path, layout):
    """TF1 exports (no signature, TFLite_Detection_PostProcess:N names, outputs listed out
    of order), TF2 exports that put scores first, quantized models' uint8 input."""
    from tests.fixtures.models import make_tflite

    detector = load_detector(make_tflite(tmp_path, layout=layout), DetectorConfig(score=0.0))
    assert detector.layout == "od_api"
    for image, found in zip(IMAGES, detector.detect(IMAGES), strict=True):
        exact = image.shape[:2] == (96, 96)
        _assert_matches(found, expected_detections(image), 1e-3 if exact else 4.0,
                        1e-5 if exact else 0.06)


def test_tflite_runs_a_pool_of_interpreters_side_by_side(tflite_lookout):
    """Several threads may call one .tflite detector at once; answers stay exact."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    assert load_detector(tflite_lookout, DetectorConfig()).workers == os.cpu_count()
    detector = load_detector(tflite_lookout, DetectorConfig(score=0.0, workers=3, threads=1))
    assert detector.workers == 3 and len(detector._all) == 3
    assert detector.describe().endswith("(LiteRT/XNNPACK, 3 workers)")
    jobs = [[image] for image in IMAGES] * 4
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(detector.detect, jobs))
    for (image,), (found,) in zip(jobs, results, strict=True):
        exact = image.shape[:2] == (96, 96)
        _assert_matches(found, expected_detections(image), 1e-3 if exact else 1.0, 1e-5)


def test_auto_bundle_format_runs_tflite_on_a_cpu_when_the_bundle_has_one(color_bundle, tmp_path):
    import shutil

    from realtime.detectors.saved_model import SavedModelDetector
    from realtime.detectors.tflite import TFLiteDetector

    assert DetectorConfig().bundle_format == "auto"
    for device in ("auto", "cpu"):  # this machine has no GPU
        assert isinstance(load_detector(color_bundle, DetectorConfig(device=device)),
                          TFLiteDetector)
    without = shutil.copytree(color_bundle, tmp_path / "bundle")
    (without / "model.tflite").unlink()
    detector = load_detector(without, DetectorConfig(score=0.0))
    assert isinstance(detector, SavedModelDetector)
    _assert_matches(detector.detect([IMAGES[0]])[0], expected_detections(IMAGES[0]), 1e-3, 1e-5)


def test_tensorflow_backends_take_workers_from_the_config(color_bundle):
    tf_model = DetectorConfig(bundle_format="saved_model")
    assert load_detector(color_bundle, tf_model).workers == 1
    assert load_detector(color_bundle, DetectorConfig(bundle_format="frozen_graph",
                                                      workers=2)).workers == 2
    with pytest.raises(UserError, match="detector.workers: must be at least 0, got -1"):
        load_detector(color_bundle, DetectorConfig(bundle_format="saved_model", workers=-1))
