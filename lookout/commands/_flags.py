"""Flags shared by the verbs that run a model on video (annotate, live; watch may reuse).

Each ``add_*`` adds flags whose default is None, so `lookout.config.override` applies
only what the user typed and config.toml supplies the rest.
"""

from __future__ import annotations

import argparse

from lookout.config import Config, DetectorConfig, PipelineConfig, override


def add_detector_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("detector")
    group.add_argument("--score", type=float, default=None, help="minimum score kept")
    group.add_argument("--classes", default=None,
                       help="comma-separated labels to keep, e.g. person,raccoon")
    group.add_argument("--max-det", type=int, default=None, help="at most N boxes per frame")
    group.add_argument("--device", default=None, help="auto | cpu | gpu | gpu:N")
    group.add_argument("--labels", default=None,
                       help="label_map.pbtxt for a model without a bundle")
    group.add_argument("--bundle-format", default=None,
                       choices=["auto", "saved_model", "frozen_graph", "tflite"],
                       help="which file of a bundle runs (auto = model.tflite on a CPU when "
                            "there is one; tflite = LiteRT/XNNPACK)")
    group.add_argument("--workers", type=int, default=None,
                       help="detector calls run side by side (0 = automatic)")


def add_pipeline_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pipeline")
    group.add_argument("--batch", type=int, default=None, help="frames per detector call")
    group.add_argument("--max-wait", type=float, default=None, dest="max_wait_ms", metavar="MS",
                       help="send a partial batch after this many ms")
    group.add_argument("--stride", type=int, default=None, help="read every Nth frame")
    group.add_argument("--resize", type=int, default=None, metavar="PX",
                       help="shrink frames to at most PX (longer side) before the detector")
    group.add_argument("--queue-size", type=int, default=None, help="bound of each queue")


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
