"""`lookout annotate MODEL CLIP --out OUT.mp4` and `lookout annotate MODEL CLIPS...
--out-dir DIR`: a thin shell over `realtime.annotate`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lookout.commands._flags import add_model_flags, add_track_args, counts_lines, run_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "annotate", help="draw a model's detections on a video (audio kept)",
        description="Run MODEL on every frame of CLIP and write an annotated H.264 mp4 "
                    "(same fps and size, original audio), plus optional detections. Several "
                    "clips (or quoted globs) with --out-dir DIR: one process, one model, "
                    "DIR/<stem>.mp4 and DIR/<stem>.jsonl for each.")
    parser.add_argument("model", help="bundle folder, frozen graph .pb, SavedModel folder or .tflite")
    parser.add_argument("clips", nargs="+", metavar="CLIP",
                        help="video file, image folder/glob, or stream URL (several: --out-dir)")
    parser.add_argument("--out", help="annotated .mp4 to write (one clip)")
    parser.add_argument("--out-dir", metavar="DIR",
                        help="annotate every CLIP into DIR/<stem>.mp4 + DIR/<stem>.jsonl")
    parser.add_argument("--jobs", type=int, default=0, metavar="N",
                        help="with --out-dir: at most N clips open at once "
                             "(default: enough to fill a batch)")
    parser.add_argument("--jsonl", help="detections, one JSON line per frame ('-' = stdout)")
    parser.add_argument("--coco", help="detections as COCO results JSON")
    parser.add_argument("--frames-dir", help="also save every annotated frame as a JPEG here")
    parser.add_argument("--crf", type=int, default=None, help="H.264 quality (lower = better)")
    parser.add_argument("--preset", default=None, help="x264 preset, e.g. ultrafast, veryfast")
    parser.add_argument("--no-audio", action="store_true", help="drop the source's audio")
    add_model_flags(parser, "annotate")
    add_track_args(parser)
    parser.set_defaults(func=run, fast_exit=True)  # see lookout.cli.main


def run(args: argparse.Namespace, config) -> int:
    from rich.console import Console

    from core.errors import UserError
    from lookout.progress import AnnotateProgress
    from realtime.annotate import AnnotateOutputs, annotate, default_counts_path

    if args.out_dir or len(args.clips) > 1:
        return run_many(args, config, Console(stderr=True, highlight=False))

    if not (args.out or args.jsonl or args.coco or args.frames_dir):
        raise UserError("nothing to write: give --out OUT.mp4 (and/or --jsonl, --coco, "
                        "--frames-dir)")
    (clip,) = args.clips
    outputs = AnnotateOutputs(args.out, args.jsonl, args.coco, args.frames_dir)
    settings = run_settings(args, config, "annotate")
    console = Console(stderr=True, highlight=False)
    with AnnotateProgress(console, clip) as progress:
        stats = annotate(args.model, clip, outputs, settings, progress=progress.update)
    console.print(f"[green]annotated[/] {stats.summary()}")
    console.print(f"  detector: {stats.detector}")
    tracking = settings.tracking
    counts = tracking.counts_path(default_counts_path(outputs)) if tracking.counting else None
    for path in (args.out, args.jsonl, args.coco, args.frames_dir, counts):
        if path and path != "-":
            console.print(f"  wrote {path}")
    if counts and Path(counts).is_file():
        for line in counts_lines(json.loads(Path(counts).read_text())):
            console.print(f"  {line}")
    return _ending(stats, console, failed=0)


def run_many(args: argparse.Namespace, config, console) -> int:
    """Many clips, one model: DIR/<stem>.mp4 and .jsonl each."""
    from core.errors import UserError
    from lookout.progress import AnnotateProgress
    from realtime.annotate import annotate_many, expand_clips

    if not args.out_dir:
        raise UserError("several clips: give --out-dir DIR (each clip -> DIR/<stem>.mp4)")
    if args.out or args.jsonl or args.coco or args.frames_dir or args.counts:
        raise UserError("--out-dir writes DIR/<stem>.mp4 and .jsonl per clip (and "
                        ".counts.json when counting); drop --out, --jsonl, --coco, "
                        "--frames-dir and --counts")
    if args.jobs < 0:
        raise UserError(f"--jobs must be >= 1, got {args.jobs}")
    clips = expand_clips(args.clips)  # a missing clip fails before the bar and the model
    with AnnotateProgress(console, f"{len(clips)} clips") as progress:
        stats = annotate_many(args.model, clips, args.out_dir, run_settings(args, config,
                                                                            "annotate"),
                              jobs=args.jobs, progress=progress.update)
    console.print(f"[green]annotated[/] {stats.summary()}")
    console.print(f"  detector: {stats.detector}")
    for source in stats.sources:
        if source.state == "failed":
            console.print(f"[red]failed[/] {source.error}", soft_wrap=True)
        elif source.frames_written:
            console.print(f"  {source.name}: {source.frames_written} frames")
    console.print(f"  wrote {args.out_dir}")
    return _ending(stats, console, failed=1 if stats.errors else 0)


def _ending(stats, console, failed: int) -> int:
    """The lines every annotate run ends with, and its exit code (130 when interrupted)."""
    if stats.failure_report:
        console.print(f"[yellow]warning:[/] {stats.failure_report}")
    if stats.stopped_by == "interrupt":
        console.print("[yellow]interrupted[/]: outputs hold the frames done so far")
        return 130
    return failed

