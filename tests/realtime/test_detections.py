"""The Detections type: validated on creation, masks, adapters."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.detections import Detections


def test_from_normalized_converts_to_pixels_and_names():
    d = Detections.from_normalized(
        np.array([[0.1, 0.2, 0.5, 0.6]]), np.array([0.9]), np.array([2.0]), 100, 200, {2: "fig"}
    )
    np.testing.assert_allclose(d.xyxy, [[40, 10, 120, 50]])
    assert d.labels == ("fig",) and d.class_ids.dtype == np.int32


def test_unknown_ids_get_a_placeholder_label():
    d = Detections(np.zeros((1, 4)), [0.5], [7])
    assert d.labels == ("class 7",)


def test_mask_filter_and_empty():
    d = Detections(np.arange(12).reshape(3, 4), [0.2, 0.6, 0.9], [1, 2, 1], ("a", "b", "a"))
    assert len(d[d.scores > 0.5]) == 2
    assert d.filter(0.5, {1}).labels == ("a",)
    assert len(Detections.empty()) == 0
    assert d[1].to_dicts()[0]["label"] == "b"


def test_inconsistent_lengths_are_rejected():
    with pytest.raises(ValueError, match="inconsistent lengths"):
        Detections(np.zeros((2, 4)), [0.5], [1, 1])


def test_filter_keeps_the_best_first_up_to_max_det():
    d = Detections([[0, 0, 1, 1]] * 4, [0.3, 0.9, 0.6, 0.8], [1, 2, 1, 1], ["a", "b", "a", "a"])
    assert d.filter(0.5, max_det=2).scores.tolist() == pytest.approx([0.9, 0.8])
    assert d.filter(0.5, {1}).labels == ("a", "a")
    assert len(d.filter(0.95)) == 0
