"""A checkpoint whose anchors differ (anchors fitted to the data, a checkpoint path given
as --init): the head's conv towers still restore; only its anchor-sized outputs start fresh."""

from __future__ import annotations

import numpy as np
import pytest

from tests.fixtures.checkpoints import detector_model, randomize
from tests.training.runs import tiny_cfg

pytestmark = pytest.mark.slow
PRESET = "retinanet-mobilenetv2-fpn"
SIZE = 64


def fitted_model(num_classes: int):
    """The preset's RetinaNet with 2 scales x 3 ratios = 6 anchors per location (not 9)."""
    from official.core import task_factory

    from training.anchors import AnchorChoice
    from training.experiment import build_experiment
    from training.fit import DataFit
    from training.presets import PRESETS
    from training.restore import build

    low, high = PRESETS[PRESET].levels
    anchors = AnchorChoice(anchor_size=3.0, num_scales=2, min_level=low, max_level=high,
                           source="fitted")
    fit = DataFit(SIZE, anchors, False)
    params = build_experiment(tiny_cfg(model=PRESET, input_size=SIZE), num_classes, ["x"],
                              ["x"], fit=fit)
    model = task_factory.get_task(params.task).build_model()
    build(model, SIZE)
    return model


def test_head_towers_restore_when_the_anchors_differ(tmp_path):
    import tensorflow as tf

    from training.restore import TOWERS, anchor_dependent, initializer, plan

    source = detector_model(PRESET, 91, SIZE)  # Model Garden's 9 anchors, COCO's classes
    randomize(source, seed=3)
    prefix = tf.train.Checkpoint(model=source, **source.checkpoint_items).write(
        str(tmp_path / "ckpt-1"))

    model = fitted_model(3)
    modules, skipped, counts = plan(prefix, model, SIZE)
    assert TOWERS in modules and "head" not in modules
    assert "anchors differ" in skipped["head"]
    fresh = anchor_dependent(model)
    before = {id(v): v.numpy() for v in fresh}
    assert counts["head"]["fresh"] == len(fresh) == 4  # two output layers: kernel + bias

    initializer(prefix, modules, SIZE)(model)
    fresh_ids = {id(v) for v in fresh}
    pairs = [(s, m) for s, m in zip(source.head.weights, model.head.weights, strict=True)
             if id(m) not in fresh_ids]
    assert len(pairs) == counts["head"]["restored"] > 10
    for s, m in pairs:  # the conv towers (and norms): bit for bit from the checkpoint
        np.testing.assert_array_equal(m.numpy(), s.numpy(), err_msg=m.name)
    for v in fresh:  # the anchor-sized outputs: untouched
        np.testing.assert_array_equal(v.numpy(), before[id(v)], err_msg=v.name)
    for a, b in zip(source.backbone.weights, model.backbone.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=b.name)
