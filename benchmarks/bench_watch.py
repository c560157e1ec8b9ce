"""Watch mode: detector calls and CPU with motion gating against without it.

A long, mostly still generated doorbell clip (noise, a few visits in which a red object
walks in, stands still, walks out) runs through `run_watch` twice with the same loaded
colour-blob bundle: once with motion gating, once with the detector on every frame.
Reported: detector calls (goal: at least 80% fewer with gating) with every visit still
alerted, and process CPU seconds per hour of video (CPU time / video duration x 3600).

    lookout bench watch [--minutes 10] [--visits 4] [--fps 10] [--size 320x240]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fixtures, run as a script

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from lookout.config import Config
from realtime.watch.config import WatchConfig, WatchDeliveryConfig, WatchRuleConfig
from realtime.watch.events import read_events

GOAL = 0.80  # at least this share of detector calls saved by motion gating


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="lookout bench watch", description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=10.0, help="clip length (default 10)")
    p.add_argument("--visits", type=int, default=4, help="visits in the clip (default 4)")
    p.add_argument("--stay", type=float, default=15.0, help="seconds each visitor stands still")
    p.add_argument("--fps", type=int, default=10)
    p.add_argument("--size", default="320x240", help="WxH of the clip")
    p.add_argument("--out", default="", help="work folder (default: a temporary one)")
    return p.parse_args(argv)


def make_clip(path: Path, args, visits, console: Console) -> None:
    import imageio.v2 as imageio

    from tests.fixtures.doorbell import doorbell_frames

    width, height = (int(v) for v in args.size.split("x"))
    total = round(args.minutes * 60 * args.fps)
    size = (max(8, width // 6), max(12, height // 3))
    with Progress(TextColumn("[bold]clip[/]"), BarColumn(), MofNCompleteColumn(),
                  console=console) as bar, imageio.get_writer(
            path, fps=args.fps, codec="libx264", quality=8, macro_block_size=1,
            ffmpeg_log_level="error") as writer:
        task = bar.add_task("frames", total=total)
        for frame in doorbell_frames(visits, seconds=args.minutes * 60, fps=args.fps,
                                     width=width, height=height, size=size):
            writer.append_data(frame)
            bar.advance(task)


def run_once(detector, clip: Path, events: Path, gated: bool, console: Console) -> dict:
    from realtime.watch.runner import run_watch

    rule = WatchRuleConfig(name="visitor", labels=["red"], end_after_s=3.0, cooldown_s=10.0)
    watch = WatchConfig(events_dir=str(events), rules=[rule],
                        delivery=WatchDeliveryConfig(console=False), health_every_s=3600)
    watch.motion.enabled = gated
    config = dataclasses.replace(Config(), watch=watch)
    label = "gated" if gated else "every frame"
    with Progress(TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[fps]:.0f} fps"), console=console) as bar:
        task = bar.add_task("watch", total=None, fps=0.0)

        def progress(stats):
            bar.update(task, completed=stats.frames_written, total=stats.expected_frames,
                       fps=stats.fps)

        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = run_watch(detector, str(clip), config, drain_s=0.0, progress=progress)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    starts = [r for r in read_events(events / "events.jsonl") if r["phase"] == "new"]
    return {"label": label, "calls": result.detector_runs, "frames": result.frames,
            "events": result.events, "starts": [r["start"] for r in starts],
            "cpu": cpu, "wall": wall}


def main(argv: list[str] | None = None) -> int:
    from realtime.detectors import load_detector
    from tests.fixtures.doorbell import Visit
    from tests.fixtures.models import make_color_bundle

    args = parse(list(argv or []))
    console = Console(stderr=True)
    work = Path(args.out or tempfile.mkdtemp(prefix="bench_watch_"))
    work.mkdir(parents=True, exist_ok=True)
    seconds = args.minutes * 60
    period = seconds / args.visits
    visits = tuple(Visit(i * period + period / 3, args.stay) for i in range(args.visits))
    clip = work / "doorbell_long.mp4"
    make_clip(clip, args, visits, console)
    detector = load_detector(make_color_bundle(work / "bundle"))
    runs = [run_once(detector, clip, work / f"events_{g}", g, console) for g in (True, False)]
    detector.close()

    hours = seconds / 3600
    table = Table(title=f"watch: {args.minutes:g} min clip, {args.size} @ {args.fps} fps, "
                        f"{args.visits} visits")
    for col in ("run", "detector calls", "share of frames", "events", "visits alerted",
                "CPU s", "CPU s / hour of video", "wall s"):
        table.add_column(col, justify="right")
    ok = True
    for r in runs:
        alerted = sum(any(v.enter - 1 <= s <= v.leave for s in r["starts"]) for v in visits)
        ok &= alerted == len(visits) and r["events"] == len(visits)
        table.add_row(r["label"], str(r["calls"]), f"{r['calls'] / max(r['frames'], 1):.1%}",
                      str(r["events"]), f"{alerted}/{len(visits)}", f"{r['cpu']:.1f}",
                      f"{r['cpu'] / hours:.0f}", f"{r['wall']:.1f}")
    Console(width=120).print(table)
    gated, full = runs
    saved = 1 - gated["calls"] / max(full["calls"], 1)
    print(f"detector calls saved by motion gating: {saved:.1%} (goal >= {GOAL:.0%}): "
          f"{'met' if saved >= GOAL else 'NOT met'}")
    per_call = (full["cpu"] - gated["cpu"]) / max(full["calls"] - gated["calls"], 1)
    print(f"CPU with gating / without: {gated['cpu'] / max(full['cpu'], 1e-9):.2f}x; "
          f"every visit alerted in both runs: {'yes' if ok else 'NO'}")
    print(f"CPU per saved detector call (this tiny test model): {per_call * 1000:.2f} ms; "
          f"a real detector costs far more per call, so gating saves more CPU with it")
    return 0 if ok and saved >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
