"""`lookout bench loop`'s generated porch (no training: the benchmark itself is slow): the
decoy is a flat ellipse, a ring (its middle stays porch) or a square in a circle's colours,
the real visitor a filled circle with a square, each visitor alone in its own window, and
the benchmark is listed by `lookout bench`."""

from __future__ import annotations

import importlib.util
import itertools
import sys

import numpy as np

from lookout.commands.bench import BENCH_DIR, available


def load_bench():
    """The porch module of the benchmark, loaded as `lookout bench loop` loads it."""
    spec = importlib.util.spec_from_file_location("bench_loop", BENCH_DIR / "bench_loop.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return sys.modules["loop_porch"]


def test_the_porch_has_decoy_rings_then_a_real_circle_and_square() -> None:
    bench = load_bench()
    assert "loop" in available()
    visitors, seconds = bench.plan(2)
    assert [v.kind for v in visitors] == ["decoy", "decoy", "real"]
    assert all(a.leave + 2.0 < b.enter for a, b in itertools.pairwise(visitors))
    assert visitors[-1].leave < seconds
    frames = list(bench.frames(visitors, seconds, seed=0, decoy="ring"))
    assert len(frames) == round(seconds * bench.FPS)
    empty = frames[0].astype(np.float32)

    def at(t: float) -> np.ndarray:
        return frames[round(t * bench.FPS)].astype(np.float32)

    def changed(frame: np.ndarray, box) -> tuple[float, float]:
        """Mean change in the box's middle and on its ring (at 80% of its radius)."""
        x0, y0, x1, y1 = (round(v) for v in box)
        cx, cy, r = (x0 + x1) // 2, (y0 + y1) // 2, (x1 - x0) // 2
        diff = np.abs(frame - empty).sum(axis=2)
        ring = diff[cy, cx + round(r * 0.8) - 1: cx + round(r * 0.8) + 2].mean()
        return float(diff[cy - 2: cy + 3, cx - 2: cx + 3].mean()), float(ring)

    decoy, real = visitors[0], visitors[-1]
    middle, ring = changed(at(decoy.enter + 1), decoy.box)
    assert ring > 60 and middle < 20  # a ring: painted around, porch inside
    middle, _ = changed(at(real.enter + 1), real.box)
    assert middle > 60  # a filled circle
    x0, y0, x1, y1 = (round(v) for v in real.extra)
    inside = (slice(y0 + 3, y1 - 3), slice(x0 + 3, x1 - 3))
    assert np.abs(at(real.enter + 1)[inside] - empty[inside]).mean() > 60  # the square
    assert np.abs(at(real.leave + 1) - empty).mean() < 6  # gone again: only sensor noise

    flat = list(bench.frames(visitors[:1], decoy.enter + 0.5, seed=0, decoy="ellipse"))[-1]
    x0, y0, x1, y1 = decoy.box
    cx, cy, r = round((x0 + x1) / 2), round((y0 + y1) / 2), (x1 - x0) / 2
    diff = np.abs(flat.astype(np.float32) - empty).sum(axis=2)
    assert diff[cy, cx] > 60 and diff[cy, round(cx + 1.15 * r)] > 60  # wider than the circle
    assert diff[round(cy - 0.9 * r), cx] < 20  # and flatter

    boxy = list(bench.frames(visitors[:1], decoy.enter + 0.5, seed=0, decoy="square"))[-1]
    diff = np.abs(boxy.astype(np.float32) - empty).sum(axis=2)
    corner = round(0.8 * r)  # a circle of radius r leaves this corner bare; the square not
    assert diff[cy - corner, cx - corner] > 60 and diff[cy + corner, cx + corner] > 60
    # in a circle's colours: redder than blue, as the trained circles
    assert (boxy[cy, cx, 0].astype(int) - boxy[cy, cx, 2]) > 60
