"""The checker: every problem of every example, with its file and line, and the counts.

`Checker.check` looks at one example at a time (decodes its image, hashes it, checks
its size and boxes) and keeps only hashes between examples, so memory stays flat.
`check_dataset` runs it over a whole source and returns a `DatasetReport`.
"""

from __future__ import annotations

import hashlib
import math
import os
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from core.errors import UserError
from core.progress import OnProgress, counter
from training.config import DatasetConfig
from training.datasets.example import ERROR, WARNING, Box, Example, Problem
from training.datasets.paths import escapes, is_utf8, show
from training.datasets.sources import DatasetSource, open_dataset

_DECODE = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION  # TF ignores EXIF rotation too


@dataclass
class Loaded:
    """A checked, usable example: its image bytes and pixels, and its (clipped) boxes."""

    example: Example
    data: bytes
    image_format: str  # "jpeg" | "png" | "" (other formats are re-encoded when written)
    pixels: np.ndarray  # BGR, as decoded
    boxes: list[Box]

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])


def sniff_format(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    return ""


class Checker:
    """Checks examples one by one; remembers image hashes to find duplicates."""

    def __init__(self, known_labels: set[str] | None = None, label_map_name: str = "") -> None:
        self.known = known_labels
        self.label_map_name = label_map_name
        self.seen: dict[bytes, tuple[str, bytes]] = {}  # image hash -> (origin, boxes hash)

    def check(self, ex: Example) -> tuple[Loaded | None, list[Problem]]:
        """``(loaded or None, problems)``; ``loaded`` is None when the image is unusable."""
        found = list(ex.problems)
        where = ex.origin
        for name in (ex.filename, ex.image_path or ""):
            if not is_utf8(name):
                found.append(Problem(ERROR, where, f"file name {os.fsencode(name)!r} is not valid UTF-8"))
                return None, found
        if escapes(ex.filename):
            found.append(Problem(ERROR, where, f"file name {ex.filename!r} escapes the dataset "
                                 "folder (absolute or ../); use names relative to it"))
            return None, found
        data = self._read(ex, found)
        if data is None:
            return None, found
        digest = hashlib.sha1(data).digest()
        boxes_key = hashlib.sha1(repr(sorted(
            (b.label, round(b.xmin, 1), round(b.ymin, 1), round(b.xmax, 1), round(b.ymax, 1))
            for b in ex.boxes)).encode()).digest()
        if digest in self.seen:
            first, first_boxes = self.seen[digest]
            if first_boxes == boxes_key:  # a plain copy: leave it out, so it cannot leak into test
                found.append(Problem(WARNING, where, f"duplicate image: {ex.filename} is the same "
                                     f"picture with the same boxes as {first}; left out"))
            else:
                found.append(Problem(ERROR, where, f"duplicate image: {ex.filename} is the same "
                                     f"picture as {first}, with different boxes"))
            return None, found
        self.seen[digest] = (where, boxes_key)
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), _DECODE)
        if pixels is None:
            found.append(Problem(ERROR, where, f"corrupt image {self._name(ex)}: cannot decode it"))
            return None, found
        height, width = pixels.shape[:2]
        if ex.width <= 0 or ex.height <= 0:
            found.append(Problem(WARNING, where, f"no annotated image size; using the real "
                                 f"{width}x{height}"))
        elif (ex.width, ex.height) != (width, height):
            found.append(Problem(ERROR, where, f"annotated size {ex.width}x{ex.height} differs "
                                 f"from the image's real size {width}x{height} ({self._name(ex)})"))
            return None, found
        boxes = [b for b in (self._box(b, width, height, where, found) for b in ex.boxes) if b]
        if not ex.boxes and not any(p.severity == ERROR for p in found):
            found.append(Problem(WARNING, where, "no objects annotated (kept as a background image)"))
        return Loaded(ex, data, sniff_format(data), pixels, boxes), found

    def _name(self, ex: Example) -> str:
        return show(ex.image_path) if ex.image_path else ex.filename

    def _read(self, ex: Example, found: list[Problem]) -> bytes | None:
        if ex.image_bytes is not None:
            return ex.image_bytes
        if ex.image_path is None:
            looked = ", ".join(show(p) for p in ex.searched[:3]) or "beside the annotation"
            found.append(Problem(ERROR, ex.origin, f"image {ex.filename!r} not found (looked in "
                                 f"{looked}; --images DIR says where)"))
            return None
        try:
            return ex.image_path.read_bytes()
        except OSError as exc:
            found.append(Problem(ERROR, ex.origin, f"cannot read image {show(ex.image_path)}: "
                                 f"{exc.strerror or exc}"))
            return None

    def _box(self, b: Box, width: int, height: int, where: str, found: list[Problem]) -> Box | None:
        at = b.origin or where
        coords = f"({b.xmin:g}, {b.ymin:g}, {b.xmax:g}, {b.ymax:g})"
        if self.known is not None and b.label not in self.known:
            found.append(Problem(ERROR, at, f"class {b.label!r} is not in the label map "
                                 f"{self.label_map_name}".rstrip()))
            return None
        if not all(math.isfinite(v) for v in (b.xmin, b.ymin, b.xmax, b.ymax)):
            found.append(Problem(ERROR, at, f"box {coords} has a non-finite coordinate"))
            return None
        if b.xmax <= b.xmin or b.ymax <= b.ymin:
            kind = "zero-area" if b.xmax == b.xmin or b.ymax == b.ymin else "inverted"
            found.append(Problem(ERROR, at, f"{kind} box {coords} of {b.label!r} "
                                 "(need xmin < xmax and ymin < ymax)"))
            return None
        if b.xmin >= width or b.ymin >= height or b.xmax <= 0 or b.ymax <= 0:
            found.append(Problem(ERROR, at, f"box {coords} of {b.label!r} lies wholly outside "
                                 f"the {width}x{height} image"))
            return None
        if b.xmin < 0 or b.ymin < 0 or b.xmax > width or b.ymax > height:
            clipped = Box(b.label, max(b.xmin, 0.0), max(b.ymin, 0.0), min(b.xmax, float(width)),
                          min(b.ymax, float(height)), b.origin)
            found.append(Problem(WARNING, at, f"box {coords} of {b.label!r} extends past the "
                                 f"{width}x{height} image; clipped to it"))
            return clipped
        return b


@dataclass
class SplitCounts:
    images: int = 0
    objects: Counter = field(default_factory=Counter)


@dataclass
class DatasetReport:
    """What a check (or build) found: counts of the usable examples and every problem."""

    source: str
    format: str
    examples: int = 0  # seen, usable or not
    images: int = 0  # usable
    objects: Counter = field(default_factory=Counter)
    splits: dict[str, SplitCounts] = field(default_factory=dict)
    box_w: array = field(default_factory=lambda: array("f"))  # px, one per box
    box_h: array = field(default_factory=lambda: array("f"))
    box_image: array = field(default_factory=lambda: array("f"))  # longer side of its image
    problems: list[Problem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    def ok(self, strict: bool = False) -> bool:
        return not self.errors and not (strict and self.warnings)

    def add(self, loaded: Loaded, split: str | None = None) -> None:
        self.images += 1
        for b in loaded.boxes:
            self.objects[b.label] += 1
            self.box_w.append(b.xmax - b.xmin)
            self.box_h.append(b.ymax - b.ymin)
            self.box_image.append(max(loaded.width, loaded.height))
        if split is not None:
            counts = self.splits.setdefault(split, SplitCounts())
            counts.images += 1
            counts.objects.update(b.label for b in loaded.boxes)


def scan(source: DatasetSource, checker: Checker, report: DatasetReport) -> Iterator[Loaded | None]:
    """Check every example of ``source`` in order; yield it loaded, or None when it has errors.

    Problems go into ``report``; so do the examples (and files) skipped for errors.
    """
    loose: list[Problem] = []
    for example in source.examples(loose):
        _take_loose(loose, report)
        report.examples += 1
        loaded, found = checker.check(example)
        report.problems.extend(found)
        if loaded is None or any(p.severity == ERROR for p in found):
            report.skipped.append(example.origin)
            loaded = None
        yield loaded
        del loaded, example  # hold no pixels while the next image is read and decoded
    _take_loose(loose, report)


def _take_loose(loose: list[Problem], report: DatasetReport) -> None:
    for p in loose:
        report.problems.append(p)
        if p.severity == ERROR:
            report.skipped.append(p.where)
    loose.clear()


def resolve_label_map(label_map: str | Path | dict[int, str] | None) -> tuple[dict[int, str] | None, str]:
    """``({id: name} or None, its file name)`` from a path or a dict."""
    if label_map is None or isinstance(label_map, dict):
        return label_map, "given" if label_map else ""
    from realtime.labelmap import read_label_map

    return read_label_map(label_map), show(label_map)


def check_dataset(src: str | Path, cfg: DatasetConfig | None = None,
                  label_map: str | Path | dict[int, str] | None = None,
                  images: str | Path | None = None,
                  on_progress: OnProgress | None = None) -> DatasetReport:
    """Check every example of the dataset at ``src``; write nothing. ``on_progress``
    gets a report per image (None = silent).

    Raises:
        UserError: when ``src`` is not a dataset at all (other problems are in the report).
    """
    cfg = cfg or DatasetConfig()
    names, map_name = resolve_label_map(label_map)
    source = open_dataset(src, cfg.format, images=images, label_map=names)
    report = DatasetReport(source=show(src), format=source.format)
    checker = Checker(set(names.values()) if names else None, map_name)
    advance = counter(on_progress, "checking")
    for loaded in scan(source, checker, report):
        if loaded is not None:
            report.add(loaded, loaded.example.split)
        advance()
        del loaded  # hold no pixels while the next image is decoded
    if report.examples == 0 and not report.problems:
        raise UserError(f"{show(src)}: no annotated images found ({source.format} format)")
    return report
