"""What training reads off the data reaches params.yaml, run.json and the bundle's
model.json; `--anchors default` keeps Model Garden's; `dataset check` tells the outlook."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from core.errors import UserError
from tests.training.runs import fruit_dataset, lookout
from training.config import TrainConfig
from training.data import load_dataset
from training.experiment import build_experiment
from training.fit import DataFit, fit_to_data

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return fruit_dataset(tmp_path_factory.getbasetemp())


def _experiment(cfg: TrainConfig, dataset: Path):
    data = load_dataset(dataset)
    records = [str(p) for p in data.splits["train"]]
    fit = fit_to_data(cfg, data.splits["train"])
    cfg = dataclasses.replace(cfg, input_size=fit.input_size)
    return fit, build_experiment(cfg, data.num_classes, records, records, fit=fit)


def test_auto_fits_anchors_and_default_keeps_model_gardens(dataset: Path) -> None:
    fit, params = _experiment(TrainConfig(), dataset)
    anchor = params.task.model.anchor
    assert fit.anchors.source == "fitted" and fit.anchors.recall >= 0.98
    assert anchor.anchor_size == fit.anchors.anchor_size != 4.0
    assert list(anchor.aspect_ratios) == fit.anchors.aspect_ratios
    assert params.task.model.input_size[0] == fit.input_size == 256
    # fruit-nuts has small objects at 256 px: the zoom-in crop is on
    assert fit.zoom and params.task.train_data.parser.aug_scale_max == 2.0
    fit, params = _experiment(TrainConfig(anchors="default", aug_zoom="off"), dataset)
    assert fit.anchors.source == "default"
    assert params.task.model.anchor.anchor_size == 4.0
    assert list(params.task.model.anchor.aspect_ratios) == [0.5, 1.0, 2.0]
    assert params.task.model.anchor.num_scales == 3
    assert params.task.train_data.parser.aug_scale_max == pytest.approx(1.2)


def test_the_model_returns_as_many_boxes_as_dense_images_need(dataset: Path) -> None:
    from training.autosize import BoxStats
    from training.fit import max_detections_for

    assert [max_detections_for(n) for n in (0, 40, 67, 70, 158)] == [100, 100, 100, 150, 250]
    fit, params = _experiment(TrainConfig(), dataset)  # fruit-nuts: a few objects an image
    assert fit.max_detections == 100
    assert params.task.model.detection_generator.max_num_detections == 100
    records = load_dataset(dataset).splits["train"]
    stats = BoxStats.from_records(records)
    assert 0 < stats.most_per_image < 67
    dense = dataclasses.replace(stats, most_per_image=158)
    fit = fit_to_data(TrainConfig(), records, dense)
    assert fit.max_detections == 250
    assert "up to 250 boxes an image (the densest training image has 158 objects)" in fit.lines
    assert DataFit.from_dict(fit.as_dict()).max_detections == 250  # a resumed run keeps it
    fit, params = _experiment(TrainConfig(max_detections=300), dataset)
    assert params.task.model.detection_generator.max_num_detections == 300


def test_match_iou_sets_where_an_anchor_learns_an_object(dataset: Path) -> None:
    parser = _experiment(TrainConfig(), dataset)[1].task.train_data.parser
    assert parser.match_threshold == parser.unmatched_threshold == 0.5  # Model Garden's
    parser = _experiment(TrainConfig(match_iou=0.4), dataset)[1].task.train_data.parser
    assert parser.match_threshold == parser.unmatched_threshold == pytest.approx(0.4)


@pytest.mark.parametrize(("changes", "message"), [
    ({"input_size": "big"}, "input_size: expected auto or a number of pixels, got 'big'"),
    ({"input_size": 100}, "input_size: retinanet-mobilenetv2-fpn needs a positive multiple"),
    ({"anchors": "kmeans"}, "anchors: must be one of auto | default"),
    ({"aug_zoom": "yes"}, "aug_zoom: must be one of auto | on | off"),
    ({"aug_zoom_max": 0.5}, "aug_zoom_max: must be at least 1"),
])
def test_bad_choices_are_one_line(changes, message) -> None:
    with pytest.raises(UserError, match=message):
        TrainConfig(**changes)


def test_train_prints_the_choice_and_the_bundle_carries_it(tmp_path: Path, dataset: Path) -> None:
    from training.export import export_bundle
    from training.model import load_params

    run = tmp_path / "run"
    proc = lookout("train", str(dataset), "--out", str(run), "--steps", "2", "--batch", "2",
                   "--checkpoint-every", "2", "--no-eval")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    assert "input 256: objects are large enough (10% of boxes are under" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("anchors (fitted): size"))
    assert "recall at IoU 0.5: 1.000" in line  # one line, even in a narrow terminal
    saved = json.loads((run / "run.json").read_text())["data_fit"]
    params = load_params(run)
    assert params.task.model.anchor.anchor_size == saved["anchors"]["anchor_size"]
    assert list(params.task.model.anchor.aspect_ratios) == saved["anchors"]["aspect_ratios"]
    assert params.task.model.anchor.num_scales == saved["anchors"]["num_scales"]

    bundle = export_bundle(run, tmp_path / "bundle", tflite=False)
    meta = json.loads((bundle / "model.json").read_text())
    assert meta["input_size"] == 256
    for key in ("anchor_size", "aspect_ratios", "num_scales", "min_level", "max_level", "recall"):
        assert meta["anchors"][key] == saved["anchors"][key], key
    assert meta["training_data"]["small_objects"] is saved["data"]["small_objects"]
    assert meta["max_detections"] == saved["max_detections"] == 100  # a few objects an image


def test_dataset_check_tells_how_many_objects_stay_small(fruit_nuts: Path) -> None:
    proc = lookout("dataset", "check", str(fruit_nuts))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert "training at input 256 (auto): 0 of 164 object(s) (0%) under 16 px" in \
        " ".join(out.split())
