"""`train()`: a real tiny Model Garden run, its folder, and one-line errors for bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import tensorflow as tf

from core.errors import UserError
from tests.training.runs import fruit_dataset, shared_run, tiny_cfg
from training.train import train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    return shared_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    return fruit_dataset(tmp_path_factory.getbasetemp())


def test_run_folder_holds_rerunnable_model_garden_config(run_dir: Path) -> None:
    from training.model import load_params

    params = load_params(run_dir)
    assert params.task.model.num_classes == 4  # background + date, fig, hazelnut
    assert params.task.model.input_size == [128, 128, 3]
    assert params.task.model.backbone.type == "mobilenet"
    assert params.task.model.decoder.type == "fpn"
    assert params.trainer.train_steps == 4
    assert params.task.train_data.parser.aug_rand_hflip is True
    assert params.task.train_data.parser.aug_scale_min == pytest.approx(0.8)
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "done" and run["step"] == 4
    assert run["classes"] == {"1": "date", "2": "fig", "3": "hazelnut"}


def test_checkpoints_every_interval_and_summaries(run_dir: Path) -> None:
    steps = sorted(int(p.stem.split("-")[1]) for p in run_dir.glob("ckpt-*.index"))
    assert steps == [2, 4]
    tags = set()
    for event_file in (run_dir / "train").glob("events.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags.update(v.tag for v in event.summary.value)
    assert {"total_loss", "learning_rate"} <= tags
    tags = set()
    for event_file in (run_dir / "validation").glob("events.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags.update(v.tag for v in event.summary.value)
    assert "coco/AP" in tags and any(t.startswith("predictions/") for t in tags)


def test_refuses_to_overwrite_a_run_without_resume(run_dir: Path, dataset: Path) -> None:
    with pytest.raises(UserError, match="already holds checkpoints.*--resume"):
        train(dataset, run_dir, tiny_cfg())


@pytest.mark.parametrize("change, message", [
    ({"model": "yolo"}, "train.model: must be one of retinanet-mobilenetv2-fpn .*got 'yolo'"),
    ({"input_size": 160}, "train.input_size: .*multiple of 64, got 160"),
    ({"model": "retinanet-spinenet-mobile", "input_size": 192}, "train.input_size: .*multiple of 128, got 192"),
    ({"batch": 0}, "train.batch: must be at least 1, got 0"),
    ({"strategy": "tpu-pod"}, "train.strategy: must be one of one_device"),
])
def test_bad_settings(tmp_path: Path, dataset: Path, change: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        train(dataset, tmp_path / "run", tiny_cfg(**change))


def _copy_dataset(dataset: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ds"
    shutil.copytree(dataset, copy)
    return copy


def test_missing_dataset_json(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="dataset.json: not found"):
        train(tmp_path, tmp_path / "run", tiny_cfg())


def test_missing_record_file(tmp_path: Path, dataset: Path) -> None:
    ds = _copy_dataset(dataset, tmp_path)
    (ds / "train.record").unlink()
    with pytest.raises(UserError, match=r"train.record: record file listed in dataset.json is missing"):
        train(ds, tmp_path / "run", tiny_cfg())
    assert not (tmp_path / "run").exists()


def test_empty_record_file(tmp_path: Path, dataset: Path) -> None:
    ds = _copy_dataset(dataset, tmp_path)
    (ds / "train.record").write_bytes(b"")
    with pytest.raises(UserError, match=r"train.record: record file holds no examples"):
        train(ds, tmp_path / "run", tiny_cfg())


def test_corrupt_record_file(tmp_path: Path, dataset: Path) -> None:
    ds = _copy_dataset(dataset, tmp_path)
    (ds / "train.record").write_bytes(b"this is not a tfrecord at all, just some bytes")
    with pytest.raises(UserError, match=r"train.record: not a readable TFRecord"):
        train(ds, tmp_path / "run", tiny_cfg())


def test_label_map_that_does_not_match_the_records(tmp_path: Path, dataset: Path) -> None:
    ds = _copy_dataset(dataset, tmp_path)
    (ds / "label_map.pbtxt").write_text("item { id: 1 name: 'date' }\nitem { id: 2 name: 'fig' }\n")
    with pytest.raises(UserError, match=r"label ids \[3\] are not in .*label_map.pbtxt"):
        train(ds, tmp_path / "run", tiny_cfg())
    (ds / "label_map.pbtxt").write_text(
        "item { id: 1 name: 'fig' }\nitem { id: 2 name: 'date' }\nitem { id: 3 name: 'hazelnut' }\n")
    with pytest.raises(UserError, match=r"label id 1 is 'date' in the records but 'fig'"):
        train(ds, tmp_path / "run", tiny_cfg())
