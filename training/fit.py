"""Training settings read off the data: input size, anchors, zoom-in augmentation, and
the boxes the model returns per image.

`fit_to_data` turns the ``auto`` values of ``[train]`` into numbers from the training
boxes (see `training.autosize` and `training.anchors`) and says what it chose and why,
as lines the command line prints. The result is saved in ``run.json`` (``data_fit``),
so a resumed run rebuilds exactly the same model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import UserError
from training.anchors import FITTED_GAIN, AnchorChoice, anchor_recall, fit_anchors
from training.autosize import BoxStats, SizeChoice, choose_input_size, default_cap
from training.config import TrainConfig
from training.presets import PRESETS
from training.run_record import RunRecord

# Model Garden's detection generator returns 100 boxes an image (COCO's densest images
# hold about 90 objects). A denser set is cut there: on the 12x12 raccoon mosaics (158
# objects a test image) a model returning 100 scored AP50 0.401 and the same checkpoint
# returning 300 scored 0.575. The margin over the densest training image is for test
# images denser still; the cost is a longer NMS output.
DEFAULT_DETECTIONS = 100
DETECTIONS_MARGIN = 1.5


def max_detections_for(most_per_image: int) -> int:
    """Boxes an image the model should return for training images of at most
    ``most_per_image`` objects: 100, or the margin over them rounded up to 50."""
    wanted = -(-int(DETECTIONS_MARGIN * most_per_image) // 50) * 50
    return max(DEFAULT_DETECTIONS, wanted)


@dataclass
class DataFit:
    """What training chose from the data."""

    input_size: int
    anchors: AnchorChoice
    zoom: bool  # random zoom-in crop on (aug_scale_max raised to aug_zoom_max)
    size: SizeChoice | None = None  # None when --input-size was given
    lines: list[str] = field(default_factory=list)  # what to tell the user
    warnings: list[str] = field(default_factory=list)
    max_detections: int = DEFAULT_DETECTIONS  # boxes the model returns per image

    def as_dict(self) -> dict:
        return {"input_size": self.input_size, "anchors": self.anchors.as_dict(),
                "zoom": self.zoom, "data": self.size.as_dict() if self.size else None,
                "max_detections": self.max_detections}

    @classmethod
    def from_dict(cls, d: dict) -> DataFit:
        size = None
        if d.get("data"):
            data = d["data"]
            size = SizeChoice(data["input_size"], "", data["under_16px"], data["small_share"],
                              data["box_p10_px"])
        return cls(int(d["input_size"]), AnchorChoice(**d["anchors"]), bool(d["zoom"]), size,
                   max_detections=int(d.get("max_detections", DEFAULT_DETECTIONS)))


def fit_to_data(cfg: TrainConfig, train_records: list[Path],
                stats: BoxStats | None = None, *, size: int | None = None,
                finer: bool | None = None, zoom_pays: bool = True) -> DataFit:
    """Resolve ``input_size``, ``anchors``, ``aug_zoom`` and ``max_detections`` of ``cfg``
    from the boxes.

    Args:
        size: the input size the time budget chose (`training.plan`), in place of auto.
        finer: may the anchors add a pyramid level finer than the preset's (default: yes,
            but for SpineNet, whose levels are fixed); the budget says no when it cannot
            afford one.
        zoom_pays: may ``aug_zoom = "auto"`` turn the zoom-in on; the budget says no when
            the run sees too few images for it to pay (`training.plan.MIN_IMAGES`).
    """
    preset = PRESETS[cfg.model]  # model, input_size and the choices: checked by TrainConfig
    stats = stats if stats is not None else BoxStats.from_records(train_records)
    lines, warnings = [], []
    size_choice = None
    if size is not None:
        size_choice = choose_input_size(stats, preset.size_multiple, size, floor=size)
        size_choice.size = size
        lines.append(f"input {size} (chosen for the time budget): 10% of boxes are under "
                     f"{size_choice.p10_px:.0f} px at the input")
        if size_choice.under_target > 0.15:
            warnings.append(f"{size_choice.under_target:.0%} of boxes are under 16 px at input "
                            f"{size}; a longer --time lets a larger input pay, or run the "
                            "model with tiled detection (--tile auto)")
    elif cfg.input_size == "auto":
        cap = cfg.max_input_size or default_cap()
        size_choice = choose_input_size(stats, preset.size_multiple, cap)
        size = size_choice.size
        lines.append(size_choice.reason)
        if size_choice.warning:
            warnings.append(size_choice.warning)
    else:
        size = int(cfg.input_size)
        size_choice = choose_input_size(stats, preset.size_multiple, size, floor=size)
        size_choice.size = size  # the figures at the user's size (the tiling hint)
        lines.append(f"input {size} (given): 10% of boxes are under "
                     f"{size_choice.p10_px:.0f} px at the input")
    min_level, max_level = preset.levels
    # --init restores the decoder and head of a model built for its own anchors and levels
    # (Model Garden's for a published checkpoint, run.json's for an earlier run): fitting
    # new ones would change the head's shapes. A plain path or URL: the user's call.
    inherited = _init_anchors(cfg) if cfg.anchors == "auto" and cfg.init else None
    finer = "spinenet" not in cfg.model if finer is None else finer  # SpineNet fixes levels
    iou = cfg.match_iou  # recall is measured where training matches anchors to boxes
    if inherited is not None and inherited.source == "pretrained":
        anchors, line = _weigh_pretrained(stats, size, min_level, max_level, iou)
        lines.append(anchors.describe())
        lines.append(line)
    elif inherited is not None:
        anchors = dataclasses.replace(inherited, iou=iou)
        anchors.recall = anchor_recall(stats, size, anchors, iou)[0]
        lines.append(anchors.describe())
        lines.append("anchors kept as the --init model's: the restored head is built for them")
    elif cfg.anchors == "auto":
        anchors = fit_anchors(stats, size, min_level, max_level, iou=iou, finer=finer)
        lines.append(anchors.describe())
    else:
        anchors = AnchorChoice(min_level=min_level, max_level=max_level, iou=iou)
        anchors.recall = anchors.default_recall = anchor_recall(stats, size, anchors, iou)[0]
        lines.append(anchors.describe())
    if anchors.recall is not None and anchors.recall < 0.9:
        warnings.append(f"only {anchors.recall:.0%} of the boxes match an anchor at IoU "
                        f"{anchors.iou:g}; small objects will be missed: consider tiled "
                        "detection (--tile auto) or a larger --input-size")
    wanted = cfg.aug_zoom == "auto" and size_choice.small_objects
    zoom = cfg.aug_zoom == "on" or (wanted and zoom_pays)
    if wanted and not zoom_pays:
        lines.append("no zoom-in augmentation: the budget allows too few steps for it to pay")
    if zoom:
        lines.append(f"zoom-in augmentation up to {cfg.aug_zoom_max:g}x"
                     + (" (the data has small objects)" if cfg.aug_zoom == "auto" else ""))
    max_det = cfg.max_detections or max_detections_for(stats.most_per_image)
    if max_det != DEFAULT_DETECTIONS:
        lines.append(f"up to {max_det} boxes an image"
                     + (f" (the densest training image has {stats.most_per_image} objects)"
                        if not cfg.max_detections else " (given)"))
    return DataFit(size, anchors, zoom, size_choice, lines, warnings, max_det)


# A published checkpoint's head was trained with Model Garden's anchors: fitted ones
# leave its two output layers (classes and boxes per anchor) untrained, and a finer level
# leaves the FPN unmatched. Worth it only for a large recall gain: twice `FITTED_GAIN`.
PRETRAINED_GAIN = 2 * FITTED_GAIN


def _weigh_pretrained(stats: BoxStats, size: int, min_level: int, max_level: int,
                      iou: float) -> tuple[AnchorChoice, str]:
    """Model Garden's anchors (the pretrained head's output layers kept) or fitted ones
    (those layers start fresh), and one line saying which and why."""
    fitted = fit_anchors(stats, size, min_level, max_level, iou=iou, finer=False)
    default = AnchorChoice(min_level=min_level, max_level=max_level, iou=iou)
    default.recall = default.default_recall = anchor_recall(stats, size, default, iou)[0]
    if fitted.source == "fitted" and fitted.recall >= default.recall + PRETRAINED_GAIN:
        return fitted, (f"anchors fitted, although the pretrained head's two output layers "
                        f"were trained for Model Garden's and must learn them afresh: recall "
                        f"{fitted.recall:.3f} against {default.recall:.3f} with the "
                        "checkpoint's anchors")
    gain = f"{fitted.recall:.3f}" if fitted.source == "fitted" else "no better"
    return default, (f"anchors kept as the pretrained checkpoint's (Model Garden's), with its "
                     f"head's output layers: fitted ones would reach recall {gain}, under the "
                     f"+{PRETRAINED_GAIN:g} that would pay for training those layers afresh")


def _init_anchors(cfg: TrainConfig) -> AnchorChoice | None:
    """The anchors the ``--init`` model was built with: Model Garden's for a published
    detector (``coco``, a full name; source ``pretrained``), run.json's for an earlier lookout run; None for a
    checkpoint path or URL (nothing says which)."""
    from training.catalogue import FULL, lookup

    weights = lookup(cfg.init, cfg.model)
    if weights is not None:  # a backbone alone (ImageNet) leaves the anchors free
        min_level, max_level = PRESETS[cfg.model].levels
        return (AnchorChoice(min_level=min_level, max_level=max_level, source="pretrained")
                if weights.contents == FULL else None)
    try:
        run = RunRecord.read_if_present(cfg.init)
    except UserError:  # not a run of ours after all: nothing says which anchors
        return None
    fit = run.data_fit if run else None
    return AnchorChoice(**fit["anchors"]) if fit and fit.get("anchors") else None


def input_outlook(report, cfg: TrainConfig, cap: int | None = None) -> str:
    """For `lookout dataset check`: the input size `lookout train` would choose for this
    data (``[train]`` as configured) and how many objects stay under 16 px there."""
    import numpy as np

    from training.autosize import TARGET_PX

    if not len(report.box_w):
        return ""
    preset = PRESETS.get(cfg.model)
    if preset is None:
        return ""
    w, h = np.frombuffer(report.box_w, np.float32), np.frombuffer(report.box_h, np.float32)
    longs = np.frombuffer(report.box_image, np.float32)
    zeros = np.zeros_like(w)
    stats = BoxStats(w, h, zeros, zeros, longs, longs, longs)
    if cfg.input_size == "auto":
        choice = choose_input_size(stats, preset.size_multiple, cap or cfg.max_input_size
                                   or default_cap(False))
        how = f"input {choice.size} (auto)"
    else:
        choice = choose_input_size(stats, preset.size_multiple, int(cfg.input_size),
                                   floor=int(cfg.input_size))
        how = f"input {cfg.input_size} ([train] input_size)"
    under = round(choice.under_target * len(stats))
    text = (f"training at {how}: {under} of {len(stats)} object(s) "
            f"({choice.under_target:.0%}) under {TARGET_PX:.0f} px at the model's input")
    if choice.under_target > 0.15:
        text += "; consider tiled detection (--tile auto) when running the model"
    return text


def resolved(cfg: TrainConfig, fit: DataFit) -> TrainConfig:
    """``cfg`` with the chosen numbers in place of ``auto``."""
    return dataclasses.replace(cfg, input_size=fit.input_size)
