"""The model and pipeline flags, defined once for every verb that runs a model.

`MODEL_VERB_FLAGS` says which flags each verb takes; `add_model_flags(parser, verb)`
adds them. Every flag's default is None, so `lookout.config.override` applies only
what the user typed and config.toml supplies the rest.
"""

from __future__ import annotations

import argparse
import dataclasses

from lookout.config import Config, override
from realtime.config import BUNDLE_FORMATS, DetectorConfig, PipelineConfig

# flag -> (argparse keyword arguments); the dest is the config key it overrides
DETECTOR_FLAGS: dict[str, dict] = {
    "--score": {"type": float, "help": "minimum score kept"},
    "--classes": {"help": "comma-separated labels to keep, e.g. person,raccoon"},
    "--max-det": {"type": int, "help": "at most N boxes per frame"},
    "--device": {"help": "auto | cpu | gpu | gpu:N"},
    "--labels": {"help": "label_map.pbtxt for a model without a bundle"},
    "--bundle-format": {"choices": BUNDLE_FORMATS,
                        "help": "which file of a bundle runs (auto = model.tflite on a CPU "
                                "when there is one; tflite = LiteRT/XNNPACK)"},
    "--workers": {"type": int, "help": "detector calls run side by side (0 = automatic)"},
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
}


def add_model_flags(parser: argparse.ArgumentParser, verb: str) -> None:
    """Add the detector and pipeline flags ``verb`` takes (see `MODEL_VERB_FLAGS`)."""
    wanted = MODEL_VERB_FLAGS[verb]
    for title, flags in (("detector", DETECTOR_FLAGS), ("pipeline", PIPELINE_FLAGS)):
        group = parser.add_argument_group(title)
        for flag, kwargs in flags.items():
            if flag in wanted:
                group.add_argument(flag, default=None, **kwargs)


def detector_config(args: argparse.Namespace, config: Config) -> DetectorConfig:
    classes = None
    if args.classes is not None:
        classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    return override(config.detector, score=args.score, classes=classes, max_det=args.max_det,
                    device=args.device, labels=args.labels, bundle_format=args.bundle_format,
                    workers=args.workers)


def pipeline_config(args: argparse.Namespace, config: Config,
                    batch_default: int | None = None) -> PipelineConfig:
    batch = args.batch if args.batch is not None else batch_default
    return override(config.pipeline, batch=batch, max_wait_ms=args.max_wait_ms,
                    stride=args.stride, resize=args.resize, queue_size=args.queue_size)


def with_model_flags(args: argparse.Namespace, config: Config,
                     batch_default: int | None = None) -> Config:
    """``config`` with the detector and pipeline flags applied (for verbs that pass the
    whole config on, like watch)."""
    return dataclasses.replace(config, detector=detector_config(args, config),
                               pipeline=pipeline_config(args, config, batch_default))
