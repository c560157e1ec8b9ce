"""`evaluate()`: COCO metrics (pycocotools) and Pascal VOC AP50 per class for a run.

Images come from TFRecords (the run's test split by default, or any OD API records,
e.g. the raccoon tutorial's ``test.record`` whose ``source_id`` is a file name: images
are numbered here, so ids never matter). Detections come from the same serving
function that `export` writes, so the numbers describe the exported model.

Writes into the run folder: ``metrics.json``, ``pr_curves.png`` and TensorBoard
scalars + sample images with predicted boxes under ``validation/``.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections import Counter
from pathlib import Path

import numpy as np

from core.errors import UserError
from core.fileio import atomic_write_json
from core.progress import OnProgress, report
from realtime.labelmap import read_label_map
from realtime.tracking.iou import iou
from training.data import check_records, load_dataset
from training.run_record import RunRecord

COCO_NAMES = ["AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
              "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large"]


def evaluate(run_dir: str | Path, data: list[str | Path] | str | Path | None = None, *,
             checkpoint: str | None = None, on_progress: OnProgress | None = None,
             sample_images: int = 4) -> dict:
    """Evaluate the run's latest (or given) checkpoint; return the metrics dict.

    ``on_progress`` gets a report per image (None = silent).
    """
    import tensorflow as tf

    from training.datasets.records import iter_records
    from training.model import load_export_model, serving_function

    run_dir = Path(run_dir)
    run = RunRecord.read(run_dir)
    names = read_label_map(run_dir / "label_map.pbtxt")
    paths = _record_paths(run, data)
    count = check_records(paths, names, run_dir / "label_map.pbtxt")
    detector = load_export_model(run_dir, checkpoint)
    serve = serving_function(detector)

    truth, found, samples = [], [], []
    report(on_progress, "evaluate", 0, count)
    for index, example in enumerate(iter_records(paths)):
        image = tf.io.decode_image(example.encoded, channels=3, expand_animations=False).numpy()
        h, w = image.shape[:2]
        out = {k: v.numpy()[0] for k, v in serve(image[None]).items()}
        n = int(out["num_detections"])
        scale = np.array([h, w, h, w], np.float32)
        found.append((out["detection_boxes"][:n] * scale, out["detection_scores"][:n],
                      out["detection_classes"][:n].astype(int)))
        boxes = example.boxes * np.array([w, h, w, h], np.float32)  # xyxy normalized → px
        truth.append((boxes[:, [1, 0, 3, 2]], example.class_ids.astype(int)))
        if len(samples) < sample_images:
            samples.append((image, out))
        report(on_progress, "evaluate", index + 1, count)

    coco, sizes = coco_eval(truth, found, names)
    voc, curves = _voc_ap50(truth, found, names)
    metrics = {
        "checkpoint": Path(detector.checkpoint).name,
        "step": _step_of(detector.checkpoint),
        "data": [str(p) for p in paths],
        "images": count,
        "coco": coco,
        "sizes": sizes,
        "voc_ap50": {names[k]: v for k, v in voc.items()},
        "voc_map50": float(np.mean(list(voc.values()))) if voc else 0.0,
    }
    atomic_write_json(run_dir / "metrics.json", metrics, indent=2)
    _plot_pr(curves, voc, names, run_dir / "pr_curves.png")
    _summaries(run_dir / "validation", metrics, samples, names)
    return metrics


def _record_paths(run: RunRecord, data) -> list[Path]:
    if data is None:
        meta_path = Path(run.dataset) / "dataset.json"
        if not meta_path.is_file():
            raise UserError(f"{meta_path}: the run's dataset is gone; pass --data RECORDS")
        test = load_dataset(meta_path.parent).splits.get("test")
        if not test:
            raise UserError(f"{meta_path}: no test split; pass --data RECORDS")
        return test
    if isinstance(data, (str, Path)):
        data = [data]
    return [Path(p) for p in data]


def _step_of(checkpoint: str) -> int | None:
    tail = Path(checkpoint).name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


SIZE_BUCKETS = {"small": (0.0, 32.0**2), "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e10)}


def _coco_metrics(truth, found, names: dict[int, str]) -> dict:
    return coco_eval(truth, found, names)[0]


def coco_eval(truth, found, names: dict[int, str]) -> tuple[dict, dict]:
    """COCO AP/AR via pycocotools on in-memory ground truth and detections.

    Args:
        truth: per image ``(boxes [N, 4] ymin, xmin, ymax, xmax px, class ids [N])``.
        found: per image ``(boxes, scores, class ids)`` likewise.

    Returns:
        ``(coco, sizes)``: the 12 COCO figures, and per size bucket (COCO's small <
        32², medium < 96², large, in image pixels) ``{"objects": ground-truth count,
        "AP": ..., "AP50": ...}`` (None where the bucket has no object).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, annotations, results = [], [], []
    for i, ((gt_boxes, gt_ids), (boxes, scores, ids)) in enumerate(
            zip(truth, found, strict=True), 1):
        images.append({"id": i})
        for (y0, x0, y1, x1), c in zip(gt_boxes, gt_ids, strict=True):
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": int(c),
                                "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                                "area": float((x1 - x0) * (y1 - y0)), "iscrowd": 0})
        for (y0, x0, y1, x1), s, c in zip(boxes, scores, ids, strict=True):
            results.append({"image_id": i, "category_id": int(c), "score": float(s),
                            "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]})
    if not annotations:
        raise UserError("evaluation records hold no boxes")
    sizes = {name: {"objects": sum(1 for a in annotations if lo <= a["area"] < hi),
                    "AP": None, "AP50": None} for name, (lo, hi) in SIZE_BUCKETS.items()}
    gt = COCO()
    gt.dataset = {"images": images, "annotations": annotations,
                  "categories": [{"id": k, "name": v} for k, v in names.items()]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        if not results:
            for bucket in sizes.values():
                if bucket["objects"]:
                    bucket.update(AP=0.0, AP50=0.0)
            return {k: 0.0 for k in COCO_NAMES}, sizes
        evaluator = COCOeval(gt, gt.loadRes(results), "bbox")
        # COCO counts an image's best 100 boxes; a model made for denser images returns
        # more (`training.fit.max_detections_for`), and all of them count here
        most = max(Counter(r["image_id"] for r in results).values())
        evaluator.params.maxDets = [1, 10, max(100, most)]
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    # precision [IoU thresholds, recall points, classes, area ranges, max dets]; area
    # ranges all/small/medium/large, max dets 1/10/the last
    precision = evaluator.eval["precision"]
    every = precision[:, :, :, 0, -1]  # pycocotools' AP looks for 100 by name: not there
    evaluator.stats[0] = every[every > -1].mean() if (every > -1).any() else 0.0
    for a, bucket in enumerate(sizes.values(), 1):
        if bucket["objects"]:
            every, at50 = precision[:, :, :, a, -1], precision[0, :, :, a, -1]
            bucket["AP"] = float(every[every > -1].mean()) if (every > -1).any() else 0.0
            bucket["AP50"] = float(at50[at50 > -1].mean()) if (at50 > -1).any() else 0.0
    return {k: max(0.0, float(v)) for k, v in zip(COCO_NAMES, evaluator.stats)}, sizes


def _voc_ap50(truth, found, names: dict[int, str]):
    """Pascal VOC AP at IoU 0.5 per class (all-point interpolation, VOC2010+)."""
    aps, curves = {}, {}
    for c in names:
        n_gt = sum(int((ids == c).sum()) for _, ids in truth)
        if n_gt == 0:
            continue
        dets = [(s, i, b) for i, (boxes, scores, ids) in enumerate(found)
                for b, s, k in zip(boxes, scores, ids, strict=True) if k == c]
        dets.sort(key=lambda d: -d[0])
        used = {i: np.zeros(int((ids == c).sum()), bool) for i, (_, ids) in enumerate(truth)}
        tp = np.zeros(len(dets))
        for j, (_, i, box) in enumerate(dets):
            gt = truth[i][0][truth[i][1] == c]
            if len(gt):
                ious = iou(box[None], gt)[0]  # yxyx: IoU is the same either way
                best = int(np.argmax(ious))
                if ious[best] >= 0.5 and not used[i][best]:
                    used[i][best] = True
                    tp[j] = 1
        ctp = np.cumsum(tp)
        recall = ctp / n_gt
        precision = ctp / np.arange(1, len(dets) + 1) if len(dets) else np.zeros(0)
        r = np.concatenate([[0.0], recall, [1.0]])
        p = np.concatenate([[0.0], precision, [0.0]])
        p = np.maximum.accumulate(p[::-1])[::-1]
        steps = np.where(r[1:] != r[:-1])[0]
        aps[c] = float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))
        curves[c] = (recall, precision)
    return aps, curves


def _plot_pr(curves, aps, names, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    for c, (recall, precision) in curves.items():
        ax.plot(recall, precision, label=f"{names[c]} (AP50 {aps[c]:.3f})")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
           title="Precision-recall at IoU 0.5")
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(loc="lower left")
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def _summaries(log_dir: Path, metrics: dict, samples, names) -> None:
    """TensorBoard: eval scalars and images with their top predicted boxes."""
    import tensorflow as tf

    step = metrics["step"] or 0
    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        for key, value in metrics["coco"].items():
            tf.summary.scalar(f"coco/{key}", value, step=step)
        for name, value in metrics["voc_ap50"].items():
            tf.summary.scalar(f"voc_ap50/{name}", value, step=step)
        for i, (image, out) in enumerate(samples):
            keep = out["detection_scores"] >= 0.3
            boxes = out["detection_boxes"][keep][None]
            drawn = tf.image.draw_bounding_boxes(
                tf.image.convert_image_dtype(image[None], tf.float32), boxes,
                colors=np.array([[1.0, 0.2, 0.2, 1.0]]))
            tf.summary.image(f"predictions/{i}", drawn, step=step)
    writer.flush()


