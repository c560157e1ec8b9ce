"""`lookout annotate MODEL CLIP --out OUT.mp4`: a thin shell over `realtime.annotate`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lookout.commands._flags import (
    add_model_flags,
    add_track_args,
    counts_lines,
    detector_config,
    pipeline_config,
    track_config,
)
from lookout.config import override


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "annotate", help="draw a model's detections on a video (audio kept)",
        description="Run MODEL on every frame of CLIP and write an annotated H.264 mp4 "
                    "(same fps and size, original audio), plus optional detections.")
    parser.add_argument("model", help="bundle folder, frozen graph .pb, SavedModel folder or .tflite")
    parser.add_argument("clip", help="video file, image folder/glob, or stream URL")
    parser.add_argument("--out", help="annotated .mp4 to write")
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

    if not (args.out or args.jsonl or args.coco or args.frames_dir):
        raise UserError("nothing to write: give --out OUT.mp4 (and/or --jsonl, --coco, "
                        "--frames-dir)")
    outputs = AnnotateOutputs(args.out, args.jsonl, args.coco, args.frames_dir, args.counts)
    track_cfg = track_config(args, config)
    annotate_cfg = override(config.annotate, crf=args.crf, preset=args.preset,
                            audio=False if args.no_audio else None)
    console = Console(stderr=True, highlight=False)
    with AnnotateProgress(console, args.clip) as progress:
        stats = annotate(args.model, args.clip, outputs, detector_config(args, config),
                         pipeline_config(args, config), annotate_cfg, progress=progress.update,
                         track_cfg=track_cfg)
    console.print(f"[green]annotated[/] {stats.summary()}")
    console.print(f"  detector: {stats.detector}")
    counts = None
    if track_cfg.enabled and (track_cfg.lines or track_cfg.zones):
        counts = args.counts or default_counts_path(outputs)
    for path in (args.out, args.jsonl, args.coco, args.frames_dir, counts):
        if path and path != "-":
            console.print(f"  wrote {path}")
    if counts and Path(counts).is_file():
        for line in counts_lines(json.loads(Path(counts).read_text())):
            console.print(f"  {line}")
    if stats.failure_report:
        console.print(f"[yellow]warning:[/] {stats.failure_report}")
    if stats.stopped_by == "interrupt":
        console.print("[yellow]interrupted[/]: outputs hold the frames done so far")
        return 130
    return 0
