"""The training side's config tables: ``[dataset]`` and ``[train]``.

Ranges, choices and the preset's input-size rule are checked when a table is built
(see `core.config`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.config import Problem, Section, doc
from training.presets import PRESETS

DATASET_FORMATS = ("auto", "voc", "tutorial", "csv", "coco", "tfrecord")
STRATEGIES = ("one_device", "mirrored", "multi_worker_mirrored")


@dataclass
class DatasetConfig(Section):
    table = "dataset"

    format: str = doc("auto", "auto | voc | tutorial | csv | coco | tfrecord",
                      choices=DATASET_FORMATS)
    test_fraction: float = doc(0.2, "share of images held out for test when no split is given",
                               ge=0.0, lt=1.0)
    seed: int = doc(42, "seed of the reproducible train/test split")
    max_size: str = doc("", "downscale larger images to fit WxH, e.g. '800x600' ('' = keep)")
    shard_mb: int = doc(200, "start a new TFRecord shard past this many MB", ge=1)
    shards: int = doc(1, "at least this many TFRecord files per split (one or more per "
                         "training worker)", ge=1)
    skip_bad: bool = doc(False, "build anyway, skipping images with errors")
    strict: bool = doc(False, "treat warnings as errors")

    def problems(self) -> Iterable[Problem]:
        size = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", self.max_size)
        if self.max_size and (not size or 0 in (int(size[1]), int(size[2]))):
            yield "max_size", f"expected WIDTHxHEIGHT, e.g. 800x600, got {self.max_size!r}"


@dataclass
class TrainConfig(Section):
    table = "train"

    model: str = doc("retinanet-mobilenetv2-fpn", "preset: retinanet-mobilenetv2-fpn | "
                     "retinanet-mobilenetv2-fpn-l7 | "
                     "retinanet-spinenet-mobile | retinanet-resnet50-fpn")
    input_size: int | str = doc("auto", "square input size in pixels (a multiple of 64 for "
                                "retinanet-mobilenetv2-fpn, of 128 for the SpineNet and ResNet "
                                "presets), or auto: read off the training boxes so 90% of them "
                                "are at least 16 px at the input")
    max_input_size: int = doc(0, "the largest size auto may choose (0 = 640 on a CPU, 1024 "
                              "where a GPU trains)", ge=0)
    anchors: str = doc("auto", "auto (anchor size, ratios and scales fitted to the training "
                       "boxes) | default (Model Garden's)", choices=("auto", "default"))
    time: str = doc("", "wall-clock training time, e.g. 30m, 2h, 90s: the run plans its "
                    "steps, input size and levels for it and stops by the clock ('' = "
                    "train.steps, or train.cpu_time on a CPU when steps is 0)")
    cpu_time: str = doc("30m", "the budget on a CPU when neither time nor steps is given")
    steps: int = doc(0, "training steps (0 = as many as the time allows; 2000 where a GPU "
                        "trains with no time); with time, whichever is reached first ends "
                        "the run", ge=0)
    batch: int = doc(8, "global batch size", ge=1)
    lr: float = doc(0.01, "base learning rate (cosine decay with warm-up)", gt=0.0)
    init: str = doc("auto", "auto (the preset's COCO checkpoint when it is cached, in the "
                    "weights mirror or downloadable, else from scratch, saying so) | none | "
                    "coco | imagenet | a name from `lookout train --list-init` | checkpoint "
                    "path, URL or runs/NAME to start from")
    weights_url: str = doc("", "mirror of Model Garden's weights (http(s) URL or folder with "
                               "the same paths); '' = $LOOKOUT_WEIGHTS_URL or the published URLs")
    freeze: str = doc("", "modules left untrained: backbone | backbone,decoder ('' = none)")
    checkpoint_every: int = doc(200, "write a checkpoint every N steps", ge=1)
    strategy: str = doc("one_device", "one_device | mirrored | multi_worker_mirrored",
                        choices=STRATEGIES)
    input_cache: str = doc("auto", "auto (keep the decoded training images, shrunk to what "
                           "augmentation can use, in memory when they fit a quarter of the "
                           "available memory; augmentation still runs every epoch) | off",
                           choices=("auto", "off"))
    max_detections: int = doc(0, "the most boxes the model returns per image (0 = from the "
                              "data: Model Garden's 100, or more when the densest training "
                              "image needs it)", ge=0)
    match_iou: float = doc(0.5, "IoU with an object at which an anchor learns it; below, "
                           "background (each object also keeps its best anchor)",
                           gt=0.0, le=1.0)
    aug_flip: bool = doc(True, "random horizontal flip")
    aug_scale_min: float = doc(0.8, "scale jitter lower bound", gt=0.0)
    aug_scale_max: float = doc(1.2, "scale jitter upper bound", gt=0.0)
    aug_zoom: str = doc("auto", "random zoom-in crop up to aug_zoom_max, so small objects are "
                        "also seen larger: auto (on when 10% of boxes are under 32 px at the "
                        "input) | on | off", choices=("auto", "on", "off"))
    aug_zoom_max: float = doc(2.0, "the zoom-in's largest scale (Model Garden's aug_scale_max)",
                              ge=1.0)

    def problems(self) -> Iterable[Problem]:
        preset = PRESETS.get(self.model)
        if preset is None:
            yield "model", f"must be one of {' | '.join(PRESETS)}, got {self.model!r}"
        elif isinstance(self.input_size, str):
            if self.input_size != "auto":
                yield "input_size", f"expected auto or a number of pixels, got {self.input_size!r}"
        elif self.input_size <= 0 or self.input_size % preset.size_multiple:
            yield "input_size", (f"{self.model} needs a positive multiple of "
                   f"{preset.size_multiple}, got {self.input_size}")
        from core.errors import UserError
        from training.budget import parse_duration

        for key in ("time", "cpu_time"):
            try:
                parse_duration(getattr(self, key), key)
            except UserError as exc:
                yield key, str(exc).split(": ", 1)[1]
        frozen = [m.strip() for m in self.freeze.split(",") if m.strip()]
        if any(m not in ("backbone", "decoder") for m in frozen):
            yield "freeze", f"can freeze backbone and decoder, got {self.freeze!r}"
        if self.aug_scale_min > self.aug_scale_max:
            yield "aug_scale_min", (f"{self.aug_scale_min} is above aug_scale_max "
                   f"{self.aug_scale_max}")


@dataclass
class RetrainConfig(Section):
    """``[retrain]``: how `lookout retrain` trains a candidate and when it promotes it."""

    table = "retrain"

    time: str = doc("", "training time of the candidate, e.g. 20m ('' = steps alone); "
                    "its steps are what the time allows, or steps when that comes first")
    steps: int = doc(300, "training steps of the candidate, from the bundle's own run "
                          "(with time: at most this many; 0 = as many as the time allows)",
                     ge=0)
    margin: float = doc(0.02, "promote only if the candidate's test-split AP50 is at most this "
                        "much below the current model's", ge=0.0, le=1.0)
    score: float = doc(0.5, "a reviewed object counts as found, and a wrong alert as still "
                       "firing, at this detection score", ge=0.0, le=1.0)
    test_fraction: float = doc(0.2, "share of the reviewed frames in the test split (chosen by "
                               "a hash of each name, so a frame keeps its split)", ge=0.0, lt=1.0)

    def problems(self) -> Iterable[Problem]:
        from core.errors import UserError
        from training.budget import parse_duration

        try:
            parse_duration(self.time, "time")
        except UserError as exc:
            yield "time", str(exc).split(": ", 1)[1]
        if not self.time and self.steps == 0:
            yield "steps", "0 (as many as the time allows) needs a time"
