"""`lookout live MODEL --source 0`: a thin shell over `realtime.live.run_live`."""

from __future__ import annotations

import argparse

from lookout.commands._flags import add_model_flags, add_track_args, run_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "live", help="detect on a webcam or stream in a window (p pause, s snapshot, q quit)",
        description="Run MODEL on a live source with bounded latency (old frames are dropped). "
                    "Keys in the window: p pause, s snapshot, q quit.")
    parser.add_argument("model", help="bundle folder, frozen graph .pb, SavedModel folder or .tflite")
    parser.add_argument("--source", action="append", default=None,
                        help="webcam index, rtsp:// or http:// URL, or a video file (default 0); "
                             "repeat for several sources: one window, a tile each")
    parser.add_argument("--no-window", action="store_true",
                        help="no window: stream detections as JSONL (stdout unless --jsonl)")
    parser.add_argument("--jsonl", help="also write detections here, one JSON line per frame")
    parser.add_argument("--snapshot-dir", default=None, help="where 's' saves frames")
    add_model_flags(parser, "live")
    add_track_args(parser, counts_default="none")
    parser.set_defaults(func=run, fast_exit=True)  # see lookout.cli.main


def run(args: argparse.Namespace, config) -> int:
    from rich.console import Console

    from lookout.progress import LiveStatus
    from realtime.live import run_live

    settings = run_settings(args, config, "live")
    window = settings.live.window and not args.no_window
    console = Console(stderr=True, highlight=False)
    with LiveStatus(console) as status:
        result = run_live(args.model, args.source or ["0"], settings, window=window,
                          jsonl=args.jsonl, progress=status.update)
    stats = result.stats
    console.print(f"live: {stats.summary()}")
    console.print(f"  detector: {stats.detector}")
    if len(stats.sources) > 1:
        for source in stats.sources:
            console.print(f"  {source.line()}", soft_wrap=True)
    for path in result.snapshots:
        console.print(f"  snapshot {path}")
    if stats.failure_report:
        console.print(f"[yellow]warning:[/] {stats.failure_report}")
    return 130 if stats.stopped_by == "interrupt" else 0
