"""Model presets: a lookout model name → the Model Garden experiment it starts from and
the backbone/decoder/head changes that make it ours (`training.experiment` builds the
whole experiment). A table only: ``[train]`` checks its ``model`` against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    """How to turn a registered Model Garden experiment into one of ours."""

    experiment: str  # name in exp_factory
    size_multiple: int  # input sizes must be a multiple of this: 2 ** max_level, since
    # Model Garden pads inputs to it (train parser and serving module alike)
    adapt: Callable  # (ExperimentConfig) -> None: backbone/decoder/head changes
    levels: tuple[int, int] = (3, 7)  # FPN min and max level after `adapt`


def _mobilenetv2_fpn(params, max_level: int = 6) -> None:
    """MobileNetV2 + separable FPN/head, exactly as Model Garden's published COCO checkpoints
    (QAT project's ``coco_mobilenetv2_qat_tpu_e2e.yaml``; MediaPipe Model Maker's specs):
    FPN 128 filters (Keras layers), head 4 separable convs of 128, relu6, BN eps 1e-3 and
    momentum 0.99. Levels 3-6 match the 320 px checkpoint, 3-7 the 256 px one."""
    from official.vision.configs import backbones, decoders

    model = params.task.model
    model.min_level, model.max_level = 3, max_level
    model.backbone = backbones.Backbone(type="mobilenet", mobilenet=backbones.MobileNet(
        model_id="MobileNetV2", filter_size_scale=1.0))
    model.decoder = decoders.Decoder(type="fpn", fpn=decoders.FPN(
        num_filters=128, use_separable_conv=True, use_keras_layer=True))
    model.head.num_filters = 128
    model.head.num_convs = 4
    model.head.use_separable_conv = True
    model.norm_activation.activation = "relu6"
    model.norm_activation.norm_epsilon = 0.001
    model.norm_activation.norm_momentum = 0.99
    model.norm_activation.use_sync_bn = False


def _mobilenetv2_fpn_l7(params) -> None:
    _mobilenetv2_fpn(params, max_level=7)


def _spinenet_mobile(params) -> None:
    # the published checkpoint's config (coco_spinenet49_mobile_tpu.yaml) uses hard-swish
    params.task.model.norm_activation.activation = "hard_swish"
    params.task.model.norm_activation.use_sync_bn = False


def _resnet50_fpn(params) -> None:
    params.task.model.norm_activation.use_sync_bn = False


PRESETS: dict[str, Preset] = {
    "retinanet-mobilenetv2-fpn": Preset("retinanet_resnetfpn_coco", 64, _mobilenetv2_fpn,
                                         (3, 6)),
    "retinanet-mobilenetv2-fpn-l7": Preset("retinanet_resnetfpn_coco", 128, _mobilenetv2_fpn_l7,
                                            (3, 7)),
    "retinanet-spinenet-mobile": Preset("retinanet_mobile_coco", 128, _spinenet_mobile),
    "retinanet-resnet50-fpn": Preset("retinanet_resnetfpn_coco", 32, _resnet50_fpn),
}
