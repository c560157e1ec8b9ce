"""Evaluate what ships: every format of an exported bundle on the same test records.

A bundle holds one model in several files (``saved_model/``, ``frozen_inference_graph.pb``,
``model.tflite``); conversion can change what a file detects, so each is run through the
runtime that deploys it (`realtime.detectors.load_detector` with that ``bundle_format``)
and scored with the same COCO / VOC AP50 code as the checkpoint. Results go into the
bundle's ``model.json`` as ``eval.formats.<format>``, one row per format, so a later
format (e.g. an int8 ``.tflite``) is one more row.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.errors import UserError
from core.fileio import atomic_write_json
from core.progress import OnProgress, report
from realtime.labelmap import read_label_map
from training.data import check_records
from training.evaluate import _coco_metrics, _record_paths, _voc_ap50

FORMATS = {  # format → the file of the bundle that holds it
    "saved_model": "saved_model",
    "frozen_graph": "frozen_inference_graph.pb",
    "tflite": "model.tflite",
}


def is_bundle(path: str | Path) -> bool:
    return (Path(path) / "model.json").is_file()


def bundle_formats(bundle: Path) -> list[str]:
    return [fmt for fmt, name in FORMATS.items() if (bundle / name).exists()]


def _records(bundle: Path, meta: dict, data) -> list[Path]:
    if data is not None:
        return _record_paths({}, data)
    run_dir = meta.get("training_run")
    run_file = Path(run_dir or "") / "run.json"
    if not run_dir or not run_file.is_file():
        raise UserError(f"{bundle}/model.json: its training run ({run_dir}) is gone; "
                        "pass --data RECORDS")
    return _record_paths(json.loads(run_file.read_text()), None)


def evaluate_bundle(bundle: str | Path, data: list[str | Path] | None = None, *,
                    formats: list[str] | None = None,
                    on_progress: OnProgress | None = None) -> dict:
    """Score each format of ``bundle`` on ``data`` (default: its run's test split).

    Args:
        formats: which to run (default: every one the bundle holds).
        on_progress: gets ``eval <format>`` reports, one per image.

    Returns:
        ``{"data": [...], "images": n, "formats": {fmt: {"coco": {...}, "voc_ap50":
        {label: ap}, "voc_map50": x}}}``, also stored as ``eval`` in ``model.json``.
    """
    from realtime.config import DetectorConfig
    from realtime.detectors import load_detector
    from training.datasets.records import iter_records

    bundle = Path(bundle)
    meta = json.loads((bundle / "model.json").read_text(encoding="utf-8"))
    names = read_label_map(bundle / "label_map.pbtxt")
    paths = _records(bundle, meta, data)
    count = check_records(paths, names, bundle / "label_map.pbtxt")
    available = bundle_formats(bundle)
    formats = formats or available
    missing = [f for f in formats if f not in available]
    if missing:
        raise UserError(f"{bundle}: has no {', '.join(missing)} (it holds "
                        f"{', '.join(available)})")
    truth, images = [], []  # test splits are small: decode once for every format
    for example in iter_records(paths):
        images.append(_decode(example.encoded))
        h, w = images[-1].shape[:2]
        boxes = example.boxes * np.array([w, h, w, h], np.float32)  # xyxy normalized → px
        truth.append((boxes[:, [1, 0, 3, 2]], example.class_ids.astype(int)))

    results = {}
    for fmt in formats:
        # everything the model outputs counts (AP integrates over scores)
        cfg = DetectorConfig(score=0.0, max_det=100, bundle_format=fmt, device="cpu"
                             if fmt == "tflite" else "auto")
        detector = load_detector(bundle, cfg, warmup=False)
        found = []
        try:
            for done, rgb in enumerate(images, 1):
                det = detector.detect([rgb])[0]
                found.append((det.xyxy[:, [1, 0, 3, 2]], det.scores, det.class_ids.astype(int)))
                report(on_progress, f"eval {fmt}", done, count)
        finally:
            detector.close()
        voc, _ = _voc_ap50(truth, found, names)
        results[fmt] = {
            "coco": _coco_metrics(truth, found, names),
            "voc_ap50": {names[k]: v for k, v in voc.items()},
            "voc_map50": float(np.mean(list(voc.values()))) if voc else 0.0,
        }
    summary = {"data": [str(p) for p in paths], "images": count, "formats": results}
    previous = meta.get("eval", {}).get("formats", {}) if meta.get("eval", {}).get(
        "data") == summary["data"] else {}
    meta["eval"] = {**summary, "formats": {**previous, **results}}
    atomic_write_json(bundle / "model.json", meta, indent=2)
    return summary


def _decode(encoded: bytes) -> np.ndarray:
    import cv2

    bgr = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise UserError("evaluation record holds an undecodable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
