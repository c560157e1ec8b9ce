"""Many streams, one model: `lookout bench streams [--frames N] [--counts 1,2,4,8]`.

All figures come from one run, on one generated clip and one model (the benchmark
bundle of bench_pipeline, run with its model.tflite on a CPU):

- throughput: N equal clips annotated by one ``lookout annotate MODEL clips... --out-dir``
  process against N separate ``lookout annotate CLIP --out`` processes started together,
  for N = 1, 2, 4, 8. Aggregate fps = all frames written / wall time from start to the
  last exit (model loading included: that is what a user waits for). Peak RSS per
  process from the kernel (wait4). Goal at N = 4: one process >= 1.1x the aggregate fps
  of four processes, with at most half their total peak RSS.
- live: N = 4 paced sources, together faster than the detector, one job in live mode:
  per-source median and p95 capture→result latency, fps, and the slowest source's fps
  over the fastest's (goal >= 0.9 for equal sources).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench_media import PacedSource, bundle_input, ensure_bench_model, make_clip

LOOKOUT = [sys.executable, "-c", "import sys; from lookout.cli import main; sys.exit(main())"]


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="lookout bench streams", description=__doc__.split("\n")[0])
    p.add_argument("--model", help="bundle to measure (default: bench_pipeline's RetinaNet bundle)")
    p.add_argument("--frames", type=int, default=90, help="frames per clip (640x360 @ 30 fps)")
    p.add_argument("--counts", default="1,2,4,8", help="numbers of clips to compare")
    p.add_argument("--batch", type=int, default=4, help="frames per detector call")
    p.add_argument("--resize", type=int, default=0,
                   help="longer side before the model (0 = the model's input size)")
    p.add_argument("--live-seconds", type=float, default=20.0, help="length of the live run")
    p.add_argument("--live-fps", type=float, default=30.0, help="frame rate of each live source")
    p.add_argument("--out", default=None, help="write the figures as JSON here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    model = Path(args.model) if args.model else ensure_bench_model()
    architecture, size = bundle_input(model)
    resize = args.resize or size or 256
    counts = [int(n) for n in args.counts.split(",")]
    print(f"model: {model} ({architecture}, input {size}); "
          f"batch {args.batch}, resize {resize}; {os.cpu_count()} CPU cores")
    r: dict = {"model": str(model), "frames_per_clip": args.frames, "batch": args.batch,
               "resize": resize, "throughput": [], "live": {}}
    with tempfile.TemporaryDirectory(prefix="bench_streams_") as tmp:
        work = Path(tmp)
        clip = make_clip(work / "clip.mp4", args.frames, size=(640, 360), audio=False)
        flags = ["--batch", str(args.batch), "--resize", str(resize)]
        for n in counts:
            clips = []
            for i in range(n):
                clips.append(work / f"cam{i}.mp4")
                shutil.copyfile(clip, clips[-1])
            one = run_together([LOOKOUT + ["annotate", str(model), *map(str, clips), "--out-dir",
                                           str(work / f"one{n}"), "--jobs", str(n), *flags]])
            many = run_together([LOOKOUT + ["annotate", str(model), str(c), "--out",
                                            str(work / f"sep{n}" / f"{c.stem}.mp4"), *flags]
                                 for c in clips])
            frames = n * args.frames
            row = {"n": n, "one_fps": frames / one["wall"], "one_rss_mb": one["rss"][0],
                   "sep_fps": frames / many["wall"], "sep_rss_mb": many["rss"],
                   "one_wall": one["wall"], "sep_wall": many["wall"]}
            row["fps_ratio"] = row["one_fps"] / row["sep_fps"]
            row["rss_ratio"] = row["one_rss_mb"] / sum(row["sep_rss_mb"])
            _check_outputs(work / f"one{n}", clips, args.frames)
            r["throughput"].append(row)
            print(f"  N={n}: one process {row['one_fps']:.1f} fps, {row['one_rss_mb']:.0f} MB; "
                  f"{n} processes {row['sep_fps']:.1f} fps, {sum(row['sep_rss_mb']):.0f} MB",
                  flush=True)
        r["live"] = live_run(model, clip, resize, args.live_fps, args.live_seconds)
    report(r)
    if args.out:
        Path(args.out).write_text(json.dumps(r, indent=2) + "\n")
    return 0


def run_together(cmds: list[list[str]]) -> dict:
    """Start every command at once; wall time until the last exits, each one's peak RSS."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    procs = {}
    for cmd in cmds:
        err = tempfile.TemporaryFile()  # noqa: SIM115 - read after the process exits
        procs[subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err).pid] = err
    rss: dict[int, float] = {}
    while len(rss) < len(procs):
        pid, status, usage = os.wait4(-1, 0)
        if pid not in procs:
            continue
        rss[pid] = usage.ru_maxrss / 1024  # KiB on Linux
        if os.waitstatus_to_exitcode(status) != 0:
            procs[pid].seek(0)
            raise RuntimeError(f"{' '.join(cmds[0][3:6])}... failed:\n"
                               + procs[pid].read().decode(errors="replace")[-2000:])
    return {"wall": time.perf_counter() - start, "rss": [rss[pid] for pid in procs]}


def _check_outputs(out_dir: Path, clips: list[Path], frames: int) -> None:
    for clip in clips:
        lines = (out_dir / f"{clip.stem}.jsonl").read_text().splitlines()
        if len(lines) != frames:
            raise RuntimeError(f"{clip.stem}: {len(lines)} of {frames} frames annotated")


def live_run(model: Path, clip: Path, resize: int, fps: float, seconds: float,
             n: int = 4) -> dict:
    """``n`` paced sources at ``fps`` each, one live job, a sink that keeps nothing."""
    from bench_media import decode, shrink
    from bench_pipeline import detector_fps

    from lookout.config import PipelineConfig
    from realtime.detectors import load_detector
    from realtime.engine.job import Job, JobSource, run_job

    frames = decode(clip)
    detector = load_detector(model)
    try:
        # warms every worker at the batch shape the run uses, then times detect alone
        alone = detector_fps(detector, [shrink(f, resize) for f in frames[:8 * n]], n)
        sources = []
        for i in range(n):
            src = PacedSource(frames, fps, seconds)
            src.name = f"cam{i}"
            sources.append(JobSource(src, on_result=lambda result: None))
        stats = run_job(Job(detector, sources, policy="live",
                            pipeline_cfg=PipelineConfig(batch=n, resize=resize, max_wait_ms=5)))
    finally:
        detector.close()
    per = [{"name": s.name, "fps": s.frames_written / stats.elapsed,
            "median_ms": 1000 * s.latency(0.5), "p95_ms": 1000 * s.latency(0.95),
            "dropped": s.frames_dropped} for s in stats.sources]
    fps_values = [p["fps"] for p in per]
    return {"sources": n, "source_fps": fps, "seconds": round(stats.elapsed, 1),
            "detector_only_fps": alone, "per_source": per,
            "fairness": min(fps_values) / max(max(fps_values), 1e-9),
            "batches": stats.batches}


def report(r: dict) -> None:
    def goal(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print()
    print(f"throughput: {r['frames_per_clip']} frames per clip, batch {r['batch']}, "
          f"resize {r['resize']} (wall time incl. model load)")
    print("     N   one process fps  RSS MB   N processes fps  total RSS MB   fps ratio  "
          "RSS ratio")
    for row in r["throughput"]:
        print(f"  {row['n']:4d}   {row['one_fps']:15.1f}  {row['one_rss_mb']:6.0f}   "
              f"{row['sep_fps']:15.1f}  {sum(row['sep_rss_mb']):12.0f}   {row['fps_ratio']:8.2f}x"
              f"  {row['rss_ratio']:8.2f}")
    four = next((row for row in r["throughput"] if row["n"] == 4), None)
    if four:
        print(f"  N=4: fps ratio {four['fps_ratio']:.2f}x (goal >= 1.1x): "
              f"{goal(four['fps_ratio'] >= 1.1)}; RSS ratio {four['rss_ratio']:.2f} "
              f"(goal <= 0.5): {goal(four['rss_ratio'] <= 0.5)}")
    live = r["live"]
    print()
    print(f"live: {live['sources']} sources x {live['source_fps']:g} fps for "
          f"{live['seconds']} s; detector alone {live['detector_only_fps']:.1f} fps at batch "
          f"{live['sources']}")
    for p in live["per_source"]:
        print(f"  {p['name']}: {p['fps']:5.1f} fps, latency median {p['median_ms']:5.0f} ms, "
              f"p95 {p['p95_ms']:5.0f} ms, dropped {p['dropped']}")
    print(f"  slowest/fastest fps {live['fairness']:.2f} (goal >= 0.9): "
          f"{goal(live['fairness'] >= 0.9)}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
