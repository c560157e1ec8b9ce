"""The one in-memory example type every dataset reader yields, and the problems found in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input. ``where`` is ``file[:line]`` (or ``file#record``)."""

    severity: str  # ERROR or WARNING
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class Box:
    """One annotated object; pixel coordinates in the annotated image size.

    ``origin`` is the ``file:line`` of the object in its annotation ("" = the example's).
    """

    label: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    origin: str = ""


@dataclass
class Example:
    """One annotated image, as read from any format (not yet checked).

    Attributes:
        image_path: where the image is on disk (None when ``image_bytes`` carries it
            or when it could not be found).
        filename: the name as written in the annotation (kept in ``image/filename``).
        width, height: the annotated size (checked against the real image later;
            0 when the annotation does not say).
        boxes: the objects.
        origin: ``file[:line]`` of the annotation, used in every message about it.
        image_bytes: encoded image when the source already holds it (TFRecords).
        split: "train" / "test" when the source fixes the split, else None.
        problems: what the reader already found wrong with this example.
        searched: folders the reader looked in for the image (for "not found" messages).
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
    problems: list[Problem] = field(default_factory=list)
    searched: list[Path] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [b.label for b in self.boxes]
