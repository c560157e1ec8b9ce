"""`lookout frames VIDEO --every 2s --out DIR`: frames to label, named by clip and time."""

from __future__ import annotations

import argparse

from lookout.config import Config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "frames", help="grab frames from a video to label (labelImg, lookout label)",
        description="Write frames of VIDEO into DIR as JPEGs named <clip>_<HH-MM-SS.mmm>.jpg: "
                    "one every --every (a duration such as 2s or 500ms, or a frame count such "
                    "as 30). --scene keeps only frames that differ from the last one kept.")
    p.add_argument("video", help="video file (mp4, avi, mkv, ...)")
    p.add_argument("--out", required=True, help="output folder (created if needed)")
    p.add_argument("--every", default="1s",
                   help="2s, 500ms, 1m (video time) or N (every Nth frame); default 1s")
    p.add_argument("--scene", nargs="?", type=float, const=-1.0, default=None, metavar="CHANGE",
                   help="keep a frame only if it differs from the last kept one (mean change "
                        "0..1 of a small grey thumbnail; 0.04 when given without a value)")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality (default 95)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    from rich.console import Console

    from lookout.progress import Bars
    from training.labeling.frames import DEFAULT_SCENE, Every, extract_frames

    every = Every.parse(args.every)
    scene = DEFAULT_SCENE if args.scene == -1.0 else args.scene
    with Bars(transient=True) as bars:
        report = extract_frames(args.video, args.out, every, scene=scene, quality=args.quality,
                                on_progress=bars)
    similar = f", {report.skipped_similar} skipped as similar" if scene is not None else ""
    Console(highlight=False).print(
        f"wrote {len(report.written)} frame(s) of {report.read} read{similar} to {args.out}")
    if report.written:
        Console(highlight=False).print(f"next: label them in labelImg, or "
                                       f"lookout label MODEL {args.out}")
    return 0
