"""`lookout eval runs/NAME | models/NAME [--data RECORDS...]`: COCO AP, VOC AP50 per class.

A run folder is evaluated from its checkpoint (plus PR curves); a bundle folder in each
of its formats side by side, each run by the runtime that deploys it.
"""

from __future__ import annotations

import argparse

from lookout.config import Config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval", help="evaluate a training run or an exported bundle (COCO AP, VOC AP50)",
        description="Evaluate the latest checkpoint of a run on its test split or on --data "
                    "TFRecords (any TF OD API records, e.g. the tutorials' test.record); "
                    "writes metrics.json and pr_curves.png in the run folder and TensorBoard "
                    "summaries under validation/. Given a bundle (models/NAME), evaluates each "
                    "of its formats (SavedModel, frozen graph, TFLite) and records the "
                    "results in its model.json.")
    p.add_argument("run_dir", metavar="RUN_OR_BUNDLE",
                   help="training run folder (runs/NAME) or bundle folder (models/NAME)")
    p.add_argument("--data", nargs="+", default=None, help="TFRecord file(s) to evaluate on")
    p.add_argument("--checkpoint", default=None, help="checkpoint prefix (default: the latest)")
    p.add_argument("--formats", default=None,
                   help="bundle formats to evaluate, comma-separated: saved_model, "
                        "frozen_graph, tflite (default: all it holds)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    from training.evaluate_bundle import is_bundle

    if is_bundle(args.run_dir):
        return _run_bundle(args)
    from rich.console import Console
    from rich.table import Table

    from lookout.progress import Bars
    from training.evaluate import evaluate

    with Bars() as bars:
        metrics = evaluate(args.run_dir, args.data, checkpoint=args.checkpoint, on_progress=bars)
    table = Table("metric", "value", title=f"{args.run_dir} @ {metrics['checkpoint']}, "
                                           f"{metrics['images']} images")
    for key, value in metrics["coco"].items():
        table.add_row(f"COCO {key}", f"{value:.3f}")
    for name, value in metrics["voc_ap50"].items():
        table.add_row(f"VOC AP50 {name}", f"{value:.3f}")
    table.add_row("VOC mAP50", f"{metrics['voc_map50']:.3f}")
    console = Console(highlight=False)
    console.print(table)
    console.print(f"wrote {args.run_dir}/metrics.json and {args.run_dir}/pr_curves.png")
    return 0


def _run_bundle(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from core.errors import UserError
    from lookout.progress import Bars
    from training.evaluate_bundle import evaluate_bundle

    if args.checkpoint:
        raise UserError("--checkpoint applies to a run folder; a bundle holds one model")
    formats = [f.strip() for f in args.formats.split(",") if f.strip()] if args.formats else None
    with Bars(transient=True) as bars:
        report = evaluate_bundle(args.run_dir, args.data, formats=formats, on_progress=bars)
    rows = report["formats"]
    table = Table("metric", *rows, title=f"{args.run_dir}, {report['images']} images")
    for key in ("AP", "AP50", "AP75"):
        table.add_row(f"COCO {key}", *(f"{r['coco'][key]:.3f}" for r in rows.values()))
    labels = next(iter(rows.values()))["voc_ap50"]
    for name in labels:
        table.add_row(f"VOC AP50 {name}", *(f"{r['voc_ap50'][name]:.3f}" for r in rows.values()))
    table.add_row("VOC mAP50", *(f"{r['voc_map50']:.3f}" for r in rows.values()))
    out = Console(highlight=False)
    out.print(table)
    out.print(f"recorded in {args.run_dir}/model.json (eval.formats)")
    return 0
