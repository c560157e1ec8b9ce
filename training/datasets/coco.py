"""COCO JSON (``images``, ``annotations`` with ``bbox: [x, y, w, h]``, ``categories``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from training.datasets.example import ERROR, Box, Example, Problem
from training.datasets.paths import find_image, show, split_from_name


def coco_files(src: Path) -> list[Path]:
    if src.is_file():
        return [src]
    found = sorted(src.glob("*.json")) + sorted(src.glob("annotations/*.json"))
    return [p for p in found if _looks_like_coco(p)]


def _looks_like_coco(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return False
    return b'"images"' in head or b'"annotations"' in head or b'"categories"' in head


def read_coco(src: Path, problems: list[Problem], images: Path | None = None) -> Iterator[Example]:
    files = coco_files(src)
    for path in files:
        split = split_from_name([path.stem]) if len(files) > 1 or src.is_file() else None
        yield from _read_one(path, split, problems, images)


def _read_one(path: Path, split: str | None, problems: list[Problem],
              images: Path | None) -> Iterator[Example]:
    where = show(path)
    try:
        data = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        problems.append(Problem(ERROR, f"{where}:{exc.lineno}", f"malformed JSON: {exc.msg}"))
        return
    except UnicodeDecodeError as exc:
        problems.append(Problem(ERROR, where, f"malformed JSON: not UTF-8 ({exc.reason})"))
        return
    except OSError as exc:
        problems.append(Problem(ERROR, where, f"cannot read JSON ({exc})"))
        return
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        problems.append(Problem(ERROR, where, "malformed COCO JSON: no 'images' list"))
        return
    try:
        categories = {int(c["id"]): str(c["name"]) for c in data.get("categories", [])}
    except (KeyError, TypeError, ValueError):
        problems.append(Problem(ERROR, where, "malformed COCO JSON: a category lacks id or name"))
        return

    bases = [images] if images else []
    bases += [path.parent, path.parent / "images", path.parent.parent / "images"]
    by_id: dict[int, Example] = {}
    for i, info in enumerate(data["images"]):
        at = f"{where}:images[{i}]"
        try:
            image_id, name = int(info["id"]), str(info["file_name"])
        except (KeyError, TypeError, ValueError):
            problems.append(Problem(ERROR, at, "malformed COCO JSON: image lacks id or file_name"))
            continue
        by_id[image_id] = Example(
            filename=name, width=_int(info.get("width")), height=_int(info.get("height")),
            origin=at, image_path=find_image(name, bases), split=split, searched=bases,
        )
    for i, ann in enumerate(data.get("annotations", [])):
        at = f"{where}:annotations[{i}]"
        try:
            example = by_id.get(int(ann["image_id"]))
            x, y, w, h = (float(v) for v in ann["bbox"])
            category = int(ann["category_id"])
        except (KeyError, TypeError, ValueError):
            problems.append(Problem(ERROR, at, "malformed COCO JSON: annotation lacks image_id, "
                                    "bbox [x, y, w, h] or category_id"))
            continue
        if example is None:
            problems.append(Problem(ERROR, at, f"annotation for unknown image_id {ann['image_id']}"))
            continue
        if category not in categories:
            example.problems.append(Problem(ERROR, at, f"unknown category_id {category}"))
            continue
        example.boxes.append(Box(categories[category], x, y, x + w, y + h, origin=at))
    yield from by_id.values()


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0
