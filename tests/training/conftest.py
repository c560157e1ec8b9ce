"""Small real datasets made in tmp_path (the tutorial datasets: the ``raccoon`` and
``fruit_nuts`` fixtures of tests/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

# (file stem, [(label, xmin, ymin, xmax, ymax)]) on 64x48 images: two classes, 8 images
TINY = [
    (f"img{i}", [("cat", 4 + i, 5, 30 + i, 40)] + ([("dog", 35, 2, 60, 20 + i)] if i % 2 else []))
    for i in range(8)
]
W, H = 64, 48


def write_image(path: Path, seed: int, w: int = W, h: int = H) -> bytes:
    """A random (so unique) JPEG or PNG, by extension; returns its bytes."""
    pixels = np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(path.suffix, pixels)
    assert ok
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.tobytes())
    return buf.tobytes()


def voc_xml(filename: str, boxes, w: int = W, h: int = H) -> str:
    objects = "".join(
        f"  <object>\n    <name>{label}</name>\n    <bndbox>\n      <xmin>{x0}</xmin>\n"
        f"      <ymin>{y0}</ymin>\n      <xmax>{x1}</xmax>\n      <ymax>{y1}</ymax>\n"
        "    </bndbox>\n  </object>\n"
        for label, x0, y0, x1, y1 in boxes
    )
    return (f"<annotation>\n  <filename>{filename}</filename>\n  <size>\n    <width>{w}</width>\n"
            f"    <height>{h}</height>\n    <depth>3</depth>\n  </size>\n{objects}</annotation>\n")


def make_voc(root: Path, items=TINY, xml_dir: str = "", image_dir: str = "") -> Path:
    """VOC XML files in ``root/xml_dir``, images in ``root/image_dir`` (both default: root)."""
    for seed, (stem, boxes) in enumerate(items):
        write_image(root / image_dir / f"{stem}.jpg", seed)
        path = root / xml_dir / f"{stem}.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(voc_xml(f"{stem}.jpg", boxes))
    return root


def make_csv(root: Path, items=TINY, name: str = "labels.csv") -> Path:
    lines = ["filename,width,height,class,xmin,ymin,xmax,ymax"]
    for seed, (stem, boxes) in enumerate(items):
        write_image(root / "images" / f"{stem}.jpg", seed)
        lines += [f"{stem}.jpg,{W},{H},{label},{x0},{y0},{x1},{y1}" for label, x0, y0, x1, y1 in boxes]
    (root / name).write_text("\n".join(lines) + "\n")
    return root / name


def make_coco(root: Path, items=TINY) -> Path:
    labels = sorted({b[0] for _, boxes in items for b in boxes})
    images, annotations = [], []
    for i, (stem, boxes) in enumerate(items):
        write_image(root / "images" / f"{stem}.jpg", i)
        images.append({"id": 100 + i, "file_name": f"{stem}.jpg", "width": W, "height": H})
        for label, x0, y0, x1, y1 in boxes:
            annotations.append({"id": len(annotations) + 1, "image_id": 100 + i,
                                "category_id": labels.index(label) + 7,
                                "bbox": [x0, y0, x1 - x0, y1 - y0], "iscrowd": 0})
    data = {"images": images, "annotations": annotations,
            "categories": [{"id": i + 7, "name": n} for i, n in enumerate(labels)]}
    path = root / "annotations.json"
    path.write_text(json.dumps(data, indent=1))
    return path


@pytest.fixture
def tiny_voc(tmp_path: Path) -> Path:
    return make_voc(tmp_path / "tiny")
