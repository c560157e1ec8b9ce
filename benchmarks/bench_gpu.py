"""Batch-size sweep per device: `lookout bench gpu [--model BUNDLE] [--batches 1,2,4,8,16]`.

Detector-only frames per second of the bundle's SavedModel at each batch size, on the
CPU and on every GPU TensorFlow sees, plus the bundle's model.tflite on the CPU (the
default CPU backend) for reference, and end-to-end `annotate` on the 720p clip at the
best batch of the fastest device. Same clip, same model, one run; without a GPU it
prints the CPU columns and says so.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # `lookout bench` loads this file by path
    sys.path.insert(0, str(HERE))

import bench_media as media  # the clip and the cached model
import bench_pipeline as common  # the timing helpers

SWEEP = (1, 2, 4, 8, 16)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="lookout bench gpu", description=__doc__.split("\n")[0])
    p.add_argument("--model", help="bundle to measure (default: the pipeline benchmark's)")
    p.add_argument("--batches", default=",".join(map(str, SWEEP)), help="batch sizes to try")
    p.add_argument("--frames", type=int, default=240, help="frames in the 720p test clip")
    p.add_argument("--out", default=None, help="write the figures as JSON here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import tensorflow as tf

    from realtime.config import DetectorConfig
    from realtime.detectors import load_detector

    args = parse(argv)
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    model = Path(args.model) if args.model else media.ensure_bench_model()
    size = media.bundle_input(model)[1] or 256
    gpus = [f"gpu:{i}" for i in range(len(tf.config.list_physical_devices("GPU")))]
    if not gpus:
        print("no GPU visible to TensorFlow: measuring the CPU only")
    with tempfile.TemporaryDirectory(prefix="bench_gpu_") as tmp:
        clip = media.make_720p_clip(Path(tmp) / "clip720.mp4", args.frames)
        small = [media.shrink(f, size) for f in media.decode(clip)]
        fps: dict[str, dict[int, float]] = {}
        for device in ["cpu", *gpus]:
            detector = load_detector(model, DetectorConfig(device=device, score=0.3,
                                                           bundle_format="saved_model"))
            fps[f"saved_model {device}"] = {b: common.detector_fps(detector, small, b)
                                            for b in batches}
            detector.close()
        if (model / "model.tflite").is_file():
            detector = load_detector(model, DetectorConfig(score=0.3, bundle_format="tflite"))
            fps["tflite cpu"] = {b: common.detector_fps(detector, small, b) for b in batches}
            detector.close()
        name, batch = max(((n, b) for n in fps for b in batches), key=lambda nb: fps[nb[0]][nb[1]])
        fmt, device = name.split()
        detector = load_detector(model, DetectorConfig(device=device, score=0.3,
                                                       bundle_format=fmt))
        annotate = common.annotate_fps(detector, clip, Path(tmp) / "out.mp4", batch, size,
                                       "veryfast")
    report(fps, batches, name, batch, annotate)
    if args.out:
        Path(args.out).write_text(json.dumps({"fps": fps, "best": [name, batch],
                                              "annotate_fps": annotate}, indent=2) + "\n")
    return 0


def report(fps: dict[str, dict[int, float]], batches: list[int], best: str, batch: int,
           annotate: float) -> None:
    print()
    print("detector-only fps by batch size (720p frames shrunk to the model's input)")
    print(f"  {'batch':>5}  " + "  ".join(f"{name:>18}" for name in fps))
    for b in batches:
        print(f"  {b:>5}  " + "  ".join(f"{fps[name][b]:>18.2f}" for name in fps))
    cpu_best = max(max(v.values()) for k, v in fps.items() if k.endswith("cpu"))
    for name, row in fps.items():
        if "gpu" in name:
            print(f"  {name}: best {max(row.values()):.2f} fps = "
                  f"{max(row.values()) / cpu_best:.2f}x the best CPU backend")
    print(f"annotate end-to-end with {best}, batch {batch}: {annotate:.2f} fps")


if __name__ == "__main__":
    sys.exit(main())
