"""`evaluate()`: COCO metrics via pycocotools, VOC AP50 per class, PR curves, string ids."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.errors import UserError
from tests.training.runs import shared_run
from training.evaluate import COCO_NAMES, _coco_metrics, _voc_ap50, evaluate

NAMES = {1: "cat", 2: "dog"}


def _truth():
    boxes = np.array([[10, 10, 50, 60], [20, 70, 80, 120]], np.float32)  # y0 x0 y1 x1 px
    return [(boxes, np.array([1, 2])), (boxes[:1] + 5, np.array([1]))]


def test_perfect_detections_score_one() -> None:
    truth = _truth()
    found = [(b, np.full(len(c), 0.9, np.float32), c) for b, c in truth]
    coco = _coco_metrics(truth, found, NAMES)
    assert coco["AP"] == pytest.approx(1.0) and coco["AP50"] == pytest.approx(1.0)
    aps, curves = _voc_ap50(truth, found, NAMES)
    assert aps == {1: pytest.approx(1.0), 2: pytest.approx(1.0)}
    assert set(curves) == {1, 2}


def test_an_image_of_more_than_100_objects_counts_them_all() -> None:
    """COCO counts an image's best 100 boxes; 150 found of 150 objects must score 1, not
    the two thirds pycocotools' default leaves (issue 23: dense mosaics were cut there)."""
    y, x = np.divmod(np.arange(150), 15)
    boxes = np.stack([y * 20, x * 20, y * 20 + 16, x * 20 + 16], 1).astype(np.float32)
    truth = [(boxes, np.ones(150, int))]
    found = [(boxes, np.linspace(0.9, 0.5, 150).astype(np.float32), np.ones(150, int))]
    coco = _coco_metrics(truth, found, NAMES)
    assert coco["AP"] == pytest.approx(1.0) and coco["AP50"] == pytest.approx(1.0)
    half = [(boxes[:100], found[0][1][:100], np.ones(100, int))]
    assert _coco_metrics(truth, half, NAMES)["AP50"] < 0.7


def test_misses_and_false_positives_lower_voc_ap() -> None:
    truth = _truth()
    # cat: one of two found, plus a confident false positive ranked first
    found = [(np.array([[200, 200, 220, 220], [10, 10, 50, 60]], np.float32),
              np.array([0.95, 0.9], np.float32), np.array([1, 1])),
             (np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, int))]
    aps, _ = _voc_ap50(truth, found, NAMES)
    assert aps[1] == pytest.approx(0.25)  # recall 0.5 reached at precision 0.5
    assert aps[2] == 0.0
    coco = _coco_metrics(truth, found, NAMES)
    assert 0.0 < coco["AP50"] < 0.5


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return shared_run(tmp_path_factory.getbasetemp())


@pytest.mark.slow
def test_run_metrics_file_and_plot(run_dir: Path) -> None:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert list(metrics["coco"]) == COCO_NAMES
    assert all(0.0 <= v <= 1.0 for v in metrics["coco"].values())
    assert set(metrics["voc_ap50"]) == {"date", "fig", "hazelnut"}
    assert metrics["images"] == 2 and metrics["checkpoint"] == "ckpt-4"
    assert (run_dir / "pr_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_tutorial_record_with_string_source_ids(tmp_path: Path, run_dir: Path,
                                                raccoon: Path) -> None:
    record = raccoon / "data" / "test.record"
    with pytest.raises(UserError, match="label id 1 is 'raccoon' in the records but 'date'"):
        evaluate(run_dir, record)
    # the same model read with the tutorial's label map: class 1 is 'raccoon'
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    shutil.copy(raccoon / "data" / "label_map.pbtxt", run / "label_map.pbtxt")
    metrics = evaluate(run, record, sample_images=0)
    assert metrics["images"] == 40
    assert list(metrics["voc_ap50"]) == ["raccoon"]
    assert json.loads((run / "metrics.json").read_text())["data"] == [str(record)]


def test_missing_records(tmp_path: Path, run_dir: Path) -> None:
    with pytest.raises(UserError, match="nothing.record: record file not found"):
        evaluate(run_dir, tmp_path / "nothing.record")


def test_ap_per_size_bucket_counts_ground_truth() -> None:
    from training.evaluate import coco_eval

    small = np.array([[0, 0, 10, 10], [50, 50, 70, 70]], np.float32)  # 100 and 400 px²
    large = np.array([[100, 100, 300, 300]], np.float32)  # 40000 px²
    truth = [(np.concatenate([small, large]), np.array([1, 1, 2]))]
    # the small ones found exactly, the large one missed
    found = [(small, np.array([0.9, 0.8], np.float32), np.array([1, 1]))]
    coco, sizes = coco_eval(truth, found, NAMES)
    assert sizes["small"] == {"objects": 2, "AP": pytest.approx(1.0), "AP50": pytest.approx(1.0)}
    assert sizes["medium"] == {"objects": 0, "AP": None, "AP50": None}
    assert sizes["large"]["objects"] == 1 and sizes["large"]["AP"] == 0.0
    assert coco["AP_small"] == pytest.approx(sizes["small"]["AP"])
