"""The whole ``config.toml``: the root table composing each package's own tables, the
``[demo]`` table, and the command line's side of config (which flag sets which key).

Each package owns its tables beside its code (`training.config`, `realtime.config`,
`realtime.watch.config`); `core.config` loads and checks them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import config as core
from core.config import ConfigError, Problem, Section, doc, join
from core.errors import UserError
from realtime.config import AnnotateConfig, DetectorConfig, LiveConfig, PipelineConfig
from realtime.review.config import ReviewConfig
from realtime.serve.config import ServeConfig
from realtime.tracking.config import TrackConfig
from realtime.watch.config import CameraConfig, WatchConfig
from training.config import DatasetConfig, RetrainConfig, TrainConfig

DEFAULT_CONFIG = "config.toml"
DEMO_CLASSES = ("circle", "square", "triangle")

# Flags whose name is not ``--`` + the key with dashes.
FLAG_NAMES = {"max_wait_ms": "--max-wait"}


@dataclass
class DemoConfig(Section):
    table = "demo"

    out: str = doc("demo_out", "where `lookout demo` writes samples, dataset, run, bundle, outputs")
    seed: int = doc(0, "seed of the generated sample data (same seed, same files)")
    train_images: int = doc(240, "generated training images (labelImg VOC, 3 shape classes)",
                            ge=1)
    test_images: int = doc(60, "generated test images", ge=1)
    image_size: int = doc(256, "side of the generated square images, px", ge=32)
    steps: int = doc(800, "training steps (the demo's short budget)", ge=1)
    input_size: int = doc(128, "model input size, px (multiple of 64, see train.input_size)",
                          ge=64)
    batch: int = doc(8, "training batch", ge=1)
    lr: float = doc(0.01, "base learning rate", gt=0.0)
    clip_seconds: float = doc(10.0, "length of the sample clip that gets annotated", gt=0.0)
    doorbell_seconds: float = doc(12.0, "length of the doorbell clip that gets watched", gt=0.0)
    alert: str = doc("circle", "the label that rings the doorbell: circle | square | triangle",
                     choices=DEMO_CLASSES)
    score: float = doc(0.4, "detection score threshold for annotate and watch", ge=0.0, le=1.0)


@dataclass
class Config(Section):
    """The whole file. Unknown tables are errors too."""

    dataset: DatasetConfig = doc(DatasetConfig(), "[dataset]: lookout dataset check/build")
    train: TrainConfig = doc(TrainConfig(), "[train]: lookout train")
    detector: DetectorConfig = doc(DetectorConfig(), "[detector]: every command that runs a model")
    pipeline: PipelineConfig = doc(PipelineConfig(), "[pipeline]: annotate, live, watch, batch's clips")
    annotate: AnnotateConfig = doc(AnnotateConfig(), "[annotate]: lookout annotate")
    live: LiveConfig = doc(LiveConfig(), "[live]: lookout live")
    watch: WatchConfig = doc(WatchConfig(), "[watch]: lookout watch (doorbell mode)")
    cameras: list[CameraConfig] = doc([], "[[cameras]]: the cameras `lookout watch` runs "
                                          "without --source, one model for all")
    demo: DemoConfig = doc(DemoConfig(), "[demo]: lookout demo (the whole path on sample data)")
    track: TrackConfig = doc(TrackConfig(), "[track]: track ids, counting lines and zones "
                                            "(annotate, live, watch, batch)")
    review: ReviewConfig = doc(ReviewConfig(), "[review]: the review folder (serve, retrain)")
    retrain: RetrainConfig = doc(RetrainConfig(), "[retrain]: lookout retrain (reviews → "
                                                  "candidate → compared → promoted or kept)")
    serve: ServeConfig = doc(ServeConfig(), "[serve]: the page (lookout serve, watch --serve)")

    def problems(self) -> Iterable[Problem]:
        """Watch rules may only name lines and zones that [track] has."""
        zones = {z.name for z in self.track.zones}
        lines = {ln.name for ln in self.track.lines}
        rules = [(f"watch.rules[{i}]", r) for i, r in enumerate(self.watch.rules)]
        rules += [(f"cameras[{c}].rules[{i}]", r) for c, cam in enumerate(self.cameras)
                  for i, r in enumerate(cam.rules or [])]
        for where, rule in rules:
            if rule.zone and rule.zone not in zones:
                yield f"{where}.zone", f"{rule.zone!r} is not a [[track.zones]] name"
            line = rule.crossing.rpartition(":")[0]
            if line and line not in lines:
                yield f"{where}.crossing", f"{line!r} is not a [[track.lines]] name"


def load_config(path: str | Path | None = None) -> Config:
    """Load ``path`` (default: ./config.toml if present, else all defaults).

    Raises:
        UserError: every bad key or value, one ``FILE:LINE: key: message`` per line.
    """
    if path is None:
        if not Path(DEFAULT_CONFIG).is_file():
            return Config()
        path = DEFAULT_CONFIG
    return core.load(Config, path)


def describe() -> list[tuple[str, Any, str]]:
    """``(dotted key, default, doc)`` for every key of config.toml."""
    return core.describe(Config)


def flag_name(key: str) -> str:
    return FLAG_NAMES.get(key, "--" + key.replace("_", "-"))


def override(section: Any, **flags: Any) -> Any:
    """Copy of ``section`` with every flag that is not None applied (flags win over the file).

    Raises:
        UserError: a value is out of bounds, naming the flag when it came from one,
            e.g. ``--score 2.0 (detector.score): must be between 0 and 1, got 2.0``.
    """
    try:
        return core.override(section, **flags)
    except ConfigError as exc:
        lines = []
        for key, message in exc.problems:
            name = key.split(".")[0].split("[")[0]
            given = f"{flag_name(name)} {flags[name]!r} " if flags.get(name) is not None else ""
            lines.append(f"{given}({join(exc.table, key)}): {message}" if given
                         else f"{join(exc.table, key)}: {message}")
        raise UserError("\n".join(lines)) from None  # the CLI prints one error per line
