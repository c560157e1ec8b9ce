"""`lookout predict MODEL IMAGES... --out DIR`: a thin shell over `realtime.predict`."""

from __future__ import annotations

import argparse

from lookout.commands._flags import add_model_flags, run_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict", help="detect in still images: annotated copies + detections.json",
        description="Run MODEL on images, folders of images or globs; write each image with "
                    "its boxes drawn into DIR, and DIR/detections.json (boxes in pixels). "
                    "An unreadable image is named and skipped; the exit status is then 1.")
    parser.add_argument("model", help="bundle folder, frozen graph .pb, SavedModel folder or .tflite")
    parser.add_argument("images", nargs="+", help="image files, folders or globs ('imgs/*.jpg')")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--no-draw", action="store_true",
                        help="write only detections.json, no annotated images")
    add_model_flags(parser, "predict")
    parser.set_defaults(func=run, fast_exit=True)  # see lookout.cli.main


def run(args: argparse.Namespace, config) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from realtime.predict import predict_images

    console = Console(stderr=True, highlight=False)
    columns = (TextColumn("[bold]predict[/]"), BarColumn(), MofNCompleteColumn(),
               TextColumn("images"), TimeRemainingColumn())
    progress = Progress(*columns, console=console)
    task = None

    def on_image(done: int, total: int) -> None:
        nonlocal task
        if task is None:  # the bar appears once the model is loaded and images flow
            progress.start()
            task = progress.add_task("predict", total=total)
        progress.update(task, completed=done, total=total)

    try:
        # the job runner loads the model and releases it, whatever happens
        report = predict_images(
            args.model, args.images, args.out, run_settings(args, config, "predict"),
            draw=not args.no_draw, model_name=str(args.model), on_image=on_image)
    finally:
        if task is not None:
            progress.stop()
    console.print(f"[green]done[/]: {len(report.records)} image(s), {report.detections} "
                  f"detection(s) → {report.out_dir / 'detections.json'}")
    console.print(f"  model: {report.detector}")
    for file, why in report.failed:
        console.print(f"[red]failed[/] {file}: {why}", soft_wrap=True)
    return 1 if report.failed else 0
