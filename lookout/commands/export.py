"""`lookout export runs/NAME --out models/NAME [--tflite]`: write the checked model bundle."""

from __future__ import annotations

import argparse

from lookout.config import Config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help="export a training run as a model bundle",
        description="Write models/NAME: saved_model/, frozen_inference_graph.pb (TF1 OD API "
                    "names), label_map.pbtxt, model.json and model.tflite (unless --no-tflite). "
                    "Every format is checked against the checkpoint before the bundle is "
                    "renamed into place.")
    p.add_argument("run_dir", help="training run folder (runs/NAME)")
    p.add_argument("--out", default=None, help="bundle folder (default: models/<run name>)")
    p.add_argument("--tflite", action=argparse.BooleanOptionalAction, default=True,
                   help="also write model.tflite, which CPUs run about twice as fast "
                        "(default: on; --no-tflite skips its ~40 s conversion)")
    p.add_argument("--checkpoint", default=None, help="checkpoint prefix (default: the latest)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    from pathlib import Path

    from lookout.progress import Bars
    from training.export import export_bundle

    out = args.out or str(Path("models") / Path(args.run_dir).resolve().name)
    with Bars(transient=True) as bars:
        path = export_bundle(args.run_dir, out, tflite=args.tflite, checkpoint=args.checkpoint,
                             on_progress=bars)
    print(f"wrote {path}")
    return 0
