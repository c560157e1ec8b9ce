"""A model made to return more than 100 boxes an image (`training.fit.max_detections_for`)
returns them from its .tflite file too: the converter drops the NMS op's
``detections_per_class``, which LiteRT then takes as 100 (issue 23, the dense mosaics)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.training.runs import shared_run

pytestmark = pytest.mark.slow


def _nms_options(path: Path) -> dict:
    from flatbuffers import flexbuffers
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(path.read_bytes()))
    ops = [op for g in model.subgraphs for op in g.operators
           if model.operatorCodes[op.opcodeIndex].customCode == b"TFLite_Detection_PostProcess"]
    assert len(ops) == 1
    return flexbuffers.Loads(bytes(ops[0].customOptions))


def test_a_250_box_model_returns_250_boxes_from_model_tflite(tmp_path_factory, tmp_path):
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from training.tflite import write_tflite

    run = tmp_path / "dense-run"  # the shared run, as if trained on images of 160 objects
    shutil.copytree(shared_run(tmp_path_factory.getbasetemp()), run)
    params = run / "params.yaml"
    text = params.read_text()
    assert "max_num_detections: 100" in text
    params.write_text(text.replace("max_num_detections: 100", "max_num_detections: 250"))
    path = tmp_path / "model.tflite"
    write_tflite(run, tf.train.latest_checkpoint(str(run)), path)

    options = _nms_options(path)
    assert (options["max_detections"], options["detections_per_class"]) == (250, 250)
    runner = Interpreter(str(path)).get_signature_runner("serving_default")
    noise = np.random.default_rng(0).integers(0, 256, (1, 128, 128, 3), np.uint8)
    out = runner(images=noise)
    # an untrained head scores every anchor above the op's threshold of ~0: per class,
    # NMS keeps far more than 100 boxes of the 3,000 anchors, so the cap shows
    assert out["detection_scores"].shape == (1, 250)
    assert int(out["num_detections"][0]) > 100
