"""Pretrained weights by name: the catalogue, mirrors, and `--init coco|imagenet` restoring
every variable it should, bit for bit, from checkpoints in Model Garden's published
layouts served from 127.0.0.1 (see tests/fixtures/checkpoints.py)."""

from __future__ import annotations

import tarfile

import numpy as np
import pytest
import tensorflow as tf

from core.errors import UserError
from tests.fixtures.checkpoints import detector_model, serve, write_published
from tests.training.runs import tiny_cfg
from training import catalogue
from training.catalogue import BACKBONE, CATALOGUE, FULL, lookup, weights_url
from training.experiment import build_experiment
from training.init import prepare_init
from training.presets import PRESETS
from training.restore import class_dependent, initializer

SIZE = {"retinanet-mobilenetv2-fpn": 64}  # others: 128 (levels up to 7)


def test_every_preset_with_a_checkpoint_resolves_coco() -> None:
    assert lookup("coco", "retinanet-mobilenetv2-fpn").name == "retinanet-mobilenetv2-fpn-i320-coco"
    assert lookup("coco", "retinanet-mobilenetv2-fpn-l7").member.endswith("ckpt-277200")
    for preset in PRESETS:
        weights = lookup("coco", preset)
        assert weights.contents == FULL and preset in weights.presets
    assert lookup("imagenet", "retinanet-resnet50-fpn").contents == BACKBONE
    assert lookup("runs/x", "retinanet-resnet50-fpn") is None  # a path, not a name
    with pytest.raises(UserError, match="no imagenet checkpoint for retinanet-spinenet-mobile"):
        lookup("imagenet", "retinanet-spinenet-mobile")
    with pytest.raises(UserError, match="made for retinanet-resnet50-fpn.*--model"):
        lookup("retinanet-resnet50-fpn-coco", "retinanet-mobilenetv2-fpn")


def test_mirrors(tmp_path, monkeypatch) -> None:
    weights = catalogue.BY_NAME["retinanet-resnet50-fpn-coco"]
    monkeypatch.delenv(catalogue.MIRROR_ENV, raising=False)
    assert weights_url(weights) == ("https://storage.googleapis.com/tf_model_garden/vision/"
                                    "retinanet/retinanet-resnet50fpn.tar.gz")
    monkeypatch.setenv(catalogue.MIRROR_ENV, "http://proxy.local/mg/")
    assert weights_url(weights) == "http://proxy.local/mg/vision/retinanet/retinanet-resnet50fpn.tar.gz"
    assert weights_url(weights, "https://other/").startswith("https://other/vision/")
    with pytest.raises(UserError, match="not in the weights mirror"):
        weights_url(weights, str(tmp_path))
    (tmp_path / weights.path).parent.mkdir(parents=True)
    (tmp_path / weights.path).write_bytes(b"x")
    assert weights_url(weights, str(tmp_path)) == str(tmp_path / weights.path)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Every catalogue entry written in its published layout, served over HTTP."""
    root = tmp_path_factory.mktemp("tf_model_garden")
    models = {w.name: write_published(w, root, SIZE.get(w.presets[0], 128)) for w in CATALOGUE}
    with serve(root) as url:
        yield root, url, models


def test_archives_have_the_published_layout(published) -> None:
    root, _, _ = published
    with tarfile.open(root / "vision/qat/mobilenetv2_ssd_coco/mobilenetv2_ssd_i256_ckpt.tar.gz") as t:
        names = t.getnames()
    assert "mobilenetv2_ssd_i256_ckpt/ckpt-277200.index" in names
    with tarfile.open(root / "vision/retinanet/retinanet-resnet50fpn.tar.gz") as t:
        assert "ckpt-33264.index" in t.getnames()
    assert (root / "vision/mobilenet/v2_1.0_float/ckpt-180648.index").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("weights", CATALOGUE, ids=lambda w: w.name)
def test_init_restores_every_variable_bit_for_bit(weights, published, tmp_path,
                                                  monkeypatch) -> None:
    _, url, models = published
    monkeypatch.setenv(catalogue.MIRROR_ENV, url)
    preset = weights.presets[0]
    size = SIZE.get(preset, 128)
    params = build_experiment(tiny_cfg(model=preset, input_size=size), 3, ["x"], ["x"])
    info = prepare_init(weights.dataset if weights is lookup(weights.dataset, preset)
                        else weights.name, params, tmp_path, model_name=preset)
    assert info["weights"] == weights.name and info["url"].startswith(url)
    source = models[weights.name]
    model = detector_model(preset, 3, size)  # 3 classes, the checkpoint has 91
    before = {id(v): v.numpy() for v in model.weights}
    initializer(info["checkpoint"], info["modules"], size)(model)

    if weights.contents == BACKBONE:
        assert info["modules"] == ["backbone"]
        pairs = list(zip(source.backbone.weights, model.backbone.weights, strict=True))
        fresh = [v for v in model.weights if not any(v is m for _, m in pairs)]
    else:
        expected = ["backbone", "decoder", "head"] if model.decoder is not None else [
            "backbone", "head"]
        assert info["modules"] == expected
        skip = {id(v) for v in class_dependent(source)}
        fresh = class_dependent(model)
        pairs = []
        for module in expected:
            src = [v for v in getattr(source, module).weights if id(v) not in skip]
            dst = [v for v in getattr(model, module).weights
                   if all(v is not f for f in fresh)]
            pairs += list(zip(src, dst, strict=True))
        # the class-dependent weights are sized for 3 classes, not the checkpoint's 91
        assert [v.shape[-1] for v in fresh] == [v.shape[-1] * 3 // 91 for v in class_dependent(source)]
        assert info["counts"]["head"]["fresh"] == len(fresh) == 2
    assert len(pairs) > 50
    for src, dst in pairs:
        np.testing.assert_array_equal(src.numpy(), dst.numpy(), err_msg=dst.name)
    for v in fresh:  # untouched: still what the model was built with
        np.testing.assert_array_equal(v.numpy(), before[id(v)], err_msg=v.name)
    assert sum(c["restored"] for c in info["counts"].values()) == len(pairs)
    assert tf.train.load_checkpoint(info["checkpoint"]) is not None
