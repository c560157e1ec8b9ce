"""``run.json``: what a training run is (model, data, settings) and how far it got; the one
owner of that file. `train` writes it, `evaluate`, `export`, a resume, ``--init RUN``
and the demo read it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from core.errors import UserError
from core.records import JsonRecord
from training.config import TrainConfig

RUN_FILE = "run.json"
STATUSES = ("training", "interrupted", "done")


@dataclass
class RunRecord(JsonRecord):
    """``run.json`` of a run folder.

    Fields:
        model: the preset. input_size: the model's input side in px (``auto`` resolved).
        num_classes, classes: label id (from 1) → name, as in the run's label map.
        dataset: the dataset folder (``dataset.json``) it trains on, absolute.
        train_images: images in the train split.
        train: the ``[train]`` settings used (`TrainConfig` as a dict; `train_config`).
        init: what ``--init`` restored (`training.init.prepare_init`), None for none.
        data_fit: what training read off the data (`training.fit.DataFit.as_dict`).
        budget: what ``--time`` planned (`training.plan`), None without a time budget.
        status: ``training`` | ``interrupted`` | ``done``.
        resumed_from: the step a ``--resume`` started at; replicas: devices in sync.
        step, images_per_sec, loss, train_seconds: where the last session ended.
        stopped_by: what ended it: ``steps`` | ``time`` (the budget) | ``interrupt``.
        lookout_run: the format's version (1).
        extra: keys this release does not know, written back unchanged.
    """

    FILE: ClassVar[str] = RUN_FILE
    KINDS: ClassVar[dict[str, tuple[type, ...]]] = {
        "lookout_run": (int,), "model": (str,), "input_size": (int,), "num_classes": (int,),
        "classes": (dict,), "dataset": (str,), "train_images": (int,), "train": (dict,),
        "init": (dict,), "data_fit": (dict,), "budget": (dict,), "status": (str,),
        "resumed_from": (int,), "replicas": (int,), "step": (int,), "images_per_sec": (float,),
        "loss": (float, str),  # a string in runs of releases that wrote numpy floats
        "train_seconds": (float,), "stopped_by": (str,)}
    REQUIRED: ClassVar[tuple[str, ...]] = ("model", "input_size", "dataset", "train")
    ORDER: ClassVar[tuple[str, ...]] = ("lookout_run", "model", "input_size", "num_classes",
                                        "classes", "dataset", "train_images", "train")

    model: str
    input_size: int
    dataset: str
    train: dict
    lookout_run: int = 1
    num_classes: int | None = None
    classes: dict[int, str] = field(default_factory=dict)
    train_images: int | None = None
    init: dict | None = None
    data_fit: dict | None = None
    budget: dict | None = None
    status: str = "training"
    resumed_from: int | None = None
    replicas: int | None = None
    step: int | None = None
    images_per_sec: float | None = None
    loss: float | None = None
    train_seconds: float | None = None
    stopped_by: str | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def read(cls, folder: str | Path) -> RunRecord:
        """`UserError` saying ``folder`` is not a run when it has no run.json."""
        if not cls.path(folder).is_file():
            raise UserError(f"{folder}: not a training run (no {RUN_FILE}; make one with "
                            f"`lookout train`)")
        return super().read(folder)

    @classmethod
    def convert(cls, name: str, value: Any, source: str | Path) -> Any:
        if name == "status" and value not in STATUSES:
            raise UserError(f"{source}: 'status' must be {' | '.join(STATUSES)}, got {value!r}")
        if name == "loss" and isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise UserError(f"{source}: 'loss' must be a number, got {value!r}") from None
        return super().convert(name, value, source)

    def train_config(self, **changes: Any) -> TrainConfig:
        """The run's ``[train]`` settings (checked as when built), with ``changes``."""
        try:
            cfg = TrainConfig(**self.train)
        except TypeError as exc:  # a setting this release does not have
            raise UserError(f"{self.source or RUN_FILE}: 'train': {exc}") from None
        return dataclasses.replace(cfg, **changes)

    def replace(self, **changes: Any) -> RunRecord:
        return dataclasses.replace(self, **changes)

