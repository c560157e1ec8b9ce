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
    p.add_argument("--int8", action=argparse.BooleanOptionalAction, default=True,
                   help="also write model_int8.tflite: full-integer quantization calibrated on "
                        "the run's training images, checked against model.tflite; auto runs it "
                        "when its AP50 drop on the test split is within max_ap50_drop "
                        "(default: on)")
    p.add_argument("--eval", action=argparse.BooleanOptionalAction, default=True,
                   help="evaluate model.tflite and model_int8.tflite (whole frames and tiles) "
                        "on the run's test split into model.json (default: on)")
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
        path = export_bundle(args.run_dir, out, tflite=args.tflite,
                             int8=args.int8 and args.tflite, int8_samples=args.int8_samples,
                             checkpoint=args.checkpoint, evaluate=args.eval,
                             on_progress=bars)
    for line in summary_lines(path, config):
        print(line)
    print(f"wrote {path}")
    return 0


def summary_lines(bundle, config: Config) -> list[str]:
    """What the export's checks and evaluation found, and what `auto` will run."""
    from lookout.commands.eval import evaluation_lines
    from realtime.bundle import BundleMeta

    meta = BundleMeta.read(bundle)
    lines = []
    if agreement := (meta.tflite or {}).get("agreement_with_saved_model"):
        lines.append(f"model.tflite agreement with the SavedModel: "
                     f"{describe_agreement(agreement)}")
    if summary := meta.int8_summary:
        lines.append(f"int8 agreement with model.tflite: {summary}")
    evaluation = meta.evaluation or {}
    if "skipped" in evaluation:
        lines.append(f"not evaluated: {evaluation['skipped']}")
    elif evaluation:
        rows = ", ".join(f"{r['file']} {r['AP50']:.3f}" for r in evaluation["formats"].values())
        lines.append(f"test split AP50 ({evaluation['images']} images): {rows}")
    return lines + evaluation_lines(bundle, evaluation if "formats" in evaluation else {},
                                    config.detector)


def describe_agreement(a: dict) -> str:
    if not a["reference_detections"]:
        return f"the SavedModel found nothing >= {a['min_score']} on {a['images']} images"
    return (f"{a['matched']}/{a['reference_detections']} detections matched at IoU >= "
            f"{a['iou']} (score diff max {a['score_diff_max']}), {a['extra']} extra")
