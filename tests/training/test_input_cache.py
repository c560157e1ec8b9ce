"""The training input cache: its size estimate from real TFRecords, the decision, the
shrink, and a cached pipeline that gives what Model Garden's gives and still augments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.training.conftest import voc_xml, write_image
from training.input_cache import OVERHEAD, _shrink, cached_inputs, plan_cache

# (stem, width, height): one image larger than the cache's square, two smaller
IMAGES = [("big", 400, 300), ("mid", 100, 80), ("small", 64, 48)]


def _records(tmp_path: Path, images=IMAGES) -> tuple[Path, list[str]]:
    from training.datasets.build import build_dataset

    src = tmp_path / "voc"
    for seed, (stem, w, h) in enumerate(images):
        write_image(src / f"{stem}.jpg", seed, w, h)
        (src / f"{stem}.xml").write_text(voc_xml(f"{stem}.jpg", [("cat", 2, 3, w // 2, h // 2)],
                                                 w, h))
    out = tmp_path / "ds"
    build_dataset(src, out)
    return out, sorted(str(p) for p in out.rglob("*.record*"))


def test_plan_sums_the_capped_images_and_caches_only_what_fits(tmp_path):
    _, records = _records(tmp_path)
    plan = plan_cache(records, 128, 1.2, available=2**30)
    assert plan.side == 154  # 128 px x the largest scale jitter: all the parser can use
    # 400x300 shrinks to 154x116; the others are kept whole
    assert plan.bytes == 154 * 116 * 3 + 100 * 80 * 3 + 64 * 48 * 3 + 3 * OVERHEAD
    assert plan.cache and plan.images == 3 and "in memory" in plan.why
    tight = plan_cache(records, 128, 1.2, available=4 * plan.bytes - 4)  # a quarter: too small
    assert not tight.cache and "would not fit" in tight.why
    assert not plan_cache(records, 128, 1.2, mode="off").cache
    # a big set: the sizes of a sample, scaled to the count
    assert plan_cache(records, 128, 1.2, count=300, sample=3, available=2**30).bytes \
        == 100 * plan.bytes


def test_shrink_fits_the_square_and_keeps_small_images():
    import tensorflow as tf

    def example(h, w):
        return {"image": tf.zeros([h, w, 3], tf.uint8), "height": tf.constant(h, tf.int64),
                "width": tf.constant(w, tf.int64)}

    big = _shrink(example(300, 400), 154)
    assert big["image"].shape == (116, 154, 3) and big["image"].dtype == tf.uint8
    assert (int(big["height"]), int(big["width"])) == (116, 154)
    small = _shrink(example(48, 64), 154)
    assert small["image"].shape == (48, 64, 3)


@pytest.fixture
def task_and_data(tmp_path):
    from official.core import task_factory

    from training.config import TrainConfig
    from training.data import load_dataset
    from training.experiment import build_experiment

    root, _ = _records(tmp_path, [("one", 200, 150)])
    data = load_dataset(root)
    records = [str(p) for split in data.splits.values() for p in split]
    params = build_experiment(TrainConfig(input_size=64, batch=2, steps=10, checkpoint_every=10),
                              data.num_classes, records, records)
    return task_factory.get_task(params.task), params.task.train_data


def test_cached_pipeline_is_model_gardens_and_still_augments(task_and_data):
    task, train_data = task_and_data
    plain = task.build_inputs(train_data)
    cached = cached_inputs(task.build_inputs, train_data, side=77)
    assert cached.element_spec == plain.element_spec
    # One image in the set: every batch holds it, cached after decoding. The flip and the
    # scale jitter run after the cache, so the pictures differ between pulls (a cache
    # after the parser, as Model Garden's own, would hand out the same one every time).
    pictures = [images.numpy() for images, _ in cached.take(6)]
    flat = np.concatenate(pictures).reshape(12, -1)
    assert len({row.tobytes() for row in flat}) > 1
