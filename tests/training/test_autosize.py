"""`--input-size auto` and fitted anchors: pure functions on synthetic box statistics."""

from __future__ import annotations

import numpy as np
import pytest

from training.anchors import AnchorChoice, anchor_recall, anchor_shapes, best_ious, fit_anchors
from training.autosize import BoxStats, choose_input_size


def _stats(sides, image=(1000, 563), aspect=1.0, seed=0) -> BoxStats:
    """Square-ish boxes of the given sides (px) at random places in ``image`` (w, h)."""
    rng = np.random.default_rng(seed)
    sides = np.asarray(sides, float)
    w, h = sides * aspect**0.5, sides / aspect**0.5
    x0 = rng.uniform(0, image[0] - w)
    y0 = rng.uniform(0, image[1] - h)
    n = len(sides)
    return BoxStats.from_boxes(zip(x0, y0, x0 + w, y0 + h, [image[0]] * n, [image[1]] * n,
                                   strict=True))


def test_size_makes_the_10th_percentile_box_16_px():
    # 10% of boxes are 20 px in 1000 px images: 16 px needs 800 -> 832 (multiple of 64)
    stats = _stats([20] * 10 + [100] * 90)
    choice = choose_input_size(stats, 64, cap=1024)
    assert choice.size == 832
    assert choice.p10_px >= 16 and choice.under_target <= 0.1
    assert choice.reason.startswith("input 832: 10% of boxes are under 20 px in 1000 px images")
    assert not choice.warning


def test_large_objects_keep_the_old_default():
    choice = choose_input_size(_stats([300] * 50, image=(500, 400)), 64, cap=640)
    assert choice.size == 256 and "large enough" in choice.reason
    assert not choice.small_objects


def test_cap_warns_and_points_to_tiling():
    choice = choose_input_size(_stats([8] * 40 + [200] * 60), 64, cap=640)
    assert choice.size == 640 and "cap" in choice.reason
    assert "--tile" in choice.warning and "max_input_size" in choice.warning
    assert choice.small_objects
    assert choose_input_size(_stats([8] * 40 + [200] * 60), 64, cap=700).size == 640  # rounded down


def test_never_larger_than_the_images():
    # tiny boxes in 300 px images: more pixels than the images have would not help
    choice = choose_input_size(_stats([4] * 30, image=(300, 200)), 64, cap=1024)
    assert choice.size == 320 and "images' own size" in choice.reason
    assert "--tile" in choice.warning and "max_input_size" not in choice.warning
    assert choose_input_size(_stats([20] * 5, image=(120, 100)), 64, cap=1024).size == 128


def test_no_boxes_gives_the_default():
    empty = BoxStats.from_boxes([], [800, 600])
    assert choose_input_size(empty, 128, cap=640).size == 256


def test_anchor_geometry_matches_model_garden():
    """Same shapes and centres as official.vision.ops.anchor.Anchor."""
    from official.vision.ops.anchor import Anchor

    size = 128
    mg = Anchor(3, 4, 2, [0.5, 2.0], 3.0, [size, size]).multilevel_boxes
    shapes = anchor_shapes(3.0, [0.5, 2.0], 2, range(3, 5))
    for level in (3, 4):
        boxes = mg[str(level)].numpy().reshape(size // 2**level, size // 2**level, -1, 4)
        y0, x0, y1, x1 = boxes[2, 3].T  # one location, all its anchors
        ours = shapes[shapes[:, 0] == level]
        np.testing.assert_allclose(x1 - x0, ours[:, 1], rtol=1e-5)
        np.testing.assert_allclose(y1 - y0, ours[:, 2], rtol=1e-5)
        stride = 2**level
        assert (x0 + x1)[0] / 2 == pytest.approx(stride / 2 + 3 * stride)
    # a box equal to an anchor, on its centre, matches at IoU 1; shifted half a stride, less
    w, h = shapes[0, 1], shapes[0, 2]
    on = best_ious(np.array([w]), np.array([h]), np.array([4.0 + 8]), np.array([4.0]), shapes, size)
    off = best_ious(np.array([w]), np.array([h]), np.array([8.0 + 8]), np.array([8.0]), shapes, size)
    assert on[0] == pytest.approx(1.0) and off[0] < 1.0


def test_fitted_anchors_cover_small_boxes_the_defaults_miss():
    stats = _stats(np.random.default_rng(1).uniform(10, 40, 400), image=(512, 512))
    default = AnchorChoice(min_level=3, max_level=6)
    before = anchor_recall(stats, 512, default)[0]
    fit = fit_anchors(stats, 512, 3, 6)
    assert before < 0.6
    assert fit.source == "fitted" and fit.recall >= 0.95 and fit.default_recall == before
    assert fit.recall == pytest.approx(anchor_recall(stats, 512, fit)[0])
    assert "recall at IoU 0.5" in fit.describe()


def test_fitted_ratios_follow_elongated_boxes():
    stats = _stats(np.random.default_rng(2).uniform(60, 120, 300), image=(512, 512), aspect=8.0)
    fit = fit_anchors(stats, 512, 3, 6)
    assert fit.recall >= 0.98
    assert max(fit.aspect_ratios) >= 4.0 and fit.default_recall < 0.1  # wide boxes, wide anchors


def test_defaults_stay_when_they_already_fit():
    stats = _stats(np.random.default_rng(3).uniform(60, 200, 300), image=(256, 256))
    fit = fit_anchors(stats, 256, 3, 6)
    assert fit.source == "default" and fit.anchor_size == 4.0 and fit.recall == fit.default_recall


def test_finer_level_only_when_allowed():
    stats = _stats(np.random.default_rng(4).uniform(5, 9, 300), image=(512, 512))
    assert fit_anchors(stats, 512, 3, 6).min_level == 2
    assert fit_anchors(stats, 512, 3, 7, finer=False).min_level == 3
