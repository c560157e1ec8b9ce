"""`lookout watch MODEL --source URL`: doorbell mode (rules, events, notifiers).

Without ``--source`` it watches every ``[[cameras]]`` of the config with the model loaded
once. A thin shell over `realtime.watch.runner.run_watch`; ``--deliver-only`` just
flushes the delivery spool of an events folder (no model, no source).
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex

from core.errors import UserError
from lookout.commands._flags import add_model_flags, with_lines, with_model_flags
from lookout.config import DEFAULT_CONFIG, Config, override


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "watch", help="doorbell mode: alert once per visit, durable events and notifiers",
        description="Watch a camera, stream or file (or, without --source, every [[cameras]] "
                    "entry of the config, one model for all); each visit that matches a rule "
                    "becomes one event (events.jsonl, snapshots) delivered to the notifiers.")
    parser.add_argument("model", nargs="?", help="bundle folder, frozen graph, SavedModel, .tflite")
    parser.add_argument("--source", help="webcam index, rtsp:// or http:// URL, or video file "
                                         "(default: the config's [[cameras]])")
    parser.add_argument("--alert", action="append", metavar="LABEL[:MIN_SCORE]",
                        help="alert on LABEL (repeatable; replaces [[watch.rules]])")
    parser.add_argument("--events", metavar="DIR", help="events folder (watch.events_dir)")
    parser.add_argument("--webhook", metavar="URL", help="POST each event here (watch.webhook.url)")
    parser.add_argument("--command", metavar="CMD",
                        help="run this per event, split like a shell line but never run by "
                             "a shell (watch.command.argv)")
    parser.add_argument("--no-motion", action="store_true",
                        help="run the detector on every frame (no motion gating)")
    parser.add_argument("--clip", action="store_true", default=None,
                        help="save a short clip per event")
    parser.add_argument("--line", action="append", metavar="X1,Y1,X2,Y2",
                        help="count crossings of this line too (adds to [[track.lines]]; "
                             "rules name it line1, line2, ...)")
    parser.add_argument("--mode", choices=["file", "live"], default=None,
                        help="flow policy (default: live for cameras and streams)")
    parser.add_argument("--drain", type=float, default=30.0, metavar="S",
                        help="at the end, wait this long for pending deliveries (default 30)")
    parser.add_argument("--deliver-only", action="store_true",
                        help="only deliver what the events folder's spool still holds, then exit")
    add_model_flags(parser, "watch")
    parser.set_defaults(func=run, fast_exit=True)  # see lookout.cli.main


def apply_flags(args: argparse.Namespace, config: Config) -> Config:
    """Flags override ``[watch]``, ``[detector]`` and ``[pipeline]``."""
    config = with_model_flags(args, config)
    watch = config.watch
    webhook = override(watch.webhook, url=args.webhook)
    command = watch.command
    if args.command is not None:
        argv = shlex.split(args.command)
        if not argv:
            raise UserError("--command: empty command")
        command = override(command, argv=argv)
    motion = override(watch.motion, enabled=False if args.no_motion else None)
    watch = override(watch, events_dir=args.events, clip=args.clip, webhook=webhook,
                     command=command, motion=motion)
    return dataclasses.replace(config, watch=watch, track=with_lines(config.track, args.line))


class FileProgress:
    """A rich progress bar for files (live sources have the health line instead)."""

    def __init__(self) -> None:
        self.progress = None

    def __call__(self, stats) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        if stats.mode != "file":
            return
        if self.progress is None:
            self.progress = Progress(TextColumn("[bold]watch[/]"), BarColumn(),
                                     MofNCompleteColumn(), TextColumn("[dim]{task.fields[note]}"))
            self.progress.start()
            self.task = self.progress.add_task("watch", total=stats.expected_frames, note="")
        self.progress.update(self.task, completed=stats.frames_written,
                             note=f"detector skipped {stats.frames_gated} still frames")

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def run(args: argparse.Namespace, config: Config) -> int:
    from realtime.watch.rules import parse_alert_flag
    from realtime.watch.runner import deliver_pending, run_watch

    config = apply_flags(args, config)
    if args.deliver_only:
        result = deliver_pending(config, args.drain)
        print(f"delivered {result.delivered}, still pending {result.pending}")
        return 0 if result.pending == 0 else 3
    name = args.config or DEFAULT_CONFIG
    if not args.model or (args.source is None and not config.cameras):
        raise UserError("watch: give MODEL and --source, or [[cameras]] in the config "
                        "(or --deliver-only --events DIR)")
    if args.alert:
        rules, where = [parse_alert_flag(a) for a in args.alert], "--alert"
    else:
        rules, where = None, f"{name}: watch.rules"
    cameras = None if args.source is not None else cameras_of(config, name, args.no_motion)
    bar = FileProgress()
    try:
        result = run_watch(args.model, args.source, config, cameras=cameras, rules=rules,
                           rules_where=where, config_name=name, mode=args.mode,
                           drain_s=args.drain, progress=bar)
    finally:
        bar.close()
    stats = result.stats
    print(f"{stats.summary() if stats else ''}; detector ran on {result.detector_runs} of "
          f"{result.frames} frames; {result.events} event(s) in {config.watch.events_dir}; "
          f"delivered {result.delivered}, pending {result.pending}")
    if stats:
        print(f"detector: {stats.detector}")
    if len(result.cameras) > 1:
        for camera, counts in result.cameras.items():
            print(f"  {camera}: {counts['events']} event(s), detector ran on "
                  f"{counts['detector_runs']} of {counts['frames']} frames"
                  + (f" ({counts['state']})" if counts["state"] == "failed" else ""))
    if stats and stats.stopped_by in ("interrupt", "sigterm"):
        return 130  # as every verb stopped by Ctrl+C or SIGTERM (outputs finalized)
    return 1 if stats and stats.errors and len(stats.errors) == len(stats.sources) else 0


def cameras_of(config: Config, config_name: str, no_motion: bool) -> list:
    """The config's ``[[cameras]]`` as the runner's cameras (``--no-motion`` reaches a
    camera's own ``[cameras.motion]`` too)."""
    from realtime.watch.runner import Camera

    cameras = []
    for i, cam in enumerate(config.cameras):
        if not str(cam.source).strip():
            raise UserError(f"{config_name}: cameras[{i}].source: missing (a webcam index, "
                            "URL or video file)")
        motion = cam.motion
        if motion is not None and no_motion:
            motion = override(motion, enabled=False)
        cameras.append(Camera(str(cam.source), cam.name, cam.rules, motion,
                              where=f"{config_name}: cameras[{i}].rules"))
    return cameras
