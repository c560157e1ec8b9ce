"""Pretrained weights by name: Model Garden's published checkpoints and the presets they fit.

Every entry was checked against Model Garden's own sources (tensorflow/models and the
MediaPipe Model Maker specs that fine-tune from the same files):

- ``official/vision/MODEL_GARDEN.md``: RetinaNet R50-FPN 640 px (box AP 36.8, ckpt link),
  Mobile SpineNet-49 384 px (box AP 28.1, ckpt link), ResNet-50 ImageNet (ckpt link).
- ``official/projects/qat/vision/README.md`` + ``configs/experiments/retinanet/
  coco_mobilenetv2_qat_tpu_e2e.yaml``: the float MobileNetV2 RetinaNet ("SSD") COCO
  checkpoints (mAP 23.3 at 256 px), FPN 128 separable, head 4 separable convs of 128,
  relu6, levels 3-7; the tarball unpacks to ``mobilenetv2_ssd_i256_ckpt/``.
- ``mediapipe/model_maker/python/vision/object_detector/model_spec.py``: the same
  256 px (levels 3-7) and 320 px (levels 3-6) files, checkpoint ``ckpt-277200``;
  ``model.py`` restores backbone, decoder and head except the classifier's
  class-dependent weights, which is what lookout does.
- Model Garden's Mask R-CNN tutorial: the MobileNetV2 ImageNet backbone
  ``vision/mobilenet/v2_1.0_float/ckpt-180648`` (a checkpoint prefix, two files).

No sha256 is published for these files, so none is pinned (the download cache records
the digest of what it fetched). ``member`` is where the checkpoint sits inside the
archive where a Model Garden source shows it; None where no source does (then the
checkpoint is found by its ``*.index`` file).

``LOOKOUT_WEIGHTS_URL`` (or ``[train] weights_url``) replaces ``BASE_URL``: a mirror over
HTTP(S) with the same relative paths, or a local folder holding them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError

BASE_URL = "https://storage.googleapis.com/tf_model_garden/"
MIRROR_ENV = "LOOKOUT_WEIGHTS_URL"
FULL = "backbone + decoder + head"
BACKBONE = "backbone only"


@dataclass(frozen=True)
class Weights:
    """One published checkpoint."""

    name: str  # what --init takes
    path: str  # below BASE_URL: an archive, or a checkpoint prefix (.index + .data)
    dataset: str  # "coco" or "imagenet"
    contents: str  # FULL or BACKBONE
    architecture: str
    input_size: int
    presets: tuple[str, ...]  # lookout presets that build exactly this architecture
    published: str  # the score Model Garden publishes for it
    member: str | None = None  # checkpoint prefix inside the archive (None = not shown)
    sha256: str | None = None
    source: str = ""

    @property
    def is_archive(self) -> bool:
        return self.path.endswith((".tar.gz", ".tgz", ".tar"))


CATALOGUE: tuple[Weights, ...] = (
    Weights(
        "retinanet-mobilenetv2-fpn-i320-coco",
        "vision/qat/mobilenetv2_ssd_coco/mobilenetv2_ssd_i320_ckpt.tar.gz", "coco", FULL,
        "RetinaNet, MobileNetV2, FPN 128 separable (Keras layers), head 4x128 separable, "
        "relu6, levels 3-6", 320, ("retinanet-mobilenetv2-fpn",),
        "COCO AP: none published (MediaPipe Model Maker's MOBILENET_V2_I320)",
        member="mobilenetv2_ssd_i320_ckpt/ckpt-277200",
        source="mediapipe model_maker object_detector/model_spec.py"),
    Weights(
        "retinanet-mobilenetv2-fpn-i256-coco",
        "vision/qat/mobilenetv2_ssd_coco/mobilenetv2_ssd_i256_ckpt.tar.gz", "coco", FULL,
        "RetinaNet, MobileNetV2, FPN 128 separable (Keras layers), head 4x128 separable, "
        "relu6, levels 3-7", 256, ("retinanet-mobilenetv2-fpn-l7",),
        "COCO AP 23.3 (FP32, 256 px)",
        member="mobilenetv2_ssd_i256_ckpt/ckpt-277200",
        source="official/projects/qat/vision/README.md; coco_mobilenetv2_qat_tpu_e2e.yaml"),
    Weights(
        "retinanet-spinenet49-mobile-coco", "vision/retinanet/spinenet49mobile.tar.gz",
        "coco", FULL,
        "RetinaNet, Mobile SpineNet-49 (SE 0.2), no decoder, head 4x48 separable, "
        "hard-swish, levels 3-7", 384, ("retinanet-spinenet-mobile",),
        "COCO AP 28.1 (384 px)",
        source="official/vision/MODEL_GARDEN.md; coco_spinenet49_mobile_tpu.yaml"),
    Weights(
        "retinanet-resnet50-fpn-coco", "vision/retinanet/retinanet-resnet50fpn.tar.gz",
        "coco", FULL,
        "RetinaNet, ResNet-50, FPN 256, head 4x256, relu, levels 3-7", 640,
        ("retinanet-resnet50-fpn",), "COCO AP 36.8 (640 px, 72 epochs)",
        member="ckpt-33264",
        source="official/vision/MODEL_GARDEN.md; configs/retinanet.py retinanet_resnetfpn_coco"),
    Weights(
        "resnet50-imagenet", "vision/resnet/resnet-50-i224.tar.gz", "imagenet", BACKBONE,
        "ResNet-50 classifier (ImageNet, 224 px); its backbone", 224,
        ("retinanet-resnet50-fpn",), "ImageNet top-1 77.1 (200 epochs)",
        source="official/vision/MODEL_GARDEN.md"),
    Weights(
        "mobilenetv2-imagenet", "vision/mobilenet/v2_1.0_float/ckpt-180648", "imagenet",
        BACKBONE, "MobileNetV2 1.0 classifier (ImageNet, 224 px); its backbone", 224,
        ("retinanet-mobilenetv2-fpn", "retinanet-mobilenetv2-fpn-l7"),
        "ImageNet top-1: none published beside the file",
        source="Model Garden's Mask R-CNN tutorial (docs/vision/instance_segmentation)"),
)

BY_NAME = {w.name: w for w in CATALOGUE}


def lookup(spec: str, preset: str) -> Weights | None:
    """The entry ``spec`` names for ``preset``: ``coco``/``imagenet`` or a full name.

    Returns None when ``spec`` is not a catalogue name (a path or URL). Raises
    `UserError` when it is one that does not fit ``preset``.
    """
    if spec in BY_NAME:
        weights = BY_NAME[spec]
        if preset not in weights.presets:
            raise UserError(f"--init {spec}: made for {' or '.join(weights.presets)}, not "
                            f"{preset} (use --model {weights.presets[0]})")
        return weights
    if spec in ("coco", "imagenet"):
        fits = [w for w in CATALOGUE if w.dataset == spec and preset in w.presets]
        if not fits:
            other = [w.name for w in CATALOGUE if preset in w.presets]
            hint = f"; for it: {', '.join(other)}" if other else ""
            presets = sorted({p for w in CATALOGUE if w.dataset == spec for p in w.presets})
            raise UserError(f"--init {spec}: no {spec} checkpoint for {preset} (there is one "
                            f"for {', '.join(presets)}){hint}")
        return fits[0]
    return None


def weights_url(weights: Weights, mirror: str | None = None) -> str:
    """Where to fetch ``weights``: ``mirror`` (or $LOOKOUT_WEIGHTS_URL) + path, else the
    published URL. A mirror without a scheme is a local folder (the returned path)."""
    mirror = mirror or os.environ.get(MIRROR_ENV) or ""
    pin = f"#sha256={weights.sha256}" if weights.sha256 else ""
    if not mirror:
        return BASE_URL + weights.path + pin
    if mirror.startswith(("http://", "https://")):
        return mirror.rstrip("/") + "/" + weights.path + pin
    folder = Path(mirror.removeprefix("file://")).expanduser()
    if not folder.is_dir():
        raise UserError(f"{MIRROR_ENV}/weights_url {mirror}: no such folder (give an "
                        "http(s):// URL or a folder laid out like tf_model_garden/)")
    local = folder / weights.path
    if not (local.exists() or Path(f"{local}.index").exists()):
        raise UserError(f"{local}: not in the weights mirror {folder} (expected "
                        f"{weights.path} below it)")
    return str(local)


def describe(mirror: str | None = None) -> list[dict]:
    """The catalogue as rows for ``lookout train --list-init``."""
    rows = []
    for w in CATALOGUE:
        try:
            url = weights_url(w, mirror)
        except UserError as exc:
            url = f"({exc})"
        rows.append({"name": w.name, "init": w.dataset, "presets": ", ".join(w.presets),
                     "contents": w.contents, "input": w.input_size,
                     "published": w.published, "architecture": w.architecture, "url": url})
    return rows
