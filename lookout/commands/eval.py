"""`lookout eval runs/NAME [--data RECORDS...]`: COCO AP, VOC AP50 per class, PR curves."""

from __future__ import annotations

import argparse

from lookout.config import Config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval", help="evaluate a training run (COCO AP, VOC AP50, PR curves)",
        description="Evaluate the latest checkpoint of a run on its test split or on --data "
                    "TFRecords (any TF OD API records, e.g. the tutorials' test.record). "
                    "Writes metrics.json and pr_curves.png in the run folder and TensorBoard "
                    "summaries under validation/.")
    p.add_argument("run_dir", help="training run folder (runs/NAME)")
    p.add_argument("--data", nargs="+", default=None, help="TFRecord file(s) to evaluate on")
    p.add_argument("--checkpoint", default=None, help="checkpoint prefix (default: the latest)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
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
    sizes = Table("size (COCO)", "objects", "AP", "AP50", title="AP per object size")
    for name, bucket in metrics.get("sizes", {}).items():
        sizes.add_row(name, str(bucket["objects"]), _fmt(bucket["AP"]), _fmt(bucket["AP50"]))
    console.print(sizes)
    console.print(f"wrote {args.run_dir}/metrics.json and {args.run_dir}/pr_curves.png")
    return 0


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
