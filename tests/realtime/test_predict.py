"""`lookout predict`: annotated images + detections.json, batches by size, bad images named
while the others carry on."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from core.errors import UserError
from lookout.cli import main
from realtime.config import DetectorConfig, PipelineConfig
from realtime.detectors import load_detector
from realtime.predict import predict_images
from realtime.settings import RunSettings
from tests.fixtures.models import expected_detections, make_blob_image


def _save(path, rgb):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


@pytest.fixture
def images(tmp_path):
    """Three 96x96 PNGs in a folder, a 120x160 PNG and a JPEG elsewhere, a corrupt JPEG."""
    folder = tmp_path / "in"
    pictures = {
        folder / "a.png": make_blob_image(96, 96, red=(10, 20, 40, 50), blue=(50, 50, 90, 80),
                                          disc=True),
        folder / "b.png": make_blob_image(96, 96),
        folder / "c.png": make_blob_image(96, 96, blue=(0, 0, 30, 30)),
        tmp_path / "more" / "d.png": make_blob_image(120, 160, red=(100, 10, 150, 100)),
        tmp_path / "more" / "e.jpg": make_blob_image(120, 160, blue=(20, 20, 80, 80)),
    }
    for path, rgb in pictures.items():
        _save(path, rgb)
    (tmp_path / "more" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return tmp_path, pictures


def test_cli_writes_annotated_images_and_json(color_bundle, images, capsys):
    root, pictures = images
    out = root / "out"
    code = main(["predict", str(color_bundle), str(root / "in"), str(root / "more" / "*"),
                 str(root / "missing.png"), "--out", str(out), "--score", "0"])
    assert code == 1  # broken.jpg and missing.png failed; the rest was done
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "cannot decode" in err and "missing.png" in err

    report = json.loads((out / "detections.json").read_text())
    assert report["model"] == str(color_bundle)
    assert [r["file"] for r in report["images"]] == [str(p) for p in pictures]
    for record, (path, rgb) in zip(report["images"], pictures.items(),
                                   strict=True):
        assert (record["width"], record["height"]) == (rgb.shape[1], rgb.shape[0])
        expected = expected_detections(rgb)
        got = record["detections"]
        assert [d["label"] for d in got] == [e["label"] for e in expected]
        if path.suffix == ".png":  # lossless: the exact answer
            for d, e in zip(got, expected, strict=True):
                assert d["box"] == pytest.approx(e["box"], abs=0.05)
                assert d["score"] == pytest.approx(e["score"], abs=1e-4)
                assert d["class_id"] == e["class_id"]
        drawn = cv2.imread(str(out / record["output"]))
        assert drawn.shape == rgb.shape
        assert (cv2.cvtColor(drawn, cv2.COLOR_BGR2RGB) != rgb).any() == bool(expected)
    assert sorted(f["file"].rsplit("/", 1)[-1] for f in report["failed"]) == [
        "broken.jpg", "missing.png"]
    assert (out / "e.jpg").is_file()  # format kept
    assert not list(out.glob(".*"))  # no temporary files left


def test_batches_same_size_images(color_bundle, images, tmp_path):
    _, pictures = images
    detector = load_detector(color_bundle, DetectorConfig(score=0.0))
    calls = []
    original = detector.detect
    detector.detect = lambda batch: calls.append([im.shape[:2] for im in batch]) or original(batch)
    report = predict_images(detector, [str(p) for p in pictures], tmp_path / "o",
                            RunSettings(pipeline=PipelineConfig(batch=2)))
    assert calls == [[(96, 96)] * 2, [(120, 160)] * 2, [(96, 96)]]  # full groups first
    assert len(report.records) == 5 and not report.failed


def test_filters_and_no_draw(frozen_graph, images):
    root, _ = images
    out = root / "out"
    code = main(["predict", str(frozen_graph), str(root / "in"), "--out", str(out),
                 "--classes", "blue", "--score", "0.95", "--no-draw"])
    assert code == 0
    report = json.loads((out / "detections.json").read_text())
    # a.png's blue disc scores 0.89 (< 0.95), its red is filtered out; c.png's blue square stays.
    assert [[d["label"] for d in r["detections"]] for r in report["images"]] == [[], [], ["blue"]]
    assert sorted(p.name for p in out.iterdir()) == ["detections.json"]


def test_same_names_get_unique_outputs(color_bundle, tmp_path):
    for sub in ("x", "y"):
        _save(tmp_path / sub / "img.png", make_blob_image(64, 64, red=(0, 0, 20, 20)))
    detector = load_detector(color_bundle)
    report = predict_images(detector, [str(tmp_path / "x"), str(tmp_path / "y")], tmp_path / "o")
    assert [r["output"] for r in report.records] == ["img.png", "img_2.png"]
    assert (tmp_path / "o" / "img_2.png").is_file()


def test_nothing_to_run_on(color_bundle, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images to run on.*empty.*no images"):
        predict_images(load_detector(color_bundle), [str(tmp_path / "empty")], tmp_path / "o")
    code = main(["predict", str(color_bundle), str(tmp_path / "nope.png"), "--out",
                 str(tmp_path / "o")])
    assert code == 1
    assert "nope.png: no such file or folder" in capsys.readouterr().err


def test_cli_bad_model_is_one_line(tmp_path, capsys):
    shutil.copy(__file__, tmp_path / "model.tflite")
    _save(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    code = main(["predict", str(tmp_path / "model.tflite"), str(tmp_path / "a.png"),
                 "--out", str(tmp_path / "o"), "--labels", str(tmp_path / "a.png")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and err.count("\n") == 1
