"""Shared, tiny real training artifacts for the training tests.

Training even a tiny RetinaNet takes tens of seconds here, so one run (and one bundle
exported from it) is made per test session and reused by every test that only reads
it. The artifacts live under pytest's session base temp; each test module's fixture
finds them there instead of training again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures import datasets
from training.config import DatasetConfig, TrainConfig

REPO = Path(__file__).resolve().parents[2]
TINY = {"input_size": 128, "steps": 4, "batch": 2, "checkpoint_every": 2, "lr": 0.01,
        "init": "none"}


def tiny_cfg(**changes) -> TrainConfig:
    return TrainConfig(**{**TINY, **changes})


def fruit_dataset(base: Path) -> Path:
    """fruit-nuts through the real `lookout dataset build` (3 classes, 16 train, 2 test)."""
    from training.datasets.build import build_dataset

    out = base / "fruit-dataset"
    if not (out / "dataset.json").is_file():
        build_dataset(datasets.require("fruit-nuts"), out, DatasetConfig())
    return out


def shared_run(base: Path) -> Path:
    """4 steps of retinanet-mobilenetv2-fpn at 128 px on fruit-nuts, evaluated at the end."""
    from training.train import train

    run = base / "shared-run"
    if not (run / "metrics.json").is_file():
        train(fruit_dataset(base), run, tiny_cfg())
    return run


def shared_bundle(base: Path) -> Path:
    """The shared run exported with the defaults (model.tflite, model_int8.tflite
    calibrated on 8 images, evaluated on the test split)."""
    from training.export import export_bundle

    bundle = base / "models" / "fruit"
    if not (bundle / "model.json").is_file():
        export_bundle(shared_run(base), bundle, int8_samples=8)
    return bundle


def lookout(*args: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
    """Start ``lookout ARGS`` in a subprocess from the repo root."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "lookout.cli", *args], cwd=REPO,
                            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)
