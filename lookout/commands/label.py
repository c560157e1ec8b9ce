"""`lookout label MODEL IMAGES_DIR`: the model's boxes as labelImg XML, for a person to correct."""

from __future__ import annotations

import argparse
from pathlib import Path

from lookout.commands._flags import add_model_flags, run_settings
from lookout.config import Config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "label", help="pre-label images with a model (labelImg Pascal VOC XML)",
        description="Run MODEL on every image of IMAGES_DIR that has no annotation yet and write "
                    "IMAGE.xml beside it exactly as labelImg writes it, with the boxes scoring "
                    "at least --score; open the folder in labelImg to correct them. Existing "
                    "XML files (a person's work) are never replaced unless --overwrite.")
    p.add_argument("model", help="bundle folder, frozen graph .pb, SavedModel folder or .tflite")
    p.add_argument("images_dir", help="folder of images (e.g. from `lookout frames`)")
    p.add_argument("--overwrite", action="store_true",
                   help="also replace existing XML files (their corrections are lost)")
    add_model_flags(p, "label")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    from rich.console import Console

    from lookout.progress import Bars
    from realtime.detectors import load_detector
    from training.labeling.autolabel import images_in, label_images

    cfg = run_settings(args, config, "label").detector
    images_in(Path(args.images_dir))  # a bad folder fails before the model loads
    console = Console(stderr=True, highlight=False)
    with console.status(f"loading {args.model}"):
        detector = load_detector(args.model, cfg)
    console.print(f"detector: {detector.describe()}", soft_wrap=True)
    try:
        with Bars(console, transient=True) as bars:
            report = label_images(detector, args.images_dir, score=cfg.score,
                                  classes=cfg.classes, overwrite=args.overwrite,
                                  on_progress=bars)
    finally:
        detector.close()
    out = Console(highlight=False)
    labels = ", ".join(f"{n} {name}" for name, n in sorted(report.per_label.items()))
    out.print(f"labeled {len(report.boxes)} image(s) with {report.total_boxes} box(es)"
              f"{f' ({labels})' if labels else ''}; {report.empty} with none; "
              f"{len(report.kept)} already annotated, left alone"
              f"{'' if args.overwrite else ' (--overwrite replaces them)' if report.kept else ''}")
    for image, why in report.failed:
        console.print(f"[red]failed[/] {image}: {why}", soft_wrap=True)
    if report.boxes:
        out.print(f"next: open {args.images_dir} in labelImg to correct them, then "
                  f"lookout dataset check {args.images_dir}")
    return 1 if report.failed else 0
