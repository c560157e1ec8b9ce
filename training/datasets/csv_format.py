"""The raccoon tutorial's CSV: ``filename,width,height,class,xmin,ymin,xmax,ymax``, one row per box.

A folder with ``train_labels.csv`` + ``test_labels.csv`` is an explicit split. Images are
looked for in ``--images``, beside the CSV, in ``images/`` beside it, then in ``../images``
(the tutorial keeps its CSVs in ``data/`` next to ``images/``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from training.datasets.example import ERROR, Box, Example, Problem
from training.datasets.paths import find_image, show, split_from_name

COLUMNS = ("filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax")


def csv_files(src: Path) -> list[Path]:
    return [src] if src.is_file() else sorted(src.glob("*.csv"))


def read_csv(src: Path, problems: list[Problem], images: Path | None = None) -> Iterator[Example]:
    """Yield one example per distinct file name, in order of first appearance, per CSV."""
    files = csv_files(src)
    for path in files:
        split = split_from_name([path.stem]) if len(files) > 1 or src.is_file() else None
        yield from _read_one(path, split, problems, images)


def _read_one(path: Path, split: str | None, problems: list[Problem],
              images: Path | None) -> Iterator[Example]:
    where = show(path)
    bases = [images] if images else []
    bases += [path.parent, path.parent / "images", path.parent.parent / "images"]
    grouped: dict[str, Example] = {}
    try:
        # surrogateescape keeps non-UTF-8 names visible to the checker instead of failing here
        with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
            reader = csv.reader(f, strict=True)
            header = [h.strip().lower() for h in next(reader, [])]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                problems.append(Problem(ERROR, f"{where}:1", f"malformed CSV: header lacks "
                                        f"{', '.join(missing)} (expected {','.join(COLUMNS)})"))
                return
            index = {c: header.index(c) for c in COLUMNS}
            for row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                _add_row(row, index, len(header), f"{where}:{line}", grouped, problems, bases, split)
    except csv.Error as exc:
        # the rest of the file is unreadable: keep none of it rather than half of it
        problems.append(Problem(ERROR, f"{where}:{reader.line_num}", f"malformed CSV: {exc}"))
        return
    except OSError as exc:
        problems.append(Problem(ERROR, where, f"cannot read CSV ({exc})"))
        return
    yield from grouped.values()


def _add_row(row: list[str], index: dict[str, int], width: int, at: str,
             grouped: dict[str, Example], problems: list[Problem], bases: list[Path],
             split: str | None) -> None:
    name = row[index["filename"]].strip() if len(row) > index["filename"] else ""
    if not name:
        problems.append(Problem(ERROR, at, "malformed CSV: no file name in this row"))
        return
    example = grouped.get(name)
    if example is None:
        example = grouped[name] = Example(
            filename=name, width=0, height=0, origin=at, split=split,
            image_path=find_image(name, bases), searched=bases,
        )
    if len(row) != width:
        example.problems.append(Problem(ERROR, at, f"malformed CSV: {len(row)} fields, "
                                        f"header has {width}"))
        return
    cell = {c: row[i].strip() for c, i in index.items()}
    try:
        w, h = int(float(cell["width"])), int(float(cell["height"]))
        coords = [float(cell[k]) for k in ("xmin", "ymin", "xmax", "ymax")]
    except ValueError:
        example.problems.append(Problem(ERROR, at, "malformed CSV: a size or coordinate is not a number"))
        return
    if example.width == 0 and example.height == 0:
        example.width, example.height = w, h
    elif (w, h) != (example.width, example.height):
        example.problems.append(Problem(ERROR, at, f"size {w}x{h} differs from "
                                        f"{example.width}x{example.height} given at {example.origin}"))
    if not cell["class"]:
        example.problems.append(Problem(ERROR, at, "empty class"))
        return
    example.boxes.append(Box(cell["class"], *coords, origin=at))
