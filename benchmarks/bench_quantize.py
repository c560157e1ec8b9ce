"""int8 vs float TFLite: `lookout bench quantize [--model BUNDLE]`.

Detector-only frames per second of ``model.tflite`` and ``model_int8.tflite`` on the same
720p frames shrunk to the model's input size, with the same batch and the same number of
LiteRT workers, measured in interleaved rounds (the machine is shared; medians of each
side). Goal: int8 >= 1.6x float. With ``--eval``, also `lookout eval` of the bundle
(COCO AP50 per format) and the int8 AP50 drop (goal <= 0.02).

Without ``--model`` it uses bench pipeline's cached RetinaNet bundle (2 training steps:
speed does not depend on training) and adds model_int8.tflite to it once.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent):  # `lookout bench` loads this file by path
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bench_media as media  # the clip and the cached model
import bench_pipeline as common  # the timing helpers


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="lookout bench quantize", description=__doc__.split("\n")[0])
    p.add_argument("--model", help="bundle with model.tflite and model_int8.tflite")
    p.add_argument("--frames", type=int, default=120, help="720p frames measured per round")
    p.add_argument("--batch", type=int, default=4, help="frames per detect call")
    p.add_argument("--workers", type=int, default=0, help="LiteRT interpreters (0 = per core)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved measurement rounds")
    p.add_argument("--eval", action="store_true", help="also evaluate AP50 per format")
    p.add_argument("--out", default=None, help="write the figures as JSON here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from realtime.bundle import BundleMeta
    from realtime.config import DetectorConfig
    from realtime.detectors import load_detector

    args = parse(argv)
    model = Path(args.model) if args.model else ensure_int8_bench_model()
    size = BundleMeta.read(model).input_size or 256
    for name in ("model.tflite", "model_int8.tflite"):
        if not (model / name).is_file():
            print(f"{model}: no {name} (export with --int8)", file=sys.stderr)
            return 1
    with tempfile.TemporaryDirectory(prefix="bench_quantize_") as tmp:
        frames = media.decode(media.make_720p_clip(Path(tmp) / "clip.mp4", args.frames))
    small = [media.shrink(f, size) for f in frames]
    print(f"model: {model} (input {size}), {len(small)} 720p frames shrunk to {size} px, "
          f"batch {args.batch}")
    detectors = {fmt: load_detector(model, DetectorConfig(score=0.3, bundle_format=fmt,
                                                          workers=args.workers))
                 for fmt in ("tflite", "int8")}
    print("workers: " + ", ".join(f"{d.describe()}" for d in detectors.values()))
    rounds = []
    for n in range(args.rounds):
        row = {fmt: common.detector_fps(d, small, args.batch) for fmt, d in detectors.items()}
        row["ratio"] = row["int8"] / row["tflite"]
        rounds.append(row)
        print(f"round {n + 1}: float {row['tflite']:.1f} fps, int8 {row['int8']:.1f} fps, "
              f"int8/float {row['ratio']:.2f}x", flush=True)
    for d in detectors.values():
        d.close()
    r = {"model": str(model), "input_size": size, "batch": args.batch,
         "workers": detectors["int8"].workers, "rounds": rounds,
         **{k: statistics.median(row[k] for row in rounds) for k in rounds[0]}}
    print(f"\ndetector-only fps (median of {args.rounds}): float {r['tflite']:.1f}, "
          f"int8 {r['int8']:.1f} -> int8 is {r['ratio']:.2f}x float (goal >= 1.6x)")
    if args.eval:
        from training.bundle_eval import evaluate_bundle

        ev = evaluate_bundle(model, formats=("tflite", "int8"))
        r["evaluation"] = ev
        print(f"AP50 on {ev['images']} test images: float {ev['formats']['tflite']['AP50']:.3f}, "
              f"int8 {ev['formats']['int8']['AP50']:.3f} -> drop {ev['int8_ap50_drop']:+.3f} "
              f"(goal <= 0.02)")
    if args.out:
        Path(args.out).write_text(json.dumps(r, indent=2) + "\n")
    return 0


def ensure_int8_bench_model() -> Path:
    """bench pipeline's cached bundle, with model_int8.tflite added once."""
    bundle, cache = media.ensure_bench_model(), media.CACHE
    if not (bundle / "model_int8.tflite").is_file():
        import tensorflow as tf

        from training.quantize import representative_images, write_int8_tflite
        from training.run_record import RunRecord

        print("adding model_int8.tflite to the benchmark model (once)")
        run = RunRecord.read(cache / "run")
        images = representative_images(run, run.input_size, 100)
        tmp = bundle / "model_int8.tflite.tmp"
        write_int8_tflite(cache / "run", tf.train.latest_checkpoint(str(cache / "run")), tmp,
                          images)
        tmp.rename(bundle / "model_int8.tflite")
    return bundle


if __name__ == "__main__":
    sys.exit(main())
