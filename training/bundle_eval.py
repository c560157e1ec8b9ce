"""`evaluate_bundle()`: COCO AP, AP50 and per-class AP50 of each file of a bundle.

Each format (SavedModel, float TFLite, int8 TFLite) runs through the runtime's own
detector backend (`realtime.detectors.load_detector`, the code `predict` and `annotate`
use), on the same test records and with the same metrics as `lookout eval` of a run,
so the rows can be compared and the int8 model's AP50 drop is measured, not assumed.
The results go into the bundle's ``model.json`` under ``evaluation``, where
``bundle_format = "auto"`` reads the int8 drop.

Tiles are earned the same way (issue 23): the fastest float file (model.tflite, else
the SavedModel) is also run on the test images whole and tiled as ``tile = "auto"``
would tile them (tiles of the input size, on frames at least `AUTO_FACTOR` times
larger), both rows go into ``evaluation.tiles``, and ``auto`` tiles only when the tiled
row won by `TILE_MARGIN` AP50.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from core.errors import UserError
from core.progress import OnProgress, report
from realtime.bundle import BUNDLE_FILES, LABEL_MAP_FILE, BundleMeta, bundle_file
from realtime.labelmap import read_label_map
from training.run_record import RunRecord

FORMATS = ("saved_model", "frozen_graph", "tflite", "int8")  # rows, in this order
DEFAULT_FORMATS = ("saved_model", "tflite", "int8")  # the frozen graph = the SavedModel
MIN_SCORE = 1e-4  # keep (almost) every candidate, as the export does: AP needs the tail


def evaluate_bundle(bundle: str | Path, data: list[str | Path] | None = None, *,
                    formats: tuple[str, ...] = DEFAULT_FORMATS, tile: str | int = "auto",
                    on_progress: OnProgress | None = None) -> dict:
    """Evaluate tiles (see the module doc), then every format in ``formats`` the bundle
    has with ``tile`` (as ``[detector] tile``; auto reads the tiles just measured);
    write and return ``model.json``'s ``evaluation``: ``{"data", "images", "tiles":
    {"format", "tile", "frames_tiled", "whole": row, "tiled": row, "margin"}, "formats":
    {name: row + {"tile"}}, "int8_ap50_drop"}``, a row being ``{"AP", "AP50",
    "per_class_AP50": {label: AP50}}``.

    Args:
        data: TFRecord files (default: the test split of the bundle's training run).
        on_progress: gets a report per image (task ``eval FORMAT``).
    """
    bundle = Path(bundle)
    if not BundleMeta.path(bundle).is_file():
        raise UserError(f"{bundle}: not a model bundle (no {BundleMeta.FILE})")
    meta = BundleMeta.read(bundle)
    names = read_label_map(bundle / LABEL_MAP_FILE)
    paths = _test_records(bundle, meta, data)
    truth, images = load_truth(paths)
    present = [f for f in formats if bundle_file(bundle, f).exists()]
    data = [str(p) for p in paths]
    before = meta.evaluation or {}
    same_data = before.get("data") == data
    tiles = _evaluate_tiles(bundle, meta, truth, images, names, on_progress)
    meta = meta.replace(evaluation={**(before if same_data else {}), "data": data,
                                    "images": len(images), "tiles": tiles})
    meta.write(bundle)  # tile = auto reads it below
    results = {}
    for name in present:
        results[name] = _evaluate_format(bundle, name, tile, truth, images, names, on_progress)
    if same_data:  # same test set: keep the rows not re-evaluated now
        results = {**before.get("formats", {}), **results}
    results = {f: results[f] for f in FORMATS if f in results}
    evaluation = {"data": data, "images": len(images), "tiles": tiles, "formats": results}
    if ("tflite" in results and "int8" in results
            and results["tflite"].get("tile") == results["int8"].get("tile")):
        evaluation["int8_ap50_drop"] = round(results["tflite"]["AP50"]
                                             - results["int8"]["AP50"], 4)
    meta.replace(evaluation=evaluation).write(bundle)
    return evaluation


def _evaluate_format(bundle: Path, name: str, tile: str | int, truth: list,
                     images: list[np.ndarray], names: dict[int, str],
                     on_progress: OnProgress | None) -> dict:
    """One row: ``name``'s file through the runtime with ``tile``, and its metrics."""
    from realtime.config import DetectorConfig
    from realtime.detectors import load_detector
    from realtime.detectors.tiling import TiledDetector

    cfg = DetectorConfig(score=MIN_SCORE, bundle_format=name, workers=1, tile=tile)
    detector = load_detector(bundle, cfg)
    try:
        row = score_detector(detector, truth, images, names, on_progress, f"eval {name}")
    finally:
        detector.close()
    tiled = detector.tile if isinstance(detector, TiledDetector) else "off"
    return {"file": BUNDLE_FILES[name], **row, "tile": tiled}


def _evaluate_tiles(bundle: Path, meta: BundleMeta, truth: list, images: list[np.ndarray],
                    names: dict[int, str], on_progress: OnProgress | None) -> dict:
    """The fastest float file whole and tiled as ``tile = auto`` would (module doc)."""
    from realtime.config import DetectorConfig
    from realtime.detectors import load_detector
    from realtime.detectors.tiling import AUTO_FACTOR, TILE_MARGIN, TiledDetector

    size = meta.input_size
    fmt = "tflite" if bundle_file(bundle, "tflite").is_file() else "saved_model"
    record = {"format": fmt, "tile": size, "min_frame": None, "frames_tiled": 0,
              "margin": TILE_MARGIN}
    if not (isinstance(size, int) and size > 0):
        return {**record, "skipped": "model.json has no input size"}
    min_frame = int(AUTO_FACTOR * size)
    large = sum(max(im.shape[:2]) >= min_frame for im in images)
    record.update(min_frame=min_frame, frames_tiled=int(large))
    if not large:
        return {**record, "skipped": f"no test image is {min_frame} px or larger: tiles "
                                     f"would change nothing"}
    cfg = DetectorConfig(score=MIN_SCORE, bundle_format=fmt, workers=1, tile="off")
    detector = load_detector(bundle, cfg)
    try:
        whole = score_detector(detector, truth, images, names, on_progress, "eval whole frames")
        tiled = TiledDetector(detector, size, min_frame=min_frame, max_det=cfg.max_det)
        tiles = score_detector(tiled, truth, images, names, on_progress, "eval tiles")
    finally:
        detector.close()
    return {**record, "whole": whole, "tiled": tiles}


def _test_records(bundle: Path, meta: BundleMeta, data) -> list[Path]:
    if data:
        paths = [Path(p) for p in data]
    else:
        from training.datasets.meta import DatasetMeta

        run = RunRecord.read_if_present(meta.training_run) if meta.training_run else None
        dataset = DatasetMeta.read_if_present(run.dataset) if run else None
        if dataset is None:
            raise UserError(f"{bundle}: its training run's dataset is not here "
                            f"({meta.training_run}); pass --data RECORDS")
        paths = dataset.records(run.dataset, "test")
        if not paths:
            raise UserError(f"{dataset.source}: no test split; pass --data RECORDS")
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise UserError(f"{missing[0]}: TFRecord file not found")
    return paths


def score_detector(detector, truth: list, images: list[np.ndarray], names: dict[int, str],
                   on_progress: OnProgress | None = None, task: str = "eval") -> dict:
    """``{"AP", "AP50", "per_class_AP50": {label: AP50}}`` of ``detector`` (opened with a
    score threshold near 0: AP needs the tail) on ``images`` against ``truth``
    (`load_truth`); a report per image goes to ``on_progress`` as ``task``."""
    from training.evaluate import _coco_metrics, _voc_ap50

    found = []
    for i, image in enumerate(images):
        d = detector.detect([image])[0]
        found.append((d.xyxy[:, [1, 0, 3, 2]], d.scores, d.class_ids.astype(int)))
        report(on_progress, task, i + 1, len(images))
    coco = _coco_metrics(truth, found, names)
    voc, _ = _voc_ap50(truth, found, names)
    return {"AP": round(coco["AP"], 4), "AP50": round(coco["AP50"], 4),
            "per_class_AP50": {names[k]: round(v, 4) for k, v in voc.items()}}


def load_truth(paths: list[Path]) -> tuple[list, list[np.ndarray]]:
    """Ground truth ``(yxyx pixel boxes, class ids)`` and RGB images of the records."""
    from PIL import Image

    from training.datasets.records import iter_records

    truth, images = [], []
    for example in iter_records(paths):
        image = np.asarray(Image.open(io.BytesIO(example.encoded)).convert("RGB"))
        h, w = image.shape[:2]
        boxes = example.boxes * np.array([w, h, w, h], np.float32)  # xyxy normalized → px
        truth.append((boxes[:, [1, 0, 3, 2]], example.class_ids.astype(int)))
        images.append(image)
    if not images:
        raise UserError(f"{', '.join(map(str, paths))}: no images in these records")
    return truth, images
