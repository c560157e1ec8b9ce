"""Model-assisted labeling: a detector's boxes become labelImg XML beside each new image.

Only images without an annotation get one: an XML beside the image means a person may
have drawn or corrected it, and that work is never replaced unless ``overwrite`` is asked
for. Each XML is written atomically, so an interrupted run leaves whole files only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.errors import UserError
from core.fileio import atomic_write_text
from core.progress import OnProgress
from core.progress import report as report_progress
from realtime.detectors.base import Detector
from realtime.inputs import IMAGE_SUFFIXES
from realtime.predict import read_rgb
from realtime.review.voc import VocObject, voc_xml


@dataclass
class LabelReport:
    """What `label_images` did. ``boxes`` maps each written XML's image to its box count."""

    folder: Path
    boxes: dict[Path, int] = field(default_factory=dict)
    kept: list[Path] = field(default_factory=list)  # already annotated, left alone
    failed: list[tuple[Path, str]] = field(default_factory=list)
    per_label: dict[str, int] = field(default_factory=dict)

    @property
    def total_boxes(self) -> int:
        return sum(self.boxes.values())

    @property
    def empty(self) -> int:
        return sum(1 for n in self.boxes.values() if n == 0)


def images_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder of images")
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise UserError(f"{folder}: holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return found


def label_images(detector: Detector, folder: str | Path, *, score: float = 0.5,
                 classes: list[str] | None = None, overwrite: bool = False,
                 on_progress: OnProgress | None = None) -> LabelReport:
    """Write ``IMAGE.xml`` (labelImg VOC) beside every image of ``folder`` that has none.

    Args:
        detector: any backend (`realtime.detectors.load_detector`).
        score: keep boxes at or above this score.
        classes: keep only these labels (None or [] = all).
        overwrite: replace existing XML files too (a person's corrections are lost).
        on_progress: gets ``label`` reports, one per image.
    """
    folder = Path(folder)
    images = images_in(folder)
    report = LabelReport(folder)
    wanted = set(classes or ())
    for done, image in enumerate(images, 1):
        xml = image.with_suffix(".xml")
        if xml.exists() and not overwrite:
            report.kept.append(image)
        else:
            try:
                rgb = read_rgb(image)
            except (UserError, OSError) as exc:
                report.failed.append((image, str(exc).removeprefix(f"{image}: ")))
            else:
                found = detector.detect([rgb])[0]
                objects = [VocObject(label, *map(float, box))
                           for box, s, label in zip(found.xyxy, found.scores,
                                                    found.labels, strict=True)
                           if s >= score and (not wanted or label in wanted)]
                height, width = rgb.shape[:2]
                atomic_write_text(xml, voc_xml(image, width, height, 3, objects))
                report.boxes[image] = len(objects)
                for obj in objects:
                    report.per_label[obj.label] = report.per_label.get(obj.label, 0) + 1
        report_progress(on_progress, "label", done, len(images))
    return report
