"""The model and pipeline flags, defined once for every verb that runs a model, and
`run_settings`: the one place flags + config.toml become a run's `RunSettings`.

`MODEL_VERB_FLAGS` says which flags each verb takes; `add_model_flags(parser, verb)`
adds them. Every flag's default is None, so `lookout.config.override` applies only
what the user typed and config.toml supplies the rest.
"""

from __future__ import annotations

import argparse
import shlex

from core.errors import UserError
from lookout.config import Config, override
from realtime.config import BUNDLE_FORMATS, DetectorConfig, PipelineConfig
from realtime.settings import RunSettings

# flag -> (argparse keyword arguments); the dest is the config key it overrides
DETECTOR_FLAGS: dict[str, dict] = {
    "--score": {"type": float, "help": "minimum score kept"},
    "--classes": {"help": "comma-separated labels to keep, e.g. person,raccoon"},
    "--max-det": {"type": int, "help": "at most N boxes per frame (0 = all the model returns)"},
    "--device": {"help": "auto | cpu | gpu | gpu:N"},
    "--labels": {"help": "label_map.pbtxt for a model without a bundle"},
    "--bundle-format": {"choices": BUNDLE_FORMATS,
                        "help": "which file of a bundle runs (auto = model.tflite on a CPU "
                                "when there is one, model_int8.tflite if the bundle's "
                                "evaluation found it within max_ap50_drop; tflite/int8 = "
                                "LiteRT/XNNPACK)"},
    "--workers": {"type": int, "help": "detector calls run side by side (0 = automatic)"},
    "--tile": {"metavar": "auto|N|off",
               "help": "tiled detection for small objects: overlapping N px tiles plus the "
                       "whole frame (auto: at the bundle's input size, when the frame is 2x "
                       "larger and tiles won in the bundle's evaluation)"},
}
PIPELINE_FLAGS: dict[str, dict] = {
    "--batch": {"type": int, "help": "frames (images) per detector call"},
    "--max-wait": {"type": float, "dest": "max_wait_ms", "metavar": "MS",
                   "help": "send a partial batch after this many ms"},
    "--stride": {"type": int, "help": "read every Nth frame"},
    "--resize": {"type": int, "metavar": "PX",
                 "help": "shrink frames to at most PX (longer side) before the detector"},
    "--queue-size": {"type": int, "help": "bound of each queue between stages"},
}
VIDEO = tuple(PIPELINE_FLAGS)
MODEL_VERB_FLAGS: dict[str, tuple[str, ...]] = {
    "predict": (*DETECTOR_FLAGS, "--batch"),  # still images: no stream to pace or stride
    "annotate": (*DETECTOR_FLAGS, *VIDEO),
    "live": (*DETECTOR_FLAGS, *VIDEO),
    "watch": (*DETECTOR_FLAGS, *VIDEO),
    "batch": (*DETECTOR_FLAGS, *VIDEO),  # --batch: images per worker call and clip frames
    "label": (*DETECTOR_FLAGS,),  # one image at a time: its XML is written before the next
}


def add_model_flags(parser: argparse.ArgumentParser, verb: str) -> None:
    """Add the detector and pipeline flags ``verb`` takes (see `MODEL_VERB_FLAGS`)."""
    wanted = MODEL_VERB_FLAGS[verb]
    for title, flags in (("detector", DETECTOR_FLAGS), ("pipeline", PIPELINE_FLAGS)):
        group = parser.add_argument_group(title)
        for flag, kwargs in flags.items():
            if flag in wanted:
                group.add_argument(flag, default=None, **kwargs)


def detector_config(args, config: Config) -> DetectorConfig:
    classes = None
    if args.classes is not None:
        classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    return override(config.detector, score=args.score, classes=classes, max_det=args.max_det,
                    device=args.device, labels=args.labels, bundle_format=args.bundle_format,
                    workers=args.workers, tile=args.tile)


def model_choice(model: str, cfg: DetectorConfig) -> str:
    """Which file of MODEL runs with ``cfg`` and why, before anything loads (for verbs
    whose workers load the model elsewhere, like batch)."""
    from pathlib import Path

    from realtime.detectors.loader import BACKENDS, auto_choice

    path = Path(model)
    return auto_choice(path, cfg) if BACKENDS["bundle"].probe(path) else str(path)


def pipeline_config(args, config: Config,
                    batch_default: int | None = None) -> PipelineConfig:
    batch = args.batch if args.batch is not None else batch_default
    return override(config.pipeline, batch=batch, max_wait_ms=args.max_wait_ms,
                    stride=args.stride, resize=args.resize, queue_size=args.queue_size)


# frames (images) per detector call when --batch is not given and the verb's own
# default beats [pipeline] batch: still images batch well; live wants the lowest latency
BATCH_DEFAULTS = {"predict": 8}


def run_settings(args: argparse.Namespace, config: Config, verb: str) -> RunSettings:
    """The one `RunSettings` of a model verb's run: config.toml's tables with the flags
    ``verb`` took applied (a flag the verb does not have counts as not given).

    Raises:
        UserError: a flag's value out of range, naming the flag.
    """
    flags = _Given(args)
    batch_default = config.live.batch if verb == "live" else BATCH_DEFAULTS.get(verb)
    audio = False if flags.no_audio else None
    return RunSettings(
        detector=detector_config(flags, config),
        pipeline=pipeline_config(flags, config, batch_default),
        track=track_config(flags, config),
        annotate=override(config.annotate, crf=flags.crf, preset=flags.preset, audio=audio),
        live=override(config.live, snapshot_dir=flags.snapshot_dir),
        watch=watch_config(flags, config),
        serve=override(config.serve, bind=flags.serve),
        counts=flags.counts,
        review=config.review)


class _Given:
    """``args`` where a flag the verb does not take reads as None (not given)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self._args = args

    def __getattr__(self, name: str):
        return getattr(self._args, name, None)


def watch_config(args, config: Config):
    """``[watch]`` with watch's flags applied."""
    watch = config.watch
    webhook = override(watch.webhook, url=args.webhook)
    command = watch.command
    if args.command is not None:
        argv = shlex.split(args.command)
        if not argv:
            raise UserError("--command: empty command")
        command = override(command, argv=argv)
    motion = override(watch.motion, enabled=False if args.no_motion else None)
    return override(watch, events_dir=args.events, clip=args.clip, webhook=webhook,
                    command=command, motion=motion)


def add_track_args(parser: argparse.ArgumentParser,
                   counts_default: str | None = "OUT.counts.json beside the output") -> None:
    """The tracking and counting flags; ``counts_default=None``: no ``--counts`` (a verb
    that writes one counts file per clip beside its outputs)."""
    group = parser.add_argument_group("tracking and counting")
    group.add_argument("--track", action=argparse.BooleanOptionalAction, default=None,
                       help="give detections track ids (default: track.enabled, on)")
    group.add_argument("--trails", action="store_true", default=None,
                       help="draw each track's recent path")
    group.add_argument("--line", action="append", metavar="X1,Y1,X2,Y2",
                       help="count crossings of this line (pixels, or fractions of the frame "
                            "when all <= 1; 'in' = to the right walking from point 1 to 2); "
                            "repeatable, adds to [[track.lines]]")
    group.add_argument("--max-missed", type=int, default=None, metavar="N",
                       help="frames a lost track is kept (track.max_missed)")
    group.add_argument("--smooth", type=float, default=None, metavar="W",
                       help="smooth boxes and scores along tracks, weight of the past in [0, 1)")
    if counts_default is not None:
        group.add_argument("--counts", metavar="PATH",
                           help=f"counts summary JSON, written at the end when lines or zones "
                                f"are set (default: {counts_default})")


def track_config(args, config: Config):
    """``[track]`` with the flags applied (errors name the flag); ``--line`` adds lines."""
    cfg = override(config.track, enabled=args.track, trails=args.trails,
                   max_missed=args.max_missed, smooth=args.smooth)
    return with_lines(cfg, args.line)


def with_lines(cfg, lines: list[str] | None):
    """``cfg`` (a `TrackConfig`) plus the ``--line`` flags, named after the lines it has."""
    from realtime.tracking.config import parse_line_flag

    if not lines:
        return cfg
    start = len(cfg.lines) + 1
    added = [parse_line_flag(text, start + i) for i, text in enumerate(lines)]
    return override(cfg, lines=cfg.lines + added)


def counts_lines(summary: dict) -> list[str]:
    """A counts summary as console lines: ``door: in 3 (person 2, dog 1), out 1 (person 1)``
    and ``porch: person 2 (at most 1 at once, longest 12.5 s)`` (visits per class)."""
    def per_class(counts: dict) -> str:
        return ", ".join(f"{label} {n}" for label, n in counts.items())

    out = []
    for name, line in summary.get("lines", {}).items():
        parts = [f"{d} {line['total'][d]}" + (f" ({per_class(line[d])})" if line[d] else "")
                 for d in ("in", "out")]
        out.append(f"{name}: " + ", ".join(parts))
    for name, zone in summary.get("zones", {}).items():
        parts = [f"{label} {c['visits']} (at most {c['max_inside']} at once, longest "
                 f"{c['dwell_s_max']:.1f} s)" for label, c in zone["classes"].items()]
        out.append(f"{name}: " + ("; ".join(parts) or "nobody"))
    return out
