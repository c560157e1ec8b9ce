"""`evaluate_bundle()`: COCO AP, AP50 and per-class AP50 of each file of a bundle.

Each format (SavedModel, float TFLite, int8 TFLite) runs through the runtime's own
detector backend (`realtime.detectors.load_detector`, the code `predict` and `annotate`
use), on the same test records and with the same metrics as `lookout eval` of a run,
so the rows can be compared and the int8 model's AP50 drop is measured, not assumed.
The results go into the bundle's ``model.json`` under ``evaluation``, where
``bundle_format = "auto"`` reads the int8 drop.
"""

from __future__ import annotations

import io
import json
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
                    formats: tuple[str, ...] = DEFAULT_FORMATS,
                    on_progress: OnProgress | None = None) -> dict:
    """Evaluate every format in ``formats`` the bundle has; write and return
    ``model.json``'s ``evaluation``: ``{"data", "images", "formats": {name: {"AP",
    "AP50", "per_class_AP50": {label: AP50}}}, "int8_ap50_drop"}``.

    Args:
        data: TFRecord files (default: the test split of the bundle's training run).
        on_progress: gets a report per image (task ``eval FORMAT``).
    """
    from realtime.config import DetectorConfig
    from realtime.detectors import load_detector

    bundle = Path(bundle)
    if not BundleMeta.path(bundle).is_file():
        raise UserError(f"{bundle}: not a model bundle (no {BundleMeta.FILE})")
    meta = BundleMeta.read(bundle)
    names = read_label_map(bundle / LABEL_MAP_FILE)
    paths = _test_records(bundle, meta, data)
    truth, images = load_truth(paths)
    present = [f for f in formats if bundle_file(bundle, f).exists()]
    results = {}
    for name in present:
        cfg = DetectorConfig(score=MIN_SCORE, max_det=100, bundle_format=name, workers=1)
        detector = load_detector(bundle, cfg)
        try:
            scores = score_detector(detector, truth, images, names, on_progress, f"eval {name}")
        finally:
            detector.close()
        results[name] = {"file": BUNDLE_FILES[name], **scores}
    data = [str(p) for p in paths]
    before = meta.evaluation or {}
    if before.get("data") == data:  # same test set: keep the rows not re-evaluated now
        results = {**before.get("formats", {}), **results}
    results = {f: results[f] for f in FORMATS if f in results}
    evaluation = {"data": data, "images": len(images), "formats": results}
    if "tflite" in results and "int8" in results:
        evaluation["int8_ap50_drop"] = round(results["tflite"]["AP50"]
                                             - results["int8"]["AP50"], 4)
    meta.replace(evaluation=evaluation).write(bundle)
    return evaluation


def _test_records(bundle: Path, meta: BundleMeta, data) -> list[Path]:
    if data:
        paths = [Path(p) for p in data]
    else:
        run = RunRecord.read_if_present(meta.training_run) if meta.training_run else None
        dataset_json = Path(run.dataset) / "dataset.json" if run else None
        if dataset_json is None or not dataset_json.is_file():
            raise UserError(f"{bundle}: its training run's dataset is not here "
                            f"({meta.training_run}); pass --data RECORDS")
        split = json.loads(dataset_json.read_text())["splits"].get("test")
        if not split:
            raise UserError(f"{dataset_json}: no test split; pass --data RECORDS")
        paths = [dataset_json.parent / r for r in split["records"]]
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
