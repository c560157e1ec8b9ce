"""run.json has one owner, `training.run_record.RunRecord`: a run of the previous release
loads and is written back unchanged; a bad or missing field is one line naming the file."""

from __future__ import annotations

import dataclasses
import json

import pytest

from core.errors import UserError
from training.config import TrainConfig
from training.run_record import RunRecord

TRAIN = dataclasses.asdict(TrainConfig(steps=4, batch=2, input_size=128))
# run.json as `lookout train` of the previous release wrote it once finished
PREVIOUS = {
    "lookout_run": 1, "model": "retinanet_mobilenet_fpn", "input_size": 128, "num_classes": 2,
    "classes": {"1": "date", "2": "fig"}, "dataset": "/data/fruit", "train_images": 12,
    "train": TRAIN, "init": None,
    "data_fit": {"input_size": 128, "anchors": {"min_level": 3, "max_level": 7}, "zoom": False,
                 "data": None},
    "status": "done", "resumed_from": None, "replicas": 1, "step": 4, "images_per_sec": 3.2,
    "loss": 1.5, "train_seconds": 12.0,
}


def write(folder, data) -> None:
    (folder / "run.json").write_text(json.dumps(data, indent=2) + "\n")


def test_previous_release_round_trips_byte_for_byte(tmp_path):
    write(tmp_path, PREVIOUS)
    before = (tmp_path / "run.json").read_text()
    run = RunRecord.read(tmp_path)
    assert run.classes == {1: "date", 2: "fig"} and run.step == 4 and run.status == "done"
    assert run.train_config(steps=9) == dataclasses.replace(TrainConfig(**TRAIN), steps=9)
    run.write(tmp_path)
    assert (tmp_path / "run.json").read_text() == before


def test_a_run_still_training_and_newer_keys(tmp_path):
    first = {k: PREVIOUS[k] for k in list(PREVIOUS)[:11]}  # what train writes before step 1
    write(tmp_path, {**first, "status": "training", "added_later": {"x": 1},
                     "loss": "1.25"})  # a numpy float written as a string once
    run = RunRecord.read(tmp_path)
    assert run.step is None and run.loss == 1.25 and run.extra == {"added_later": {"x": 1}}
    run.replace(status="done", step=4, stopped_by="steps").write(tmp_path)
    again = json.loads((tmp_path / "run.json").read_text())
    assert again["added_later"] == {"x": 1} and again["status"] == "done"
    assert again["stopped_by"] == "steps" and "budget" not in again  # None, not in the file


@pytest.mark.parametrize(("change", "message"), [
    ({"model": 3}, "'model' must be a string"),
    ({"input_size": "auto"}, "'input_size' must be an integer"),
    ({"train": None}, "'train' must be an object"),
    ({"status": "running"}, "'status' must be training | interrupted | done"),
    ({"step": 2.5}, "'step' must be an integer"),
    ({"loss": "nan-ish"}, "'loss' must be a number"),
    ({"classes": {"x": "date"}}, "'classes' keys must be label ids"),
])
def test_a_bad_field_is_one_line_naming_the_file(tmp_path, change, message):
    write(tmp_path, {**PREVIOUS, **change})
    with pytest.raises(UserError, match=message) as err:
        RunRecord.read(tmp_path)
    assert str(err.value).startswith(str(tmp_path / "run.json")) and "\n" not in str(err.value)


def test_missing_field_file_or_setting(tmp_path):
    with pytest.raises(UserError, match="not a training run"):
        RunRecord.read(tmp_path)
    write(tmp_path, {k: v for k, v in PREVIOUS.items() if k != "dataset"})
    with pytest.raises(UserError, match="run.json: missing 'dataset'"):
        RunRecord.read(tmp_path)
    write(tmp_path, {**PREVIOUS, "train": {**TRAIN, "warp": 9}})
    with pytest.raises(UserError, match="run.json: 'train': .*warp"):
        RunRecord.read(tmp_path).train_config()
