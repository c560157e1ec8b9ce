"""`lookout eval runs/NAME | models/NAME [--data RECORDS...]`: COCO AP, VOC AP50 per class
(a run: its checkpoint, with PR curves; a bundle: each of its files side by side)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lookout.config import Config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval", help="evaluate a training run or a bundle (COCO AP, VOC AP50, PR curves)",
        description="Evaluate the latest checkpoint of a run on its test split or on --data "
                    "TFRecords (any TF OD API records, e.g. the tutorials' test.record). "
                    "Writes metrics.json and pr_curves.png in the run folder and TensorBoard "
                    "summaries under validation/. Given a bundle (models/NAME), evaluates each "
                    "of its files (SavedModel, model.tflite, model_int8.tflite) through the "
                    "runtime and writes the results side by side into its model.json, and "
                    "evaluates whole frames against tiles (what --tile auto reads).")
    p.add_argument("run_dir", help="training run folder (runs/NAME) or bundle (models/NAME)")
    p.add_argument("--formats", default=None,
                   help="bundle: comma-separated files to evaluate (default "
                        "saved_model,tflite,int8; also frozen_graph)")
    p.add_argument("--tile", default=None, metavar="auto|N|off",
                   help="bundle: tiling of the format rows (default: [detector] tile, auto: "
                        "tiles only where this evaluation found they win)")
    p.add_argument("--data", nargs="+", default=None, help="TFRecord file(s) to evaluate on")
    p.add_argument("--checkpoint", default=None, help="checkpoint prefix (default: the latest)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    from rich.console import Console
    from rich.table import Table

    from lookout.progress import Bars
    from realtime.bundle import BundleMeta
    from training.evaluate import evaluate

    if BundleMeta.path(args.run_dir).is_file():
        return run_bundle(args, config)
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


def run_bundle(args: argparse.Namespace, config: Config) -> int:
    from rich.console import Console
    from rich.table import Table

    from core.errors import UserError
    from lookout.config import override
    from lookout.progress import Bars
    from training.bundle_eval import DEFAULT_FORMATS, FORMATS, evaluate_bundle

    formats = tuple(f.strip() for f in (args.formats or ",".join(DEFAULT_FORMATS)).split(","))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise UserError(f"--formats {','.join(unknown)}: expected some of {', '.join(FORMATS)}")
    if args.checkpoint:
        raise UserError("--checkpoint: a bundle holds one model; give the run folder instead")
    detector = override(config.detector, tile=args.tile)  # checks --tile like the config
    with Bars(transient=True) as bars:
        result = evaluate_bundle(args.run_dir, args.data, formats=formats, tile=detector.tile,
                                 on_progress=bars)
    rows = result["formats"]
    table = Table("metric", *(f"{name}\n{r['file']}" + (f"\ntiles {r['tile']} px"
                                                         if r.get("tile", "off") != "off" else "")
                              for name, r in rows.items()),
                  title=f"{args.run_dir}, {result['images']} test images")
    for key in ("AP", "AP50"):
        table.add_row(f"COCO {key}", *(f"{r[key]:.3f}" for r in rows.values()))
    labels = dict.fromkeys(k for r in rows.values() for k in r["per_class_AP50"])
    for label in labels:
        table.add_row(f"AP50 {label}", *(f"{r['per_class_AP50'].get(label, 0.0):.3f}"
                                         for r in rows.values()))
    console = Console(highlight=False)
    console.print(table)
    for line in evaluation_lines(Path(args.run_dir), result, detector):
        console.print(line)
    console.print(f"wrote the results into {args.run_dir}/model.json (evaluation)")
    return 0


def evaluation_lines(bundle, result: dict, detector_cfg) -> list[str]:
    """What a bundle's evaluation decided: the int8 drop, tiles against whole frames, and
    which file and tiling ``auto`` now runs on this machine, and why (export prints it too)."""
    from realtime.detectors.loader import auto_choice

    lines = []
    if "int8_ap50_drop" in result:
        lines.append(f"int8 AP50 drop vs model.tflite: {result['int8_ap50_drop']:+.3f}")
    tiles = result.get("tiles") or {}
    if "skipped" in tiles:
        lines.append(f"tiles not evaluated: {tiles['skipped']}")
    elif tiles:
        lines.append(f"tiles ({tiles['tile']} px on {tiles['frames_tiled']} of "
                     f"{result['images']} images): AP50 {tiles['tiled']['AP50']:.3f} vs "
                     f"{tiles['whole']['AP50']:.3f} whole")
    lines.append(f"auto runs: {auto_choice(bundle, detector_cfg)}")
    return lines


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
