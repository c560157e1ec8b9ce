"""A small-object set made from the raccoon tutorial's data, at bench time, into a temp dir.

GxG mosaics: G*G raccoon images, each fitted into a 1/G cell of the canvas, so every
raccoon becomes about 1/G of its size; boxes are moved and scaled with it. Raccoons
are large (the 10th-percentile box is a third of its image), so in 3x3 mosaics they
are still 29 px at a 256 px input and `--input-size auto` rightly keeps 256. The
default, 8x8 on an 800 px canvas (100 px cells), brings them to the issue's regime:
10% of boxes under 34 px in 800 px frames (11 px at 256), some COCO-small (< 32²)
objects to measure AP_small on, and frames twice the auto input, where tiling starts. The
tutorial's own train/test lists (``data/train_labels.csv``, ``test_labels.csv``) decide
which mosaics an image may go into, so test raccoons are never seen in training.
Written as labelImg VOC XML + JPEG, then built with the ordinary `build_dataset`.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from xml.sax.saxutils import escape

import cv2
import numpy as np

from realtime.config import DetectorConfig
from realtime.detectors.common import BatchDetector, RawOutputs
from realtime.labelmap import read_label_map


def read_split(csv_path: Path, images: Path) -> list[tuple[Path, list[tuple]]]:
    """``[(image, [(label, xmin, ymin, xmax, ymax), ...])]`` of one CSV list; images whose
    annotated size differs from the real one (the checker rejects them) are left out."""
    rows: dict[str, list] = defaultdict(list)
    sizes: dict[str, tuple[int, int]] = {}
    with open(csv_path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows[r["filename"]].append((r["class"], float(r["xmin"]), float(r["ymin"]),
                                        float(r["xmax"]), float(r["ymax"])))
            sizes[r["filename"]] = (int(r["width"]), int(r["height"]))
    out = []
    for name, boxes in sorted(rows.items()):
        path = images / name
        img = cv2.imread(str(path))
        if img is None or (img.shape[1], img.shape[0]) != sizes[name]:
            continue
        out.append((path, boxes))
    return out


def write_mosaics(items: list[tuple[Path, list[tuple]]], out_dir: Path, copies: int,
                  seed: int, prefix: str, grid: int = 8, canvas: int = 800) -> int:
    """``copies`` shuffled passes over ``items``, grid*grid per mosaic; returns the count."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(items)) for _ in range(copies)])
    count = 0
    per, cell_px, side = grid * grid, canvas // grid, canvas
    for start in range(0, len(order) - per + 1, per):
        mosaic = np.full((side, side, 3), 114, np.uint8)
        objects = []
        for cell, index in enumerate(order[start:start + per]):
            path, boxes = items[index]
            img = cv2.imread(str(path))
            h, w = img.shape[:2]
            k = cell_px / max(h, w)
            nw, nh = max(1, round(w * k)), max(1, round(h * k))
            ox = (cell % grid) * cell_px + (cell_px - nw) // 2
            oy = (cell // grid) * cell_px + (cell_px - nh) // 2
            mosaic[oy:oy + nh, ox:ox + nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
            for label, x0, y0, x1, y1 in boxes:
                box = np.clip([x0 * k + ox, y0 * k + oy, x1 * k + ox, y1 * k + oy],
                              [ox, oy, ox, oy], [ox + nw, oy + nh, ox + nw, oy + nh])
                if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:
                    objects.append((label, *np.round(box).astype(int)))
        name = f"{prefix}-{count:04d}"
        cv2.imwrite(str(out_dir / f"{name}.jpg"), mosaic, [cv2.IMWRITE_JPEG_QUALITY, 92])
        (out_dir / f"{name}.xml").write_text(_voc(name, mosaic.shape, objects), encoding="utf-8")
        count += 1
    return count


def _voc(name: str, shape, objects) -> str:
    parts = [f"<annotation><folder>mosaics</folder><filename>{name}.jpg</filename>",
             f"<size><width>{shape[1]}</width><height>{shape[0]}</height><depth>3</depth></size>"]
    for label, x0, y0, x1, y1 in objects:
        parts.append(f"<object><name>{escape(label)}</name><difficult>0</difficult><bndbox>"
                     f"<xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax>"
                     "</bndbox></object>")
    return "".join(parts) + "</annotation>\n"


def build_mosaic_dataset(raccoon: Path, work: Path, grid: int = 8, canvas: int = 800,
                         train_copies: int = 12, test_copies: int = 16) -> Path:
    """The mosaic set built as a lookout dataset folder (train/ and test/ splits)."""
    from training.config import DatasetConfig
    from training.datasets.build import build_dataset

    src = work / "mosaics-src"
    for split, copies in (("train", train_copies), ("test", test_copies)):
        items = read_split(raccoon / "data" / f"{split}_labels.csv", raccoon / "images")
        write_mosaics(items, src / split, copies, seed=7 if split == "train" else 11,
                      prefix=split, grid=grid, canvas=canvas)
    out = work / "mosaics"
    build_dataset(src, out, DatasetConfig(format="voc", skip_bad=True))
    return out


def test_images(data_dir: Path) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``[(RGB image, boxes [N, 4] ymin, xmin, ymax, xmax px, class ids)]`` of the test split."""
    from training.data import load_dataset
    from training.datasets.records import iter_records

    out = []
    for ex in iter_records(load_dataset(data_dir).splits["test"]):
        image = cv2.cvtColor(cv2.imdecode(np.frombuffer(ex.encoded, np.uint8), cv2.IMREAD_COLOR),
                             cv2.COLOR_BGR2RGB)
        h, w = image.shape[:2]
        boxes = ex.boxes * np.array([w, h, w, h], np.float32)
        out.append((image, boxes[:, [1, 0, 3, 2]], ex.class_ids.astype(int)))
    return out


class RunAsDetector(BatchDetector):
    """A training run's checkpoint behind the realtime `Detector` interface (what the
    exported bundle would run, without the cost of exporting it)."""

    def __init__(self, run: Path, score: float = 0.05) -> None:
        from training.model import load_export_model, serving_function

        self.serve = serving_function(load_export_model(run))
        names = read_label_map(run / "label_map.pbtxt")
        super().__init__(run, names, str(run / "label_map.pbtxt"), DetectorConfig(score=score),
                         kind="run")

    def _call(self, batch: np.ndarray) -> RawOutputs:
        out = {k: v.numpy() for k, v in self.serve(batch).items()}
        return RawOutputs(out["detection_boxes"], out["detection_scores"],
                          out["detection_classes"], out["num_detections"])
