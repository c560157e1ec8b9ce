"""`export_bundle()`: a training run → the model bundle of models/README.md.

Everything is written into a temporary sibling folder, checked against the
checkpoint model (see `training.verify`), and only then renamed into place, so a
failure or a crash never leaves half a bundle and never replaces a good one.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from core import __version__
from core.errors import UserError
from core.fileio import atomic_dir
from core.progress import OnProgress, report
from realtime.bundle import (
    BUNDLE_FILES,
    EXPORT_SCORE_THRESHOLD,
    LABEL_MAP_FILE,
    BundleMeta,
    bundle_file,
)
from realtime.labelmap import read_label_map, write_label_map
from training.model import OUTPUT_KEYS, load_export_model, serving_function
from training.run_record import RunRecord


def export_bundle(
    run_dir: str | Path,
    out_dir: str | Path,
    *,
    tflite: bool = True,
    int8: bool | None = None,
    evaluate: bool = True,
    int8_samples: int = 300,
    checkpoint: str | None = None,
    samples: list | None = None,
    on_progress: OnProgress | None = None,
) -> Path:
    """Write ``out_dir`` (saved_model/, frozen_inference_graph.pb, label_map.pbtxt,
    model.json, model.tflite when ``tflite``, model_int8.tflite when ``int8``); return
    its path.

    Args:
        int8: write model_int8.tflite (default: whenever model.tflite is written).
        evaluate: evaluate the TFLite files on the run's test split (model.json
            ``evaluation``, which ``bundle_format = "auto"`` reads to choose int8 and
            ``tile = "auto"`` to choose tiles); skipped with a note when the run's
            test records are gone.
        int8_samples: training images the int8 quantization is calibrated on.
        samples: uint8 RGB images for the self-check (default: the run's test images
            plus a few synthetic ones of other sizes).
        on_progress: gets a `Progress` report as each step starts (None = silent).

    Raises:
        UserError: not a run, no checkpoint, or the exported files disagree with the
            checkpoint model beyond the tolerance (nothing is written then).
    """
    from training import verify

    if int8 is None:
        int8 = tflite
    stages = ["exporting SavedModel", "freezing graph",
              *(["converting to TFLite"] if tflite else []),
              "checking the export against the checkpoint",
              *(["comparing model.tflite with the SavedModel"] if tflite else []),
              *(["quantizing to int8 (calibrating)",
                 "comparing model_int8.tflite with model.tflite"] if int8 else []),
              *(["evaluating on the test split"] if evaluate and tflite else [])]

    def stage(name: str) -> None:  # reported before each step starts
        report(on_progress, "export", stages.index(name), len(stages), name)

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    run = RunRecord.read(run_dir)
    if int8 and not tflite:
        raise UserError("model_int8.tflite is checked against model.tflite: with --no-tflite "
                        "add --no-int8")
    if int8_samples < 1:
        raise UserError(f"--int8-samples {int8_samples}: must be at least 1")
    if out_dir.exists() and not BundleMeta.path(out_dir).is_file():
        raise UserError(f"{out_dir}: exists and is not a model bundle; choose another --out")
    names = read_label_map(run_dir / LABEL_MAP_FILE)
    detector = load_export_model(run_dir, checkpoint)

    with atomic_dir(out_dir) as tmp:  # a failed check leaves the old bundle in place
        stage("exporting SavedModel")
        _write_saved_model(detector, bundle_file(tmp, "saved_model"))
        stage("freezing graph")
        _write_frozen_graph(detector, bundle_file(tmp, "frozen_graph"))
        if tflite:
            from training.tflite import write_tflite

            stage("converting to TFLite")
            write_tflite(run_dir, detector.checkpoint, bundle_file(tmp, "tflite"))
        write_label_map(names, tmp / LABEL_MAP_FILE)
        stage("checking the export against the checkpoint")
        images = samples if samples is not None else verify.sample_images(run)
        check = verify.check_bundle(detector, tmp, images)
        tflite_meta = _check_tflite(run, tmp, samples, stage) if tflite else None
        int8_meta = (_write_int8(run_dir, run, detector.checkpoint, tmp, int8_samples, samples,
                                 stage) if int8 else None)
        metrics_path = run_dir / "metrics.json"
        meta = BundleMeta(
            name=out_dir.name, architecture=run.model, input_size=run.input_size,
            classes=dict(names), training_run=str(run_dir.resolve()),
            checkpoint=Path(detector.checkpoint).name, step=run.step,
            metrics=json.loads(metrics_path.read_text()).get("coco", {})
            if metrics_path.is_file() else {},
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            lookout_version=__version__, outputs=list(OUTPUT_KEYS),
            score_threshold=EXPORT_SCORE_THRESHOLD,
            tflite=tflite_meta,
            int8=int8_meta,
            files={name: file for name, file in BUNDLE_FILES.items() if (tmp / file).exists()},
            export_check=check,
            **_data_fit(run, detector.params),
        )
        meta.write(tmp)
        if evaluate and tflite:
            stage("evaluating on the test split")
            _evaluate(tmp, on_progress)
    report(on_progress, "export", len(stages), len(stages), "done")
    return out_dir


def _check_tflite(run: RunRecord, tmp: Path, samples: list | None, stage) -> dict:
    """model.tflite (TFLite's NMS op, fixed-size input) against the SavedModel (Model
    Garden's NMS, any size), both through the runtime on the test images: the int8
    check's matching rule; too many misses fail the export (`verify.check_tflite_agreement`)."""
    from training import verify

    stage("comparing model.tflite with the SavedModel")
    models = _runtime_models(tmp, ("saved_model", "tflite"))
    test = samples if samples is not None else verify.sample_images(run, limit=20)
    try:
        agreement = verify.agreement(*models, test)
    finally:
        for model in models:
            model.close()
    verify.check_tflite_agreement(agreement)
    size = int(run.input_size)
    return {"input": f"uint8 [1, {size}, {size}, 3] RGB, letterboxed (scaled to fit, padded "
                     f"right and bottom); boxes are on that square",
            "outputs": "detection_boxes, detection_classes, detection_scores, "
                       "num_detections (same meaning as the SavedModel)",
            "post_processing": "TFLite_Detection_PostProcess (per-class NMS, IoU and "
                               "detection cap as the SavedModel's)",
            "agreement_with_saved_model": agreement,
            "min_agreement": verify.MIN_TFLITE_AGREEMENT}


def _runtime_models(bundle: Path, formats: tuple[str, ...]) -> list:
    """The bundle's ``formats`` opened by the runtime as `predict` would, untiled (by
    file: model.json is written last)."""
    from realtime.config import DetectorConfig
    from realtime.detectors import load_detector as load_runtime
    from training import verify

    cfg = DetectorConfig(score=verify.AGREEMENT_SCORE / 2, workers=1, tile="off",
                         labels=str(bundle / LABEL_MAP_FILE))
    return [load_runtime(bundle_file(bundle, f), cfg) for f in formats]


def _evaluate(bundle: Path, on_progress) -> None:
    """`evaluate_bundle` of the TFLite files (and tiles) into model.json; a run whose
    test records are gone gets a note instead (auto then runs the float file, untiled)."""
    from training.bundle_eval import evaluate_bundle

    try:
        evaluate_bundle(bundle, formats=("tflite", "int8"), on_progress=on_progress)
    except UserError as exc:
        meta = BundleMeta.read(bundle)
        meta.replace(evaluation={"skipped": str(exc)}).write(bundle)


def _write_int8(run_dir: Path, run: RunRecord, checkpoint: str, tmp: Path, limit: int,
                samples: list | None, stage) -> dict:
    """model_int8.tflite, and how far it agrees with model.tflite (for model.json)."""
    from training import verify
    from training.quantize import representative_images, write_int8_tflite

    size = run.input_size
    stage("quantizing to int8 (calibrating)")
    images = representative_images(run, size, limit)
    if not images:
        raise UserError(f"{run_dir}: the run's training records are gone; --int8 calibrates "
                        f"on them")
    write_int8_tflite(run_dir, checkpoint, bundle_file(tmp, "int8"), images)
    stage("comparing model_int8.tflite with model.tflite")
    models = _runtime_models(tmp, ("tflite", "int8"))
    test = samples if samples is not None else verify.sample_images(run, limit=20)
    agreement = verify.int8_agreement(*models, test)
    for model in models:
        model.close()
    return {"file": BUNDLE_FILES["int8"],
            "input": f"uint8 [1, {size}, {size}, 3] RGB, letterboxed (scaled to fit, padded "
                     f"right and bottom); boxes are on that square",
            "quantization": "full integer: int8 weights (per channel) and activations; "
                            "TFLite's NMS op in float",
            "representative_images": len(images),
            "agreement": agreement,
            "summary": describe_agreement(agreement)}


def describe_agreement(a: dict) -> str:
    """One line for the console: how far model_int8.tflite agrees with model.tflite."""
    if not a["float_detections"]:
        return (f"the float model found nothing >= {a['min_score']} on {a['images']} images "
                f"(int8 found {a['int8_only']})")
    return (f"{a['matched']}/{a['float_detections']} detections matched at IoU >= {a['iou']} "
            f"(score diff mean {a['score_diff_mean']}, max {a['score_diff_max']}), "
            f"{a['int8_only']} int8-only, on {a['images']} images")


def _data_fit(run: RunRecord, params) -> dict:
    """``anchors`` and ``max_detections`` (as built into the exported graph) and
    ``training_data`` (box sizes at the input)."""
    model = params.task.model
    fit = run.data_fit or {}  # `training.fit.DataFit.as_dict`
    anchors = {**(fit.get("anchors") or {}),
               "anchor_size": float(model.anchor.anchor_size),
               "aspect_ratios": [float(r) for r in model.anchor.aspect_ratios],
               "num_scales": int(model.anchor.num_scales),
               "min_level": int(model.min_level), "max_level": int(model.max_level)}
    return {"anchors": anchors,
            "max_detections": int(model.detection_generator.max_num_detections),
            "training_data": fit.get("data")}


def _write_saved_model(detector, path: Path) -> None:
    import tensorflow as tf

    serve = serving_function(detector)
    detector.module.serve_images = serve  # tracked on the module, like Model Garden's export
    tf.saved_model.save(detector.module, str(path),
                        signatures={"serving_default": serve.get_concrete_function()})


def _write_frozen_graph(detector, path: Path) -> None:
    """Freeze the serving function and name its tensors as TF1 OD API graphs do."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    fn = serving_function(detector, input_name="image_tensor", named_outputs=True)
    frozen = convert_variables_to_constants_v2(fn.get_concrete_function())
    graph_def = frozen.graph.as_graph_def()
    nodes = {n.name for n in graph_def.node}
    missing = [k for k in ("image_tensor", *OUTPUT_KEYS) if k not in nodes]
    if missing:
        raise RuntimeError(f"frozen graph lacks tensors {missing}")
    tf.io.write_graph(graph_def, str(path.parent), path.name, as_text=False)

