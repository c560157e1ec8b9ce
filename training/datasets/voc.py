"""Pascal VOC XML (labelImg, RectLabel) and the tutorials' ``annotations/xmls`` layout.

Layouts read:
- images beside the XML files (any depth; ``train/`` and ``test/`` folders keep their split);
- ``images/`` + ``annotations/`` (raccoon), or ``JPEGImages/`` + ``Annotations/`` (VOC);
- ``images/`` + ``annotations/xmls/`` + ``annotations/trainval.txt`` (the pets tutorial).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from training.datasets.example import ERROR, WARNING, Box, Example, Problem
from training.datasets.paths import find_image, natural_key, show, split_from_name

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
IMAGE_FOLDERS = ("images", "JPEGImages", "Images", "imgs")


def xml_files(root: Path) -> list[Path]:
    """Every ``*.xml`` under ``root``, in natural order."""
    return sorted((p for p in root.rglob("*.xml") if p.is_file()), key=natural_key)


def read_voc(root: Path, problems: list[Problem], images: Path | None = None) -> Iterator[Example]:
    """Yield one example per XML file under ``root``; unparseable files become problems."""
    for xml in xml_files(root):
        example = read_voc_file(xml, root, problems, images)
        if example is not None:
            yield example


def read_tutorial(root: Path, problems: list[Problem], images: Path | None = None) -> Iterator[Example]:
    """``annotations/xmls/*.xml`` listed in ``annotations/trainval.txt`` (all XMLs without it)."""
    xml_dir = root / "annotations" / "xmls"
    listing = root / "annotations" / "trainval.txt"
    if not listing.is_file():
        yield from read_voc(xml_dir, problems, images or root / "images")
        return
    try:
        lines = listing.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(ERROR, show(listing), f"cannot read the list ({exc})"))
        return
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        xml = xml_dir / f"{fields[0]}.xml"
        if not xml.is_file():
            problems.append(Problem(ERROR, f"{show(listing)}:{number}",
                                    f"{fields[0]!r} is listed but {show(xml)} does not exist"))
            continue
        example = read_voc_file(xml, root, problems, images or root / "images")
        if example is not None:
            yield example


def read_voc_file(xml: Path, root: Path, problems: list[Problem],
                  images: Path | None = None) -> Example | None:
    """Parse one VOC XML file; None (with a problem) when it is not usable at all."""
    where = show(xml)
    try:
        tree = etree.parse(os.fspath(xml), _PARSER)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or (exc.position[0] if exc.position else 0)
        problems.append(Problem(ERROR, f"{where}:{line}", f"malformed XML: {exc.msg}"))
        return None
    except OSError as exc:
        problems.append(Problem(ERROR, where, f"cannot read annotation ({exc})"))
        return None
    top = tree.getroot()
    if top.tag != "annotation":
        problems.append(Problem(WARNING, f"{where}:{top.sourceline}",
                                f"not a VOC annotation (root element <{top.tag}>); ignored"))
        return None

    found: list[Problem] = []
    filename = (top.findtext("filename") or "").strip()
    if not filename:
        found.append(Problem(WARNING, f"{where}:{top.sourceline}",
                             f"no <filename>; using the image named like the XML ({xml.stem}.*)"))
    width = _int(top, "size/width", where, found)
    height = _int(top, "size/height", where, found)
    boxes = []
    for obj in top.iter("object"):
        at = f"{where}:{obj.sourceline}"
        label = (obj.findtext("name") or "").strip()
        if not label:
            found.append(Problem(ERROR, at, "object without a <name>"))
            continue
        coords = [_float(obj, f"bndbox/{k}", where, found) for k in ("xmin", "ymin", "xmax", "ymax")]
        if any(c is None for c in coords):
            continue
        boxes.append(Box(label, *coords, origin=at))

    bases = [xml.parent]
    if images is not None:
        bases.insert(0, images)
    for folder in (xml.parent, xml.parent.parent, root):
        bases += [folder / name for name in IMAGE_FOLDERS]
    bases = list(dict.fromkeys(bases))
    image = find_image(filename, bases, stem=None if filename else xml.stem)
    if image is None and filename:  # labelImg sometimes writes the name without extension
        image = find_image("", bases, stem=Path(filename).stem if "." in filename else filename)
    rel_dirs = xml.parent.relative_to(root).parts if xml.is_relative_to(root) else ()
    return Example(
        filename=filename or (image.name if image else xml.stem),
        width=width or 0,
        height=height or 0,
        boxes=boxes,
        origin=f"{where}:{top.sourceline}",
        image_path=image,
        split=split_from_name(rel_dirs),
        problems=found,
        searched=bases[:3],
    )


def _int(top, path: str, where: str, found: list[Problem]) -> int | None:
    value = _float(top, path, where, found, required=False)
    return None if value is None else round(value)


def _float(node, path: str, where: str, found: list[Problem], required: bool = True) -> float | None:
    elem = node.find(path)
    if elem is None or not (elem.text or "").strip():
        if required:
            found.append(Problem(ERROR, f"{where}:{node.sourceline}", f"missing <{path}>"))
        return None
    try:
        return float(elem.text.strip())
    except ValueError:
        found.append(Problem(ERROR, f"{where}:{elem.sourceline}",
                             f"<{path}> is not a number: {elem.text.strip()!r}"))
        return None
