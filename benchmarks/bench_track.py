"""Tracking: MOTA, IDF1 and id switches of lookout's ByteTrack against the plain IoU
matcher it replaces, and the tracker's cost per frame against the detector's.

A generated multi-object sequence with known tracks (tests/fixtures/tracks.py): objects
of one class walk straight lines and bounce off the edges, so their paths cross; the
"detector" adds box noise, misses some objects, scores an object hidden behind a nearer
one low (0.3) and adds low-score false positives. Both trackers get what they would get
in lookout: ByteTrack every box down to track.low_score (0.1), the IoU matcher the boxes
at the detector threshold (0.5), as watch mode fed it; the IoU matcher on every box is
shown too. Metrics by py-motmetrics (IoU >= 0.5). Cost: the tracker alone and the whole
tracking step (one line, one zone) per frame, against a real RetinaNet MobileNetV2-FPN
bundle's detect() on frames of the same size, measured in the same run.

    lookout bench track [--frames 1500] [--objects 24] [--seeds 3] [--model BUNDLE]
                        [--no-detector]

Figures are over ``--seeds`` sequences (MOTA, IDF1: mean; counts: sums).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fixtures, run as a script

import numpy as np

from realtime.detections import Detections
from realtime.frames import Frame, FrameResult
from realtime.sinks.base import Sink
from realtime.tracking.config import LineConfig, TrackConfig, ZoneConfig
from realtime.tracking.iou import iou
from realtime.tracking.setup import Tracking
from realtime.tracking.tracker import build_tracker
from tests.fixtures.tracks import Mover, Step, sequence

W, H, FPS = 640, 480, 30.0
HIGH = 0.5  # the detector threshold (detector.score)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="lookout bench track", description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=1500, help="frames in the sequence (30 fps)")
    p.add_argument("--objects", type=int, default=24, help="objects over the whole sequence")
    p.add_argument("--seeds", type=int, default=3, help="sequences (seeds 0..N-1)")
    p.add_argument("--model", help="bundle whose detector cost to compare (default: the "
                                   "RetinaNet bundle of `lookout bench pipeline`, built once)")
    p.add_argument("--no-detector", action="store_true", help="skip the detector timing")
    return p.parse_args(argv)


def movers(n: int, frames: int, seed: int) -> list[Mover]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        w, h = rng.uniform(30, 70), rng.uniform(70, 150)
        x, y = rng.uniform(0, W - w), rng.uniform(0, H - h)
        speed, angle = rng.uniform(1.5, 7.0), rng.uniform(0, 2 * np.pi)
        start = int(rng.uniform(0, frames * 0.8))
        end = min(frames, start + int(rng.uniform(150, 600)))
        out.append(Mover(i + 1, (x, y, x + w, y + h), (speed * np.cos(angle),
                                                        speed * np.sin(angle)), start, end))
    return out


def metrics(steps: list[Step], tracked: list[Detections]) -> dict:
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=True)
    for step, dets in zip(steps, tracked, strict=True):
        ok = dets.track_ids >= 0 if len(dets) else np.zeros(0, bool)
        hyp = dets.xyxy[ok]
        gt = np.stack([b for _, b in step.truth]) if step.truth else np.zeros((0, 4))
        # motmetrics' iou_matrix calls np.asfarray (gone in numpy 2): same distance here
        dist = 1.0 - iou(gt, hyp).astype(np.float64)
        dist[dist > 0.5] = np.nan
        acc.update([g for g, _ in step.truth], [int(t) for t in dets.track_ids[ok]], dist)
    names = ["mota", "idf1", "num_switches", "num_false_positives", "num_misses",
             "mostly_tracked", "num_unique_objects"]
    row = mm.metrics.create().compute(acc, metrics=names, name="x").iloc[0]
    return {k: float(row[k]) for k in names}


def run_tracker(cfg: TrackConfig, steps: list[Step], min_score: float):
    tracker = build_tracker(cfg, HIGH, FPS)
    inputs = [s.dets[s.dets.scores >= min_score] for s in steps]
    start = time.perf_counter()
    out = [tracker.update(d, s.frame / FPS) for d, s in zip(inputs, steps, strict=True)]
    return out, (time.perf_counter() - start) / len(steps) * 1000


class _Null(Sink):
    def write(self, result: FrameResult) -> None:
        pass


def step_cost(steps: list[Step]) -> float:
    """ms per frame of the whole tracking step: tracker, a line, a zone, trails."""
    cfg = TrackConfig(trails=True, lines=[LineConfig(points=[[0, 0.5], [1, 0.5]])],
                      zones=[ZoneConfig(points=[[0, 0], [0.5, 0], [0.5, 1], [0, 1]])])
    (step,) = Tracking(cfg, HIGH).step([_Null()], FPS)
    rgb = np.zeros((H, W, 3), np.uint8)
    frames = [FrameResult(Frame("bench", s.frame, s.frame / FPS, rgb),
                          s.dets[s.dets.scores >= cfg.low_score]) for s in steps]
    start = time.perf_counter()
    for f in frames:
        step.write(f)
    return (time.perf_counter() - start) / len(frames) * 1000


def detector_cost(model: str | None) -> tuple[float, str]:
    """ms per 640x480 frame of detect() (batch 1, after warm-up) and what ran."""
    from realtime.config import DetectorConfig
    from realtime.detectors import load_detector

    if model is None:
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            "bench_media", Path(__file__).with_name("bench_media.py"))
        bench_media = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench_media)
        model = str(bench_media.ensure_bench_model())
    detector = load_detector(model, DetectorConfig(score=0.1))
    try:
        rng = np.random.default_rng(0)
        frames = [rng.integers(0, 255, (H, W, 3), dtype=np.uint8) for _ in range(20)]
        for f in frames[:3]:
            detector.detect([f])
        start = time.perf_counter()
        for f in frames:
            detector.detect([f])
        return (time.perf_counter() - start) / len(frames) * 1000, detector.describe()
    finally:
        detector.close()


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        import motmetrics  # noqa: F401
    except ImportError:
        print("lookout bench track needs py-motmetrics: pip install motmetrics")
        return 1
    seqs = [sequence(movers(args.objects, args.frames, seed), args.frames, W, H, noise=2.0,
                     miss=0.1, false_positives=0.3, occluded_score=0.3, seed=seed)
            for seed in range(args.seeds)]
    boxes = sum(len(s.truth) for steps in seqs for s in steps)
    print(f"{args.seeds} sequences of {args.frames} frames {W}x{H} @ {FPS:g} fps, "
          f"{args.objects} objects each ({boxes / args.seeds / args.frames:.1f} true boxes per "
          f"frame), box noise 2 px, 10% missed, hidden objects scored 0.3, 0.3 false "
          f"positives per frame")
    runs = [("bytetrack (lookout)", TrackConfig(), TrackConfig().low_score),
            ("iou matcher, score >= 0.5", TrackConfig(method="iou"), HIGH),
            ("iou matcher, every box", TrackConfig(method="iou"), 0.0)]
    rows = []
    for name, cfg, min_score in runs:
        per_seq = []
        for steps in seqs:
            tracked, ms = run_tracker(cfg, steps, min_score)
            per_seq.append((metrics(steps, tracked), ms))
        m = {k: float(np.mean([p[0][k] for p in per_seq])) if k in ("mota", "idf1")
             else sum(p[0][k] for p in per_seq) for k in per_seq[0][0]}
        m["per_seed"] = " ".join(f"{p[0]['idf1']:.3f}" for p in per_seq)
        rows.append((name, m, float(np.mean([p[1] for p in per_seq]))))
    print(f"\n{'tracker':28} {'MOTA':>7} {'IDF1':>7} {'id sw':>6} {'FP':>6} {'misses':>7} "
          f"{'MT':>4} {'ms/frame':>9}  IDF1 per sequence")
    for name, m, ms in rows:
        print(f"{name:28} {m['mota']:7.3f} {m['idf1']:7.3f} {m['num_switches']:6.0f} "
              f"{m['num_false_positives']:6.0f} {m['num_misses']:7.0f} "
              f"{m['mostly_tracked']:4.0f} {ms:9.3f}  {m['per_seed']}")
    bt, iou = rows[0][1], rows[1][1]
    print(f"\nbytetrack vs iou matcher (score >= 0.5): MOTA {bt['mota'] - iou['mota']:+.3f}, "
          f"IDF1 {bt['idf1'] - iou['idf1']:+.3f}, id switches {bt['num_switches']:.0f} vs "
          f"{iou['num_switches']:.0f} ({bt['num_switches'] / max(iou['num_switches'], 1):.2f}x)")
    step_ms = float(np.mean([step_cost(steps) for steps in seqs]))
    print(f"tracking step (tracker + a line + a zone + trails): {step_ms:.3f} ms per frame")
    if not args.no_detector:
        det_ms, what = detector_cost(args.model)
        print(f"detector: {det_ms:.1f} ms per {W}x{H} frame ({what}, batch 1)")
        print(f"tracking / detector cost: tracker {rows[0][2] / det_ms:.4f}, "
              f"whole step {step_ms / det_ms:.4f} (goal: well under 0.05)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
