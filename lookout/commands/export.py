"""`lookout export runs/NAME --out models/NAME [--tflite]`: write the checked model bundle."""

from __future__ import annotations

import argparse

from lookout.config import Config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help="export a training run as a model bundle",
        description="Write models/NAME: saved_model/, frozen_inference_graph.pb (TF1 OD API "
                    "names), label_map.pbtxt, model.json, model.tflite (unless --no-tflite) and "
                    "model_int8.tflite (with --int8). "
                    "Every format is checked against the checkpoint before the bundle is "
                    "renamed into place.")
    p.add_argument("run_dir", help="training run folder (runs/NAME)")
    p.add_argument("--out", default=None, help="bundle folder (default: models/<run name>)")
    p.add_argument("--tflite", action=argparse.BooleanOptionalAction, default=True,
                   help="also write model.tflite, which CPUs run about twice as fast "
                        "(default: on; --no-tflite skips its ~40 s conversion)")
    p.add_argument("--int8", action="store_true",
                   help="also write model_int8.tflite: full-integer quantization calibrated on "
                        "the run's training images, checked against model.tflite (auto runs it "
                        "once `lookout eval` finds its AP50 drop within max_ap50_drop)")
    p.add_argument("--int8-samples", type=int, default=300, metavar="N",
                   help="training images the int8 calibration sees (default 300)")
    p.add_argument("--checkpoint", default=None, help="checkpoint prefix (default: the latest)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    from pathlib import Path

    from lookout.progress import Bars
    from training.export import export_bundle

    out = args.out or str(Path("models") / Path(args.run_dir).resolve().name)
    with Bars(transient=True) as bars:
        path = export_bundle(args.run_dir, out, tflite=args.tflite, int8=args.int8,
                             int8_samples=args.int8_samples, checkpoint=args.checkpoint,
                             on_progress=bars)
    int8 = _int8_summary(path) if args.int8 else None
    if int8:
        print(f"int8 agreement with model.tflite: {int8}")
    print(f"wrote {path}")
    return 0


def _int8_summary(bundle) -> str | None:
    from realtime.bundle import BundleMeta

    return BundleMeta.read(bundle).int8_summary
