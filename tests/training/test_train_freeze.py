"""`lookout train --init coco --freeze ...` end to end: the catalogue checkpoint comes from
a mirror on 127.0.0.1, the command says what it restored module by module, and frozen
modules leave training bit for bit as restored while the others learn."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from core.errors import UserError
from lookout.cli import main as lookout
from tests.fixtures.checkpoints import serve, write_published
from tests.training.runs import fruit_dataset, tiny_cfg
from training import catalogue
from training.freeze import parse_freeze
from training.train import train

pytestmark = pytest.mark.slow
WEIGHTS = catalogue.BY_NAME["retinanet-mobilenetv2-fpn-i320-coco"]


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    root = tmp_path_factory.mktemp("mirror")
    write_published(WEIGHTS, root, 64)
    with serve(root) as url:
        yield url


def _tensors(prefix: str, start: str) -> dict:
    reader = tf.train.load_checkpoint(prefix)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if k.startswith(start) and "OPTIMIZER_SLOT" not in k and k.endswith("VARIABLE_VALUE")}


def _published(tmp_path, url: str) -> str:
    from training.init import resolve_checkpoint

    return resolve_checkpoint(catalogue.weights_url(WEIGHTS, url), tmp_path / "c")


def test_parse_freeze() -> None:
    assert parse_freeze("") == [] and parse_freeze("decoder, backbone") == ["backbone", "decoder"]
    with pytest.raises(UserError, match="--freeze head: can freeze backbone and decoder"):
        parse_freeze("head")


def test_init_coco_with_frozen_backbone(tmp_path, mirror, capsys) -> None:
    data = fruit_dataset(tmp_path.parent.parent)
    run = tmp_path / "run"
    assert lookout(["train", str(data), "--out", str(run), "--init", "coco", "--weights-url",
                    mirror, "--freeze", "backbone", "--steps", "2", "--batch", "2",
                    "--input-size", "64", "--checkpoint-every", "2", "--lr", "0.05",
                    # Model Garden's anchors keep the whole head (the anchor weighing
                    # under --init coco has its own tests): this test is about freezing.
                    "--anchors", "default", "--no-eval"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"init from {WEIGHTS.name} ({mirror}/{WEIGHTS.path})" in out
    assert "backbone restored (" in out and "decoder restored (" in out
    assert "head restored" in out and "2 fresh (the classifier's class-dependent weights)" in out

    published = _published(tmp_path, mirror)
    trained = tf.train.latest_checkpoint(str(run))
    src, dst = _tensors(published, "backbone/"), _tensors(trained, "backbone/")
    assert len(src) > 200 and src.keys() == dst.keys()
    for key in src:  # frozen: weights and batch-norm statistics exactly as restored
        np.testing.assert_array_equal(src[key], dst[key], err_msg=key)
    src, dst = _tensors(published, "decoder/"), _tensors(trained, "decoder/")
    changed = [k for k in src if not np.array_equal(src[k], dst[k])]
    assert len(changed) > len(src) // 2  # not frozen: it trained


def test_freeze_backbone_and_decoder(tmp_path, mirror) -> None:
    data = fruit_dataset(tmp_path.parent.parent)
    run = tmp_path / "run"
    train(data, run, tiny_cfg(input_size=64, steps=1, checkpoint_every=1, lr=0.05, init="coco",
                              weights_url=mirror, freeze="backbone,decoder"),
          evaluate_at_end=False, cache_dir=tmp_path / "c")
    published = _published(tmp_path, mirror)
    trained = tf.train.latest_checkpoint(str(run))
    for module in ("backbone/", "decoder/"):
        src, dst = _tensors(published, module), _tensors(trained, module)
        assert src and src.keys() == dst.keys()
        for key in src:
            np.testing.assert_array_equal(src[key], dst[key], err_msg=key)
    src, dst = _tensors(published, "head/_box_convs"), _tensors(trained, "head/_box_convs")
    assert src and any(not np.array_equal(src[k], dst[k]) for k in src)
