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


def test_the_summary_compares_the_means_of_all_rounds(capsys):
    variants("new")  # puts the benchmarks on the path
    from train_budget import _table

    def row(set_name, start, name, repeat, ap50):
        return (set_name, start, name, repeat, 256, 1000, 600.0, {"AP": 0.1, "AP50": ap50})

    _table([row("mosaics", "scratch", "previous", 0, 0.259),
            row("mosaics", "scratch", "new", 0, 0.364),
            row("mosaics", "scratch", "previous", 1, 0.284),
            row("mosaics", "scratch", "new", 1, 0.381),
            row("raccoon", "checkpoint", "previous", 0, 0.825),
            row("raccoon", "checkpoint", "new", 0, 0.878),
            row("raccoon", "checkpoint", "previous", 1, 0.861),
            row("raccoon", "checkpoint", "new", 1, 0.857)])
    out = capsys.readouterr().out
    assert "mosaics, scratch: AP50 new/previous 1.37x (mean of 2 and 2 runs" in out
    assert "raccoon, checkpoint: AP50 new - previous +0.024" in out
    assert "spread 0.036" in out
