"""Which format a dataset folder (or file) is in, and one way to read any of them.

`open_dataset` detects the format (or takes the one forced with ``--format``) and returns
a `DatasetSource` whose `examples()` can be iterated more than once, always in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError
from training.datasets import coco, csv_format, tfrecord_source, voc
from training.datasets.example import Example, Problem
from training.datasets.paths import show

FORMATS = ("voc", "tutorial", "csv", "coco", "tfrecord")


@dataclass
class DatasetSource:
    """A dataset on disk: its format and how to stream its examples."""

    format: str
    path: Path
    read: Callable[[list[Problem]], Iterator[Example]]
    label_map_path: Path | None = None  # what a TFRecord source came with

    def examples(self, problems: list[Problem]) -> Iterator[Example]:
        """Stream the examples; problems that belong to no example go into ``problems``."""
        return self.read(problems)


def detect_format(src: Path) -> str:
    """Guess the format of ``src`` from its file names (cheap: no annotation is parsed)."""
    if src.is_file():
        suffix = src.suffix.lower()
        if suffix == ".csv":
            return "csv"
        if suffix == ".json":
            return "coco"
        if suffix == ".xml":
            return "voc"
        return "tfrecord"
    if (src / "annotations" / "xmls").is_dir():
        return "tutorial"
    if any(src.glob("*.xml")) or any(src.glob("*/*.xml")):
        return "voc"
    if csv_format.csv_files(src):
        return "csv"
    if coco.coco_files(src):
        return "coco"
    if tfrecord_source.record_files(src):
        return "tfrecord"
    raise UserError(f"{show(src)}: no dataset found (looked for VOC *.xml, annotations/xmls/, "
                    "*.csv, COCO *.json, *.record); use --format to say which")


def open_dataset(src: str | Path, fmt: str = "auto", images: str | Path | None = None,
                label_map: dict[int, str] | None = None) -> DatasetSource:
    """The dataset at ``src`` in format ``fmt`` ("auto" detects it).

    Args:
        images: folder holding the images when the annotations do not sit beside them.
        label_map: ``{id: name}``; TFRecord sources use it for records without class texts.
    """
    src = Path(src)
    if not src.exists():
        raise UserError(f"{show(src)}: no such file or folder")
    fmt = detect_format(src) if fmt in ("", "auto") else fmt
    if fmt not in FORMATS:
        raise UserError(f"unknown dataset format {fmt!r} (one of: auto, {', '.join(FORMATS)})")
    image_dir = Path(images) if images else None
    if image_dir is not None and not image_dir.is_dir():
        raise UserError(f"{show(image_dir)}: --images is not a folder")
    if fmt == "voc":
        root = src if src.is_dir() else src.parent
        if src.is_file():
            def read(problems):
                example = voc.read_voc_file(src, root, problems, image_dir)
                return iter([example] if example else [])
        else:
            def read(problems):
                return voc.read_voc(root, problems, image_dir)
        return DatasetSource("voc", src, read)
    if fmt == "tutorial":
        return DatasetSource("tutorial", src, lambda p: voc.read_tutorial(src, p, image_dir))
    if fmt == "csv":
        if not csv_format.csv_files(src):
            raise UserError(f"{show(src)}: no *.csv file")
        return DatasetSource("csv", src, lambda p: csv_format.read_csv(src, p, image_dir))
    if fmt == "coco":
        if not coco.coco_files(src):
            raise UserError(f"{show(src)}: no COCO *.json file")
        return DatasetSource("coco", src, lambda p: coco.read_coco(src, p, image_dir))
    if not tfrecord_source.record_files(src):
        raise UserError(f"{show(src)}: no *.record / *.tfrecord file")
    map_path = tfrecord_source.find_label_map(src)
    if label_map is None and map_path is not None:
        from realtime.labelmap import read_label_map

        label_map = read_label_map(map_path)
    return DatasetSource("tfrecord", src, lambda p: tfrecord_source.read_tfrecords(src, p, label_map),
                  label_map_path=map_path)
