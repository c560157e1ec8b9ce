"""`lookout batch` on Ray's local runner against the one-by-one runs: `lookout bench batch`.

All figures from one run, on generated inputs and one tiny real model (the tests'
colour-blob bundle, unless ``--model``), every run with one model copy (``--parallel 1``,
equal parallelism):

- clips: ``lookout batch DIR --draw`` over N clips against ``lookout annotate`` run once
  per clip (a shell loop: one process, one model load per clip), and against the floor:
  `annotate` called N times in one process on one loaded model (no Ray at all).
- images: ``lookout batch DIR --draw`` over M images against one ``lookout predict DIR``
  (predict already runs its images one after the other through one model); both again on
  one image, which is their start-up, so the marginal cost per image is
  (M images - 1 image) / (M - 1) for each.

Printed: total seconds, overhead per item ((batch - sequential) / items) and the ratio
batch / sequential. Goal: <= 1.10 against the one-by-one runs. ``--clips 0`` or
``--images 0`` leaves that half out.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="lookout bench batch", description=__doc__.split("\n")[0])
    p.add_argument("--model", help="model to run (default: the tiny colour-blob bundle)")
    p.add_argument("--clips", type=int, default=20, help="number of clips")
    p.add_argument("--frames", type=int, default=12, help="frames per clip (160x120, 12 fps)")
    p.add_argument("--images", type=int, default=500, help="number of images (128x96)")
    return p.parse_args(argv)


def lookout(*args: str) -> float:
    """Seconds one ``lookout ARGS`` process takes, start to exit (as a user waits)."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lookout.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"lookout {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return seconds


def make_inputs(work: Path, clips: int, frames: int, images: int) -> tuple[Path, Path]:
    import cv2

    from tests.fixtures.media import make_clip
    from tests.fixtures.models import make_blob_image

    clip_dir, image_dir = work / "clips", work / "images"
    clip_dir.mkdir()
    image_dir.mkdir()
    for i in range(clips):
        make_clip(clip_dir / f"clip{i:03d}.mp4", frames, fps=12, audio=False)
    for i in range(images):
        x = 5 + i % 60
        rgb = make_blob_image(96, 128, red=(x, 10, x + 30, 40), blue=(70, 50, 100, 80))
        cv2.imwrite(str(image_dir / f"img{i:04d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return clip_dir, image_dir


def in_process_floor(model: Path, clips: list[Path], out: Path) -> float:
    """`annotate` on every clip in this process, one model load: no Ray, no start-up."""
    from realtime.annotate import AnnotateOutputs, annotate
    from realtime.detectors import load_detector
    from realtime.settings import RunSettings

    settings = RunSettings()  # the defaults batch runs with: tracked, as annotate
    start = time.perf_counter()
    detector = load_detector(model, settings.tracking.detector_cfg(settings.detector))
    for clip in clips:
        annotate(detector, str(clip), AnnotateOutputs(out / f"{clip.stem}.mp4",
                                                      out / f"{clip.stem}.jsonl"), settings)
    detector.close()
    return time.perf_counter() - start


def line(name: str, batch: float, sequential: float, items: int) -> None:
    print(f"  {name:<34} {sequential:8.1f} s  batch {batch:8.1f} s  overhead/item "
          f"{(batch - sequential) / items * 1000:+8.0f} ms  ratio {batch / sequential:5.2f}")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        work = Path(tmp)
        if args.model:
            model = Path(args.model)
        else:
            from tests.fixtures.models import make_color_bundle

            model = make_color_bundle(work / "colors", tflite=True)
        clip_dir, image_dir = make_inputs(work, args.clips, args.frames, args.images)
        clips = sorted(clip_dir.glob("*.mp4"))
        print(f"model {model}; {len(clips)} clips of {args.frames} frames 160x120, "
              f"{args.images} images 128x96; one model copy everywhere; {os.cpu_count()} CPUs")

        print("sequential vs lookout batch (local Ray runner, --parallel 1):")
        ok = True
        if clips:
            seq_out = work / "seq"
            seq_out.mkdir()
            clip_seq = sum(lookout("annotate", str(model), str(c), "--out",
                                   str(seq_out / f"{c.stem}.mp4"), "--jsonl",
                                   str(seq_out / f"{c.stem}.jsonl")) for c in clips)
            clip_batch = lookout("batch", str(model), str(clip_dir), "--out", str(work / "b1"),
                                 "--draw", "--parallel", "1")
            floor = in_process_floor(model, clips, work / "floor")
            line(f"annotate x{len(clips)} (one process each)", clip_batch, clip_seq, len(clips))
            line(f"annotate x{len(clips)} in one process", clip_batch, floor, len(clips))
            ok = clip_batch <= 1.10 * clip_seq
        if args.images > 1:
            one = min(image_dir.iterdir())
            image_seq = lookout("predict", str(model), str(image_dir), "--out", str(work / "p"))
            image_batch = lookout("batch", str(model), str(image_dir), "--out",
                                  str(work / "b2"), "--draw", "--parallel", "1")
            seq_one = lookout("predict", str(model), str(one), "--out", str(work / "p1"))
            batch_one = lookout("batch", str(model), str(one), "--out", str(work / "b3"),
                                "--draw", "--parallel", "1")
            line(f"predict over {args.images} images", image_batch, image_seq, args.images)
            line("start-up: predict / batch on 1 image", batch_one, seq_one, 1)
            per_seq = (image_seq - seq_one) / (args.images - 1)
            per_batch = (image_batch - batch_one) / (args.images - 1)
            print(f"  marginal per image: predict {per_seq * 1000:.1f} ms, batch "
                  f"{per_batch * 1000:.1f} ms, ratio {per_batch / max(per_seq, 1e-9):.2f}")
            # batch(N) = batch_one + (N-1) per_batch; within 10% of predict(N) from this N on.
            fixed = batch_one - 1.10 * seq_one
            if per_batch < 1.10 * per_seq:
                n = 1 + max(0.0, fixed) / (1.10 * per_seq - per_batch)
                print(f"  fixed cost (Ray start + stop): {batch_one - seq_one:+.1f} s; batch is "
                      f"within 10% of predict from about {n:.0f} images on")
            else:
                print("  batch's marginal cost per image is above predict's: no break-even")
            ok = ok and image_batch <= 1.10 * image_seq
    print(f"goal batch <= 1.10 x the one-by-one runs: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
