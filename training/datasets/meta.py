"""``dataset.json``: what a dataset folder holds, the one owner of that format.

`lookout dataset build` writes it beside the TFRecords and ``label_map.pbtxt``;
`lookout retrain` writes one for the dataset it combines (the original data's records
plus the reviewed frames'); training, evaluation, export and retrain read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

from core.errors import UserError
from core.records import JsonRecord

FILE = "dataset.json"


@dataclass
class DatasetMeta(JsonRecord):
    """``dataset.json``. Only ``splits`` is required.

    Fields:
        format: the source's format (``voc``, ``csv``, ...), or ``retrain`` for the
            dataset `lookout retrain` combines.
        origin: the source folder or file, absolute (the file's ``source`` key; the
            name ``source`` is the record's own: where it was read from).
        label_map: the label map's file name in the folder. classes: label id → name.
        splits: split name → ``{"records": [...], ...}``: record files relative to the
            folder (or absolute), with what the writer counted (``images``,
            ``objects``; ``reviews`` for retrain's).
        retrain_base: for a retrain's dataset, the original data's dataset folder (the
            next retrain starts from it, so reviews never enter twice).
        seed, test_fraction, split, max_size, skipped, warnings: how the build split
            and filtered the source. created_at, lookout_version: of the writer.
        extra: keys this release does not know, written back unchanged.
    """

    FILE: ClassVar[str] = FILE
    KINDS: ClassVar[dict[str, tuple[type, ...]]] = {
        "format": (str,), "origin": (str,), "seed": (int,), "test_fraction": (float,),
        "split": (str,), "label_map": (str,), "classes": (dict,), "splits": (dict,),
        "retrain_base": (str,), "max_size": (str,), "skipped": (list,), "warnings": (int,),
        "created_at": (str,), "lookout_version": (str,)}
    REQUIRED: ClassVar[tuple[str, ...]] = ("splits",)

    splits: dict[str, dict]
    format: str = ""
    origin: str | None = None
    seed: int | None = None
    test_fraction: float | None = None
    split: str | None = None
    label_map: str = "label_map.pbtxt"
    classes: dict[int, str] | None = None
    retrain_base: str | None = None
    max_size: str | None = None
    skipped: list[str] | None = None
    warnings: int | None = None
    created_at: str = ""
    lookout_version: str = ""
    extra: dict = field(default_factory=dict)

    ORDER: ClassVar[tuple[str, ...]] = ("format", "origin", "seed", "test_fraction", "split",
                                        "label_map", "classes", "splits", "retrain_base")

    @classmethod
    def from_dict(cls, data: Any, source: str | Path) -> Self:
        if isinstance(data, dict) and "source" in data:  # the file's key for `origin`
            data = {("origin" if k == "source" else k): v for k, v in data.items()}
        return super().from_dict(data, source)

    @classmethod
    def convert(cls, name: str, value: Any, source: str | Path) -> Any:
        if name == "splits":  # each split: {"records": [file, ...], counts...}
            for split, entry in value.items():
                records = entry.get("records") if isinstance(entry, dict) else None
                if not isinstance(records, list) or not all(isinstance(r, str) for r in records):
                    raise UserError(f"{source}: split {split!r} must be an object with "
                                    f"'records', a list of file names")
        return super().convert(name, value, source)

    def to_dict(self) -> dict:
        return {("source" if k == "origin" else k): v for k, v in super().to_dict().items()}

    def records(self, folder: str | Path, split: str) -> list[Path]:
        """The record files of ``split`` (none when it has no such split), as paths:
        relative ones under ``folder``, the dataset folder."""
        return [Path(folder) / r for r in (self.splits.get(split) or {}).get("records", [])]
