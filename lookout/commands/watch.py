"""`lookout watch MODEL --source URL`: doorbell mode (rules, events, notifiers).

Without ``--source`` it watches every ``[[cameras]]`` of the config with the model loaded
once. A thin shell over `realtime.watch.runner.run_watch`; ``--deliver-only`` just
flushes the delivery spool of an events folder (no model, no source).
"""

from __future__ import annotations

import argparse

from core.errors import UserError
from lookout.commands._flags import add_model_flags, run_settings
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
    parser.add_argument("--serve", metavar="[HOST:]PORT",
                        help="also serve the events page with live camera tiles here "
                             "(serve.bind; not loopback: needs a password, see lookout serve)")
    parser.add_argument("--replay", nargs="+", metavar="CLIP",
                        help="run these recorded clips (an event's clips/ID.mp4, or the "
                             "camera's recordings) through the rules and model in file mode, "
                             "notifying nobody, and report alert precision and recall against "
                             "--truth")
    parser.add_argument("--truth", metavar="DIR",
                        help="the review folder --replay is scored against (default: "
                             "[review] dir, else EVENTS_DIR/review)")
    parser.add_argument("--deliver-only", action="store_true",
                        help="only deliver what the events folder's spool still holds, then exit")
    add_model_flags(parser, "watch")
    parser.set_defaults(func=run, fast_exit=True)  # see lookout.cli.main


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
    from realtime.watch.outbox import deliver_pending
    from realtime.watch.rules import parse_alert_flag
    from realtime.watch.runner import run_watch

    settings = run_settings(args, config, "watch")
    if args.deliver_only:
        result = deliver_pending(settings, args.drain)
        print(f"delivered {result.delivered}, still pending {result.pending}")
        return 0 if result.pending == 0 else 3
    name = args.config or DEFAULT_CONFIG
    if args.replay:
        return run_replay(args, config, settings, name)
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
        result = run_watch(args.model, args.source, settings, cameras=cameras, rules=rules,
                           rules_where=where, config_name=name, mode=args.mode,
                           drain_s=args.drain, progress=bar)
    finally:
        bar.close()
    stats = result.stats
    print(f"{stats.summary() if stats else ''}; detector ran on {result.detector_runs} of "
          f"{result.frames} frames; {result.events} event(s) in {settings.watch.events_dir}; "
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


def run_replay(args: argparse.Namespace, config: Config, settings, name: str) -> int:
    """``--replay CLIPS --truth DIR``: the clips through the rules, scored against reviews
    (``settings``: the run's, as a live watch gets them)."""
    from realtime.watch.replay import replay
    from realtime.watch.rules import parse_alert_flag

    if not args.model:
        raise UserError("watch --replay: give MODEL")
    truth = args.truth or config.review.folder(settings.watch.events_dir)
    rules, where = (([parse_alert_flag(a) for a in args.alert], "--alert") if args.alert
                    else (None, f"{name}: watch.rules"))
    bar = FileProgress()
    try:
        # the replay's events go to a temporary folder: --events names the real one
        result = replay(args.model, args.replay, settings, truth, rules=rules, rules_where=where,
                        progress=bar)
    finally:
        bar.close()
    score = result.score

    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    print(f"replayed {len(args.replay)} clip(s), {result.clip_seconds:.1f} s of video in "
          f"{result.wall_seconds:.1f} s ({result.speed:.1f}x real time): {result.events} event(s)")
    print(f"against {truth}: precision {share(score.precision)}, recall {share(score.recall)} "
          f"({score.true_alerts} right alert(s) fired, {score.missed} not; "
          f"{score.false_alerts} wrong alert(s) fired, {score.quiet} quiet; "
          f"{score.uncovered} review(s) not in these clips, {score.unreviewed} unreviewed "
          "event(s))")
    for row in score.rows:
        state = "fires" if row["fired"] else "quiet"
        print(f"  {row['review']}  {row['verdict']:<6} {row['label']:<12} {state}")
    return 0


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
