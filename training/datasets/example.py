"""The one in-memory example type every dataset reader yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Box:
    """One annotated object; pixel coordinates in the annotated image size."""

    label: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclass
class Example:
    """One annotated image, as read from any format (not yet checked).

    Attributes:
        image_path: where the image is on disk (None when ``image_bytes`` carries it).
        filename: the name as written in the annotation (kept in ``image/filename``).
        width, height: the annotated size (checked against the real image later).
        boxes: the objects.
        origin: ``file[:line]`` of the annotation, used in every message about it.
        image_bytes: encoded image when the source already holds it (TFRecords).
        split: "train" / "test" when the source fixes the split, else None.
    """

    filename: str
    width: int
    height: int
    boxes: list[Box] = field(default_factory=list)
    origin: str = ""
    image_path: Path | None = None
    image_bytes: bytes | None = None
    image_format: str = ""
    split: str | None = None
