"""Pascal VOC XML written byte for byte as labelImg writes it, so labelImg opens it as its own.

The one writer of labelImg XML: `lookout label` (training) and the review folder
(`realtime.review.store`) both write through `voc_xml`, so a reviewed frame and a
model-labelled one are the same file format down to the byte.

labelImg (``libs/pascal_voc_io.py``) pretty-prints with tabs, no XML declaration, integer
pixel corners with the minimum clamped to 1, ``truncated`` = 1 for a box touching the
right/bottom edge (or at 1), and ``verified="yes"`` on the root only once a person has
pressed *Verify*; model-made files leave it out, so they show as not yet checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class VocObject:
    """One box in pixels (``xmin, ymin, xmax, ymax``) with its label."""

    label: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float


def labelimg_box(obj: VocObject, width: int, height: int) -> tuple[int, int, int, int]:
    """The integer corners labelImg would save for ``obj`` (min clamped to 1, max to the size)."""
    xmin = max(1, round(float(obj.xmin)))
    ymin = max(1, round(float(obj.ymin)))
    xmax = min(width, max(xmin, round(float(obj.xmax))))
    ymax = min(height, max(ymin, round(float(obj.ymax))))
    return xmin, ymin, xmax, ymax


def voc_xml(image: Path, width: int, height: int, depth: int, objects: list[VocObject],
            verified: bool = False) -> str:
    """The annotation of ``image`` (an absolute path is recorded as labelImg does)."""
    image = Path(image).absolute()
    root = '<annotation verified="yes">' if verified else "<annotation>"
    lines = [
        root,
        f"\t<folder>{escape(image.parent.name)}</folder>",
        f"\t<filename>{escape(image.name)}</filename>",
        f"\t<path>{escape(str(image))}</path>",
        "\t<source>",
        "\t\t<database>Unknown</database>",
        "\t</source>",
        "\t<size>",
        f"\t\t<width>{width}</width>",
        f"\t\t<height>{height}</height>",
        f"\t\t<depth>{depth}</depth>",
        "\t</size>",
        "\t<segmented>0</segmented>",
    ]
    for obj in objects:
        xmin, ymin, xmax, ymax = labelimg_box(obj, width, height)
        truncated = int(ymax == height or ymin == 1 or xmax == width or xmin == 1)
        lines += [
            "\t<object>",
            f"\t\t<name>{escape(obj.label)}</name>",
            "\t\t<pose>Unspecified</pose>",
            f"\t\t<truncated>{truncated}</truncated>",
            "\t\t<difficult>0</difficult>",
            "\t\t<bndbox>",
            f"\t\t\t<xmin>{xmin}</xmin>",
            f"\t\t\t<ymin>{ymin}</ymin>",
            f"\t\t\t<xmax>{xmax}</xmax>",
            f"\t\t\t<ymax>{ymax}</ymax>",
            "\t\t</bndbox>",
            "\t</object>",
        ]
    lines.append("</annotation>")
    return "\n".join(lines) + "\n"


def read_objects(xml: str | bytes) -> list[VocObject]:
    """The boxes of a VOC annotation (as labelImg or `voc_xml` wrote it; a person may have
    edited it since). Only what the review folder needs to show it again; datasets are
    read by training's checked reader, which names every problem.

    Raises:
        ValueError: not XML, or an object without a name or a numeric box.
    """
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise ValueError(f"malformed XML ({exc})") from None
    objects = []
    for obj in root.iter("object"):
        label = (obj.findtext("name") or "").strip()
        try:
            coords = [float(obj.findtext(f"bndbox/{k}") or "")
                      for k in ("xmin", "ymin", "xmax", "ymax")]
        except ValueError:
            raise ValueError(f"object {label!r} has no numeric bndbox") from None
        if not label:
            raise ValueError("an object without a <name>")
        objects.append(VocObject(label, *coords))
    return objects
