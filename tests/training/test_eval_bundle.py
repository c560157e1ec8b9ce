"""`lookout eval models/NAME`: each format of an exported bundle scored on the test
records by the runtime that deploys it, side by side in model.json."""

from __future__ import annotations

import json

import pytest

from lookout.cli import main as lookout
from realtime.labelmap import read_label_map
from tests.training.runs import shared_bundle, shared_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return shared_bundle(tmp_path_factory.getbasetemp())


def test_every_format_side_by_side(bundle, capsys) -> None:
    assert lookout(["eval", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "saved_model" in out and "frozen_graph" in out and "tflite" in out
    meta = json.loads((bundle / "model.json").read_text())
    rows = meta["eval"]["formats"]
    assert list(rows) == ["saved_model", "frozen_graph", "tflite"]
    assert meta["eval"]["images"] == 2
    for row in rows.values():
        assert set(row) == {"coco", "voc_ap50", "voc_map50"}
        assert set(row["voc_ap50"]) <= set(read_label_map(bundle / "label_map.pbtxt").values())
    # SavedModel and frozen graph are the same computation; the checkpoint's own eval
    # (metrics.json of the run) scored the same serving function
    assert rows["frozen_graph"]["coco"]["AP"] == pytest.approx(rows["saved_model"]["coco"]["AP"],
                                                               abs=1e-3)
    run_metrics = json.loads((shared_run(bundle.parents[1]) / "metrics.json").read_text())
    assert rows["saved_model"]["coco"]["AP50"] == pytest.approx(run_metrics["coco"]["AP50"],
                                                                abs=0.02)

    # one format again: its row is replaced, the others kept (a new format adds a row)
    assert lookout(["eval", str(bundle), "--formats", "tflite"]) == 0
    again = json.loads((bundle / "model.json").read_text())["eval"]["formats"]
    assert list(again) == ["saved_model", "frozen_graph", "tflite"]


def test_missing_format_is_one_line(bundle, capsys) -> None:
    assert lookout(["eval", str(bundle), "--formats", "onnx"]) == 1
    err = capsys.readouterr().err
    assert "has no onnx" in err and "Traceback" not in err
