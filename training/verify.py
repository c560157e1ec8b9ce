"""The export's self-check: every exported format must agree with the checkpoint model.

For each sample image (of its own size) and for one batch of two, the SavedModel and the
frozen graph are run, and their detections are compared with the checkpoint model's:
the top ``TOP`` detections of the checkpoint model must each have a same-class detection
within ``box`` (normalized coordinates) and ``score``, and the sorted score lists must
agree within ``score``.

``model.tflite`` takes a fixed-size square (the runtime letterboxes into it) and has
TFLite's NMS op instead of Model Garden's: it is compared the same way with the
checkpoint model on each sample letterboxed to that square (the same pixels in both;
recorded, not a failure: the two NMS implementations may keep different members of a
cluster of overlapping boxes), and then, through the runtime, on the images
themselves against the SavedModel with the int8 check's matching rule
(`tflite_agreement`): at least ``MIN_TFLITE_AGREEMENT`` of the SavedModel's sure
detections must be found.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from core.errors import UserError
from realtime.tracking.iou import iou
from training.model import OUTPUT_KEYS
from training.run_record import RunRecord

TOP = 10
# model.tflite's NMS is TFLite's own op, not Model Garden's: on the same pixels it may
# keep another member of a cluster of overlapping boxes (the demo model after 800 steps:
# box 0.065), so which boxes survive is not the graph's error. Its differences here are
# recorded; what fails its export is the IoU agreement with the SavedModel
# (`check_tflite_agreement`), the rule int8 is held to.
RECORDED_ONLY = {"tflite"}
TOLERANCE = {  # max abs difference allowed, per format
    "saved_model": {"box": 1e-4, "score": 1e-4},
    "frozen_graph": {"box": 1e-4, "score": 1e-4},
    "tflite": {"box": 2e-2, "score": 2e-2},
}


def sample_images(run: RunRecord, limit: int = 3) -> list[np.ndarray]:
    """Up to ``limit`` test images of the run's dataset, plus one synthetic odd-sized one."""
    from PIL import Image

    from training.data import load_dataset
    from training.datasets.records import iter_records

    images = []
    try:
        splits = load_dataset(run.dataset or "-").splits
    except UserError:  # the dataset moved or is gone: synthetic images only
        splits = {}
    if paths := splits.get("test") or splits.get("train"):
        for example in iter_records(paths):
            image = Image.open(io.BytesIO(example.encoded)).convert("RGB")
            image.thumbnail((320, 320))
            images.append(np.asarray(image))
            if len(images) >= limit:
                break
    rng = np.random.default_rng(0)
    images.append(rng.integers(0, 256, (97, 131, 3), dtype=np.uint8))
    return images


def check_bundle(detector, bundle: Path, images: list[np.ndarray]) -> dict:
    """Compare each format in ``bundle`` with ``detector``; return the measured differences.

    Raises:
        UserError: a format disagrees beyond its tolerance.
    """
    runners = {"saved_model": _saved_model_runner(bundle / "saved_model"),
               "frozen_graph": _frozen_graph_runner(bundle / "frozen_inference_graph.pb")}
    if (bundle / "model.tflite").is_file():
        runners["tflite"] = _tflite_runner(bundle / "model.tflite")
    batches = [image[None] for image in images]
    if images:
        batches.append(np.stack([images[-1], images[-1][::-1]]))
    worst = {name: {"box": 0.0, "score": 0.0} for name in runners}
    squares = []
    if "tflite" in runners:  # the fixed-size file sees what the runtime gives it
        from realtime.detectors.tflite import letterbox

        size = runners["tflite"].size
        squares = [letterbox(image, size)[None] for image in images]
    for batch in batches + squares:
        ref = {k: np.asarray(v) for k, v in detector(batch).items()}
        for name, run in runners.items():
            if (name == "tflite") != any(batch is s for s in squares):
                continue
            got = run(batch)
            for i in range(len(batch)):
                box, score = compare(_one(ref, i), _one(got, i), TOLERANCE[name]["score"])
                worst[name]["box"] = max(worst[name]["box"], box)
                worst[name]["score"] = max(worst[name]["score"], score)
    for name, diff in worst.items():
        tol = TOLERANCE[name]
        if name in RECORDED_ONLY:
            continue
        if diff["box"] > tol["box"] or diff["score"] > tol["score"]:
            raise UserError(
                f"export check failed: {name} differs from the checkpoint model by box "
                f"{diff['box']:.2g} (tolerance {tol['box']}), score {diff['score']:.2g} "
                f"(tolerance {tol['score']}); bundle not written")
    return {"images": len(batches) + len(squares), "top": TOP,
            "tolerance": {k: TOLERANCE[k] for k in runners}, "max_difference": worst}


def _one(out: dict, i: int) -> dict:
    return {k: np.asarray(out[k])[i] for k in OUTPUT_KEYS}


def compare(ref: dict, got: dict, score_tol: float = 0.0) -> tuple[float, float]:
    """Max box and score differences between two single-image outputs (see module doc).

    Boxes are compared only for detections that clearly made the cut: a score above the
    lowest kept score by more than ``2 * score_tol``. Below that, which of many
    near-tied candidates fill the last places is legitimately arbitrary.
    """
    n_ref, n_got = int(ref["num_detections"]), int(got["num_detections"])
    ref_scores = np.sort(ref["detection_scores"][:n_ref])[::-1]
    got_scores = np.sort(got["detection_scores"][:n_got])[::-1]
    n = min(len(ref_scores), len(got_scores))
    score = float(np.max(np.abs(ref_scores[:n] - got_scores[:n]), initial=0.0))
    if len(ref_scores) != len(got_scores):  # a missing detection counts as its score
        extra = ref_scores[n:] if len(ref_scores) > n else got_scores[n:]
        score = max(score, float(extra.max()))
    box = 0.0
    floor = float(ref_scores[-1]) + 2 * score_tol if len(ref_scores) else 0.0
    for i in range(min(TOP, n_ref)):
        if ref["detection_scores"][i] <= floor and n_ref >= len(ref["detection_scores"]):
            continue
        same = got["detection_classes"][:n_got] == ref["detection_classes"][i]
        if not same.any():
            return 1.0, max(score, float(ref["detection_scores"][i]))
        dist = np.abs(got["detection_boxes"][:n_got][same] - ref["detection_boxes"][i]).max(axis=1)
        j = int(np.argmin(dist + np.abs(got["detection_scores"][:n_got][same]
                                        - ref["detection_scores"][i])))
        box = max(box, float(dist[j]))
        score = max(score, abs(float(got["detection_scores"][:n_got][same][j]
                                     - ref["detection_scores"][i])))
    return box, score


def _saved_model_runner(path: Path):
    import tensorflow as tf

    fn = tf.saved_model.load(str(path)).signatures["serving_default"]
    return lambda batch: {k: v.numpy() for k, v in fn(images=tf.constant(batch)).items()}


def _frozen_graph_runner(path: Path):
    """Load the .pb the way the TF1 tutorials' runner scripts do."""
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(path.read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    session = tf.compat.v1.Session(graph=graph)
    fetches = {k: graph.get_tensor_by_name(f"{k}:0") for k in OUTPUT_KEYS}
    image = graph.get_tensor_by_name("image_tensor:0")
    return lambda batch: session.run(fetches, {image: batch})


def _tflite_runner(path: Path):
    """The fixed-size file on squares it takes as they are (boxes clipped like the
    runtime's); ``.size`` is its input (height, width)."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner("serving_default")

    def run(batch: np.ndarray) -> dict:
        out = runner(images=batch.astype(np.uint8))
        return {**out, "detection_boxes": np.clip(out["detection_boxes"], 0.0, 1.0)}

    shape = runner.get_input_details()["images"]["shape"]
    run.size = (int(shape[1]), int(shape[2]))
    return run


# --------------------------------------------------------------------------- int8

AGREEMENT_SCORE = 0.3  # float detections at least this sure are the ones compared
AGREEMENT_IOU = 0.5


MIN_TFLITE_AGREEMENT = 0.9  # model.tflite must find this share of the SavedModel's


def agreement(reference, candidate, images: list[np.ndarray],
              min_score: float = AGREEMENT_SCORE) -> dict:
    """How far ``candidate`` agrees with ``reference`` (two `Detector`s) on ``images``.

    Quantization or another NMS moves boxes and scores a little, so instead of a float
    tolerance this counts the reference's detections (score >= ``min_score``) that the
    candidate also finds (same class, IoU >= 0.5, at a score >= ``min_score`` / 2), and
    the score difference of those pairs; and the candidate's detections >= ``min_score``
    the reference lacks (``extra``).
    """
    found = matched = extra = 0
    diffs: list[float] = []
    for image in images:
        ref, got = reference.detect([image])[0], candidate.detect([image])[0]
        pairs = match_detections(ref, got, min_score)
        found += int((ref.scores >= min_score).sum())
        matched += len(pairs)
        diffs += [abs(float(ref.scores[i]) - float(got.scores[j])) for i, j in pairs]
        taken = {j for _, j in match_detections(got, ref, min_score)}
        extra += int((got.scores >= min_score).sum()) - len(taken)
    return {"images": len(images), "min_score": min_score, "iou": AGREEMENT_IOU,
            "reference_detections": found, "matched": matched,
            "agreement": round(matched / found, 4) if found else None,
            "extra": extra,
            "score_diff_mean": round(float(np.mean(diffs)), 4) if diffs else None,
            "score_diff_max": round(float(np.max(diffs)), 4) if diffs else None}


def int8_agreement(float_model, int8_model, images: list[np.ndarray],
                   min_score: float = AGREEMENT_SCORE) -> dict:
    """`agreement` of model_int8.tflite with model.tflite, in model.json's int8 terms."""
    a = agreement(float_model, int8_model, images, min_score)
    names = {"reference_detections": "float_detections", "extra": "int8_only"}
    return {names.get(k, k): v for k, v in a.items()}


def check_tflite_agreement(a: dict) -> None:
    """Fail the export when model.tflite (`agreement` with the SavedModel) misses more
    than ``1 - MIN_TFLITE_AGREEMENT`` of the sure detections (and more than one).

    Raises:
        UserError: it does.
    """
    missed = a["reference_detections"] - a["matched"]
    if missed > max(1.0, (1.0 - MIN_TFLITE_AGREEMENT) * a["reference_detections"]):
        raise UserError(
            f"export check failed: model.tflite finds {a['matched']} of the SavedModel's "
            f"{a['reference_detections']} detections >= {a['min_score']} on {a['images']} "
            f"images (at least {MIN_TFLITE_AGREEMENT:.0%} needed); bundle not written")


def match_detections(ref, got, min_score: float) -> list[tuple[int, int]]:
    """Greedy pairs ``(i, j)``: each detection ``i`` of ``ref`` with score >= ``min_score``
    (best first) takes the unused same-class detection ``j`` of ``got`` with score >=
    ``min_score / 2`` and the highest IoU, if that IoU is >= 0.5."""
    used: set[int] = set()
    pairs = []
    overlaps = iou(ref.xyxy, got.xyxy)
    for i in np.argsort(-ref.scores, kind="stable"):
        if ref.scores[i] < min_score:
            break
        best, best_iou = -1, AGREEMENT_IOU
        for j in range(len(got)):
            if j in used or got.class_ids[j] != ref.class_ids[i] or got.scores[j] < min_score / 2:
                continue
            overlap = overlaps[i, j]
            if overlap >= best_iou:
                best, best_iou = j, overlap
        if best >= 0:
            used.add(best)
            pairs.append((int(i), best))
    return pairs
