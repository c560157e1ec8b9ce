"""`config.toml` loaded into typed config objects, one dataclass per table.

Every field has a default and a one-line doc (``doc(...)``); an unknown key or a value
of the wrong type is a `UserError` that names the file, the line and the key.
Command-line flags override file values through `override`.

Each part of lookout owns its table's dataclass here; tables are registered in
`Config` at the bottom.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lookout.errors import UserError

DEFAULT_CONFIG = "config.toml"


def doc(default: Any, text: str) -> Any:
    """A dataclass field with a default and a description (shown by `lookout config show`)."""
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):
        factory = (lambda d=default: type(d)(d)) if isinstance(default, (list, dict)) else type(default)
        return field(default_factory=factory, metadata={"doc": text})
    return field(default=default, metadata={"doc": text})


# --------------------------------------------------------------------------- tables


@dataclass
class DatasetConfig:
    format: str = doc("auto", "auto | voc | tutorial | csv | coco | tfrecord")
    test_fraction: float = doc(0.2, "share of images held out for test when no split is given")
    seed: int = doc(42, "seed of the reproducible train/test split")
    max_size: str = doc("", "downscale larger images to fit WxH, e.g. '800x600' ('' = keep)")
    shard_mb: int = doc(200, "start a new TFRecord shard past this many MB")
    skip_bad: bool = doc(False, "build anyway, skipping images with errors")
    strict: bool = doc(False, "treat warnings as errors")


@dataclass
class TrainConfig:
    model: str = doc("retinanet-mobilenetv2-fpn", "preset: retinanet-mobilenetv2-fpn | "
                     "retinanet-spinenet-mobile | retinanet-resnet50-fpn")
    input_size: int = doc(256, "square input size in pixels: a multiple of 64 for "
                          "retinanet-mobilenetv2-fpn, of 128 for the SpineNet and ResNet presets")
    steps: int = doc(2000, "training steps")
    batch: int = doc(8, "global batch size")
    lr: float = doc(0.01, "base learning rate (cosine decay with warm-up)")
    init: str = doc("", "checkpoint path, URL or runs/NAME to start from ('' = from scratch)")
    checkpoint_every: int = doc(200, "write a checkpoint every N steps")
    strategy: str = doc("one_device", "one_device | mirrored | multi_worker_mirrored")
    aug_flip: bool = doc(True, "random horizontal flip")
    aug_scale_min: float = doc(0.8, "scale jitter lower bound")
    aug_scale_max: float = doc(1.2, "scale jitter upper bound")


@dataclass
class DetectorConfig:
    device: str = doc("auto", "auto | cpu | gpu | gpu:N")
    score: float = doc(0.5, "minimum detection score kept")
    max_det: int = doc(100, "at most this many detections per frame")
    classes: list[str] = doc([], "keep only these labels ([] = all)")
    labels: str = doc("", "label_map.pbtxt for models without a bundle")
    bundle_format: str = doc("auto", "which file of a bundle runs: auto (model.tflite on a CPU "
                             "when the bundle has one, else saved_model) | saved_model | "
                             "frozen_graph | tflite")
    workers: int = doc(0, "detector calls run side by side (.tflite: one interpreter each; "
                          "0 = one per core for .tflite, 1 for TensorFlow models)")
    threads: int = doc(0, "CPU threads per .tflite interpreter (0 = the cores / workers)")


@dataclass
class PipelineConfig:
    batch: int = doc(4, "frames per detector call")
    max_wait_ms: float = doc(20.0, "send a partial batch after this many ms")
    stride: int = doc(1, "read every Nth frame")
    queue_size: int = doc(8, "bound of every inter-stage queue")
    resize: int = doc(0, "shrink frames so the longer side is at most N px before the detector "
                         "(boxes come back in original pixels; 0 = off)")
    open_timeout_s: float = doc(10.0, "give up opening a camera or stream after this long")
    read_timeout_s: float = doc(5.0, "treat a live stream as dropped after this long without a frame")
    reconnect_backoff_s: float = doc(0.5, "first wait before reconnecting a dropped live source")
    reconnect_backoff_max_s: float = doc(8.0, "the wait doubles up to this")
    reconnect_give_up_s: float = doc(0.0, "stop after a live source is down this long (0 = never)")
    rtsp_transport: str = doc("tcp", "tcp | udp: how rtsp:// streams carry the video (tcp gets "
                                     "through NAT and firewalls)")
    max_bad_frames: int = doc(50, "stop a file after this many undecodable frames in a row")


@dataclass
class AnnotateConfig:
    crf: int = doc(23, "H.264 quality of the annotated video (lower = better and bigger)")
    preset: str = doc("veryfast", "x264 preset (faster presets leave more CPU to the detector)")
    audio: bool = doc(True, "keep the source's audio track")
    fill_gaps: bool = doc(True, "repeat the last frame over undecodable ones (keeps A/V sync)")


@dataclass
class LiveConfig:
    batch: int = doc(1, "frames per detector call in live mode (1 = lowest latency)")
    window: bool = doc(True, "show a window (false = stream detections only)")
    snapshot_dir: str = doc("snapshots", "where the 's' key saves annotated frames")


@dataclass
class WatchRuleConfig:
    """One ``[[watch.rules]]`` entry: which objects make an event."""

    name: str = doc("", "rule name used in events and logs ('' = the labels joined)")
    labels: list[str] = doc([], "labels this rule alerts on (must exist in the model)")
    min_score: float = doc(0.5, "a detection counts only at this score or above")
    median_score: float = doc(0.6, "the tracked object's median score must reach this to alert")
    min_area: float = doc(0.0, "smallest box: <= 1 is a fraction of the frame, > 1 pixels")
    max_area: float = doc(1.0, "largest box: <= 1 is a fraction of the frame, > 1 pixels")
    zones: list[list[list[float]]] = doc([], "polygons [[x, y], ...] (all <= 1: fractions, "
                                         "else pixels); in zone = box bottom-centre inside "
                                         "([] = whole frame)")
    confirm_k: int = doc(3, "confirm an object seen in K ...")
    confirm_n: int = doc(5, "... of the last N detector runs")
    end_after_s: float = doc(5.0, "end the event after the object is unseen this long")
    cooldown_s: float = doc(30.0, "no new event for this rule this long after the last one ended")


@dataclass
class WatchMotionConfig:
    enabled: bool = doc(True, "run the detector only on motion (plus periodic re-checks)")
    width: int = doc(160, "downscale frames to this width for motion detection")
    pixel_threshold: int = doc(25, "grey-level change (0-255) that counts as a moving pixel")
    min_fraction: float = doc(0.002, "share of moving pixels that counts as motion")
    background_alpha: float = doc(0.05, "how fast the background follows the scene (0-1)")
    recheck_s: float = doc(1.0, "while objects are present, run the detector at least this often")
    idle_recheck_s: float = doc(0.0, "with nothing present, still run it this often (0 = never; "
                                     "> 0 also checks the first frame, for objects already there)")


@dataclass
class WatchWebhookConfig:
    url: str = doc("", "POST events here ('' = off); or set the env var named by url_env")
    url_env: str = doc("LOOKOUT_WEBHOOK_URL", "environment variable holding the URL")
    secret: str = doc("", "HMAC-SHA256 signing secret (never logged); prefer secret_env")
    secret_env: str = doc("LOOKOUT_WEBHOOK_SECRET", "env var with the HMAC secret (never logged)")
    snapshot: bool = doc(True, "include the snapshot JPEG (base64) in the JSON body")
    timeout_s: float = doc(10.0, "HTTP timeout per attempt")


@dataclass
class WatchCommandConfig:
    argv: list[str] = doc([], "program and arguments run per event, no shell ([] = off); "
                          "event fields arrive as LOOKOUT_* environment variables")
    timeout_s: float = doc(30.0, "kill the command after this many seconds (counts as failed)")


@dataclass
class WatchDeliveryConfig:
    on: list[str] = doc(["new"], "event phases that notify: new and/or end")
    desktop: bool = doc(False, "desktop notification via notify-send (where it exists)")
    console: bool = doc(True, "print each notified event on the console")
    retry_base_s: float = doc(2.0, "first retry delay; doubles per failed attempt")
    retry_max_s: float = doc(300.0, "longest retry delay")
    give_up_after_s: float = doc(0.0, "mark a delivery failed after this long (0 = never)")


@dataclass
class WatchConfig:
    events_dir: str = doc("events", "events.jsonl, snapshots/, clips/ and the delivery spool")
    snapshot_keep: int = doc(1000, "keep at most this many events' snapshots")
    snapshot_max_age_days: float = doc(30.0, "delete snapshots and clips older than this")
    edge_margin: int = doc(2, "a box within this many pixels of the edge counts as cut")
    clip: bool = doc(False, "save a short mp4 per event")
    pre_roll_s: float = doc(2.0, "seconds of video before the event in its clip")
    clip_max_s: float = doc(20.0, "longest clip")
    health_every_s: float = doc(60.0, "log a health line this often")
    motion: WatchMotionConfig = doc(WatchMotionConfig(), "[watch.motion]: motion gating")
    delivery: WatchDeliveryConfig = doc(WatchDeliveryConfig(), "[watch.delivery]: notifiers")
    webhook: WatchWebhookConfig = doc(WatchWebhookConfig(), "[watch.webhook]")
    command: WatchCommandConfig = doc(WatchCommandConfig(), "[watch.command]")
    rules: list[WatchRuleConfig] = doc([], "what makes an event: one table per rule (see config.toml)")


@dataclass
class DemoConfig:
    out: str = doc("demo_out", "where `lookout demo` writes samples, dataset, run, bundle, outputs")
    seed: int = doc(0, "seed of the generated sample data (same seed, same files)")
    train_images: int = doc(240, "generated training images (labelImg VOC, 3 shape classes)")
    test_images: int = doc(60, "generated test images")
    image_size: int = doc(256, "side of the generated square images, px")
    steps: int = doc(800, "training steps (the demo's short budget)")
    input_size: int = doc(128, "model input size, px (multiple of 64, see train.input_size)")
    batch: int = doc(8, "training batch")
    lr: float = doc(0.01, "base learning rate")
    clip_seconds: float = doc(10.0, "length of the sample clip that gets annotated")
    doorbell_seconds: float = doc(12.0, "length of the doorbell clip that gets watched")
    alert: str = doc("circle", "the label that rings the doorbell: circle | square | triangle")
    score: float = doc(0.4, "detection score threshold for annotate and watch")


@dataclass
class Config:
    """The whole file. Unknown tables are errors too."""

    dataset: DatasetConfig = doc(DatasetConfig(), "[dataset]: lookout dataset check/build")
    train: TrainConfig = doc(TrainConfig(), "[train]: lookout train")
    detector: DetectorConfig = doc(DetectorConfig(), "[detector]: every command that runs a model")
    pipeline: PipelineConfig = doc(PipelineConfig(), "[pipeline]: annotate, live, watch")
    annotate: AnnotateConfig = doc(AnnotateConfig(), "[annotate]: lookout annotate")
    live: LiveConfig = doc(LiveConfig(), "[live]: lookout live")
    watch: WatchConfig = doc(WatchConfig(), "[watch]: lookout watch (doorbell mode)")
    demo: DemoConfig = doc(DemoConfig(), "[demo]: lookout demo (the whole path on sample data)")


# --------------------------------------------------------------------------- loading


def load_config(path: str | Path | None = None) -> Config:
    """Load ``path`` (default: ./config.toml if present, else all defaults)."""
    if path is None:
        if not Path(DEFAULT_CONFIG).is_file():
            return Config()
        path = DEFAULT_CONFIG
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read config ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: invalid TOML: {exc}") from None
    return _build(Config, data, _Where(path, text), "")


@dataclass
class _Where:
    path: Path
    text: str

    def line_of(self, dotted: str) -> str:
        """Best-effort ``:LINE`` of a dotted key, for error messages."""
        key = dotted.rsplit(".", 1)[-1].split("[")[0]
        for number, line in enumerate(self.text.splitlines(), 1):
            if re.match(rf"\s*(\[+\s*)?([\w.]*\.)?{re.escape(key)}\s*(=|\])", line):
                return f":{number}"
        return ""

    def error(self, dotted: str, message: str) -> UserError:
        return UserError(f"{self.path}{self.line_of(dotted)}: {dotted}: {message}")


def _build(cls: type, data: Any, where: _Where, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise where.error(prefix or "(top)", f"expected a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if key not in names:
            known = ", ".join(sorted(names))
            raise where.error(dotted, f"unknown key (known: {known})")
        kwargs[key] = _coerce(hints[key], value, where, dotted)
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, where: _Where, dotted: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where, dotted)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _coerce(options[0], value, where, dotted)
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        if not isinstance(value, list):
            raise where.error(dotted, f"expected a list, got {_tname(value)}")
        return [_coerce(item, v, where, f"{dotted}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise where.error(dotted, f"expected a table, got {_tname(value)}")
        return dict(value)
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float) and isinstance(value, bool):
        raise where.error(dotted, f"expected {hint.__name__}, got bool")
    if isinstance(hint, type) and not isinstance(value, hint):
        raise where.error(dotted, f"expected {hint.__name__}, got {_tname(value)} {value!r}")
    return value


def _tname(value: Any) -> str:
    return {dict: "table", list: "list", str: "string"}.get(type(value), type(value).__name__)


def override(section: Any, **flags: Any) -> Any:
    """Copy of ``section`` with every flag that is not None applied (flags win over the file)."""
    names = {f.name for f in dataclasses.fields(section)}
    changes = {k: v for k, v in flags.items() if v is not None and k in names}
    unknown = [k for k in flags if k not in names]
    if unknown:
        raise ValueError(f"override: {type(section).__name__} has no field {unknown}")
    return dataclasses.replace(section, **changes)


def describe(cls: type = Config, prefix: str = "") -> list[tuple[str, Any, str]]:
    """``(dotted key, default, doc)`` for every leaf field: the documented key list."""
    rows = []
    for f in dataclasses.fields(cls):
        dotted = f"{prefix}.{f.name}" if prefix else f.name
        hint = typing.get_type_hints(cls)[f.name]
        if dataclasses.is_dataclass(hint):
            rows.extend(describe(hint, dotted))
        else:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            rows.append((dotted, default, f.metadata.get("doc", "")))
    return rows
