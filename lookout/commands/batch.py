"""`lookout batch MODEL INPUTS... --out DIR`: a thin shell over `realtime.batch.run_batch`."""

from __future__ import annotations

import argparse

from lookout.commands._flags import add_model_flags, add_track_args, model_choice, run_settings

BATCH = 8  # images per worker call unless --batch says otherwise


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "batch", help="run a model over many images and clips on Ray (local or a cluster)",
        description="Run MODEL over images and clips (files, folders, globs) on a Ray Data "
                    "job: a private local Ray instance by default, a cluster with "
                    "--ray-address. Images: DIR/detections.jsonl, one line per image (and "
                    "annotated copies with --draw). Clips: DIR/STEM.jsonl (DIR/STEM.mp4 with "
                    "--draw, DIR/STEM.counts.json when counting), what `lookout annotate` "
                    "writes. A bad file is named and "
                    "skipped; the exit status is then 1.")
    parser.add_argument("model", help="bundle folder, frozen graph .pb, SavedModel folder or .tflite")
    parser.add_argument("inputs", nargs="+", help="images, clips, folders or globs")
    parser.add_argument("--out", required=True, help="output folder (on a cluster: shared)")
    parser.add_argument("--draw", action="store_true",
                        help="also write annotated images and annotated .mp4 clips")
    ray = parser.add_argument_group("Ray")
    ray.add_argument("--ray-address", default=None, metavar="ADDR",
                        help="run on this Ray cluster: auto, HOST:6379 or ray://HOST:10001 "
                             "(default: a private local Ray instance)")
    ray.add_argument("--parallel", type=int, default=0, metavar="N",
                        help="workers, each with its own model copy (0 = one per cluster "
                             "node; 1 locally)")
    ray.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="G",
                        help="GPUs Ray reserves for each worker (e.g. 1, or 0.5 to share)")
    add_model_flags(parser, "batch")
    add_track_args(parser, counts_default=None)
    parser.set_defaults(func=run, fast_exit=True)  # see lookout.cli.main


def run(args: argparse.Namespace, config) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from realtime.batch import BatchSettings, run_batch
    from realtime.batch.ray_runner import RayOptions

    ray = RayOptions(address=args.ray_address, parallel=max(0, args.parallel),
                     batch=args.batch or BATCH, gpus_per_worker=args.gpus_per_worker,
                     verbose=bool(getattr(args, "verbose", False)))
    settings = BatchSettings(draw=args.draw, run=run_settings(args, config, "batch"), ray=ray)
    console = Console(stderr=True, highlight=False)
    console.print(f"model: {model_choice(args.model, settings.run.detector)}", soft_wrap=True)
    columns = (TextColumn("[bold]batch[/]"), BarColumn(), MofNCompleteColumn(),
               TextColumn("files"), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("batch", total=None)
        report = run_batch(args.model, args.inputs, args.out, settings, on_item=lambda done,
                           total: progress.update(task, completed=done, total=total))
    console.print(f"[green]done[/]: {len(report.images)} image(s), {report.detections} "
                  f"detection(s), {len(report.clips)} clip(s) on {report.workers} worker(s) "
                  f"in {report.seconds:.1f} s → {report.out_dir}")
    if not args.ray_address and report.ray_seconds > report.seconds / 4:
        console.print(f"[dim]starting and stopping Ray took {report.ray_seconds:.1f} of "
                      f"{report.seconds:.1f} s: for a job this small, lookout predict and "
                      "lookout annotate are faster (no Ray to start)[/]", soft_wrap=True)
    for clip in report.clips:
        if clip.get("warning"):
            console.print(f"[yellow]warning[/] {escape(clip['file'])}: {escape(clip['warning'])}", soft_wrap=True)
    if report.failed:
        console.print(f"[red]{len(report.failed)} failed[/]:")
        for file, why in report.failed:
            console.print(f"  [red]failed[/] {escape(file)}: {escape(why)}", soft_wrap=True)
    return 1 if report.failed else 0
