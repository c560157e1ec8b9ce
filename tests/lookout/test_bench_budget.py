"""`lookout bench train --mode budget --variants`: the names the README lists are the
configurations trained (no training here: the benchmark itself takes hours)."""

from __future__ import annotations

import argparse
import sys

import pytest

from lookout.commands.bench import BENCH_DIR


def variants(names: str):
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    from train_budget import _variants

    args = argparse.Namespace(model="retinanet-mobilenetv2-fpn", batch=4, time="10m",
                              variants=names)
    return _variants(args, mosaics=None)


def test_variants_are_the_previous_defaults_the_new_ones_and_one_choice_taken_back():
    v = variants("previous,new,new-anchors-default,new-zoom-on")
    assert list(v) == ["previous", "new", "new-anchors-default", "new-zoom-on"]
    old = v["previous"]
    assert (old.input_size, old.anchors, old.aug_zoom, old.steps, old.time) == (
        256, "default", "off", 2000, "")
    new = v["new"]
    assert (new.input_size, new.anchors, new.aug_zoom, new.time) == ("auto", "auto", "auto",
                                                                     "10m")
    assert v["new-anchors-default"].anchors == "default"
    assert v["new-anchors-default"].time == v["new-zoom-on"].time == "10m"
    assert v["new-zoom-on"].aug_zoom == "on"


def test_an_unknown_variant_is_named():
    with pytest.raises(SystemExit, match="unknown new-zoom-off"):
        variants("new,new-zoom-off")
