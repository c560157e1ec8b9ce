"""`retrain()`: a bundle + the review folder → a candidate, compared, promoted or kept.

Steps (each reported through ``on_progress`` as task ``retrain``; train, export and
evaluate report their own tasks too, so the page can show one bar per step):

1. **dataset**: the original training data (default: the dataset folder of the bundle's
   run, so its test split is the one the current model was measured on; ``data`` = any
   source `lookout dataset build` reads) plus the reviewed frames, each in ``train`` or
   ``test`` by a hash of its name (`review_split`): a frame keeps its split from one
   retrain to the next, and the test split grows with real mistakes. Negative examples
   (wrong alerts with no box) go in as images with no objects.
2. **train**: from the bundle's own run (``--init runs/X``: its weights and anchors), with
   that run's settings (its input size) and ``[retrain] time`` / ``steps`` (`train`'s
   time budget: the clock ends the run, steps cap it).
3. **export** the candidate into the work folder, with the files the bundle has.
4. **compare** candidate and current model through the same runtime backend on the same
   test split (COCO AP, AP50) and on the reviewed frames (`retrain_eval`).
5. **promote** when `retrain_eval.decide` says so: the previous bundle becomes
   ``BUNDLE.prev/`` and the candidate takes its place in two renames (a running `watch`
   sees a bundle, or briefly none, never half of one).

The work folder keeps the dataset, the run (which the promoted bundle's ``model.json``
points at, so the next retrain starts from it) and ``retrain.json``, the record of both
models side by side and the reasons.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import UserError
from core.fileio import atomic_dir, atomic_write_json
from core.progress import OnProgress, report
from realtime.bundle import LABEL_MAP_FILE, BundleMeta, bundle_file
from training.config import DatasetConfig, RetrainConfig, TrainConfig
from training.progress import Interrupted
from training.retrain_eval import ModelScore, decide, score_reviews
from training.run_record import RunRecord

STAGES = ("building the dataset", "training the candidate", "exporting the candidate",
          "comparing the two models", "deciding")
RECORD = "retrain.json"


@dataclass
class RetrainResult:
    """What `retrain` did; ``as_dict()`` is what ``retrain.json`` holds."""

    bundle: Path
    work_dir: Path
    candidate: Path
    current: ModelScore
    new: ModelScore
    promoted: bool
    reasons: list[str]
    test_images: int
    reviews: dict[str, int] = field(default_factory=dict)  # split -> reviewed frames
    previous: Path | None = None  # BUNDLE.prev after a promotion

    def as_dict(self) -> dict:
        return {"bundle": str(self.bundle), "work_dir": str(self.work_dir),
                "candidate": str(self.candidate), "promoted": self.promoted,
                "reasons": self.reasons, "test_images": self.test_images,
                "reviews": self.reviews, "current": self.current.as_dict(),
                "new": self.new.as_dict(),
                "previous": str(self.previous) if self.previous else None,
                "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


def review_split(name: str, test_fraction: float) -> str:
    """``"test"`` for about ``test_fraction`` of names, always the same for one name."""
    value = int.from_bytes(hashlib.sha1(name.encode("utf-8")).digest()[:8], "big") / 2**64
    return "test" if value < test_fraction else "train"


def retrain(bundle: str | Path, review_dir: str | Path, *, data: str | Path | None = None,
            work_dir: str | Path | None = None, cfg: RetrainConfig | None = None,
            train_changes: dict | None = None, on_progress: OnProgress | None = None,
            notify: Callable[[str, bool], None] | None = None,
            stop: threading.Event | None = None) -> RetrainResult:
    """Train a candidate for ``bundle`` on its data plus the reviews, compare, maybe promote.

    Args:
        review_dir: the review folder (`realtime.review.store`).
        data: the original training data (default: the dataset of the bundle's run).
        work_dir: where the dataset, the run and ``retrain.json`` go (default:
            ``runs/BUNDLE-retrain-STAMP``); it must not exist yet.
        cfg: ``[retrain]`` (time, steps, margin, score, test_fraction).
        train_changes: ``[train]`` fields to change from the bundle's run (e.g. batch).
        notify: ``notify(text, warning)`` gets what training chose, as `train` says it.
        stop: set it (from another thread, e.g. the page's "stop" button) to end the
            retrain at the next progress report; nothing is promoted then.

    Raises:
        UserError: not a bundle, its run or dataset is gone, no reviews, stopped, ...
    """
    if stop is not None:
        on_progress = _stoppable(on_progress, stop)
    try:
        return _retrain(bundle, review_dir, data, work_dir, cfg, train_changes, on_progress,
                        notify)
    except Interrupted:
        raise UserError(f"retrain of {bundle} stopped; the current model stays") from None


def _retrain(bundle, review_dir, data, work_dir, cfg, train_changes, on_progress,
             notify) -> RetrainResult:
    from realtime.labelmap import read_label_map
    from realtime.review.store import ReviewStore
    from training.train import train

    cfg = cfg or RetrainConfig()
    bundle = Path(bundle)
    if not BundleMeta.path(bundle).is_file():
        raise UserError(f"{bundle}: not a model bundle (no {BundleMeta.FILE})")
    meta = BundleMeta.read(bundle)
    run_dir = Path(meta.training_run or "")
    if not RunRecord.path(run_dir).is_file():
        raise UserError(f"{bundle}: its training run {run_dir} is not here; retrain starts from it")
    run = RunRecord.read(run_dir)
    names = read_label_map(bundle / LABEL_MAP_FILE)
    review_dir = Path(review_dir)
    reviews = ReviewStore(review_dir.parent, review_dir).list()
    if not reviews:
        raise UserError(f"{review_dir}: no reviews (a JPEG + labelImg XML each); mark events "
                        "right or wrong on the page first")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    work = Path(work_dir) if work_dir else Path("runs") / f"{bundle.name}-retrain-{stamp}"
    if work.exists():
        raise UserError(f"{work}: already exists; choose another work folder")
    work.mkdir(parents=True)

    def stage(i: int) -> None:
        report(on_progress, "retrain", i, len(STAGES), STAGES[i])

    stage(0)
    base = _base_dataset(run, data, names, work, on_progress)
    splits = _review_records(reviews, review_dir, names, work, cfg.test_fraction)
    dataset = _combine(base, splits, names, work / "dataset")
    stage(1)
    # the run's own settings (its input size, resolved) and weights; the retrain's budget
    # (not the original run's time)
    settings = {**run.train, **(train_changes or {}), "init": str(run_dir.resolve()),
                "steps": cfg.steps, "time": cfg.time}
    train_cfg = TrainConfig(**settings)
    if train(dataset, work / "run", train_cfg, evaluate_at_end=False, on_progress=on_progress,
             notify=notify).interrupted:
        raise Interrupted
    stage(2)
    from training.export import export_bundle

    candidate = export_bundle(work / "run", work / bundle.name,
                              tflite=bundle_file(bundle, "tflite").exists(),
                              int8=bundle_file(bundle, "int8").exists(),
                              on_progress=on_progress)
    stage(3)
    from training.data import load_dataset

    test = load_dataset(dataset).splits.get("test", [])
    current, new, test_images = _compare(bundle, candidate, test, reviews, names, cfg.score,
                                         on_progress)
    stage(4)
    promote, reasons = decide(current, new, cfg.margin, test_images)
    result = RetrainResult(bundle, work, candidate, current, new, promote, reasons, test_images,
                           {s: len(v) for s, v in splits.items()})
    if promote:
        result.previous = promote_bundle(candidate, bundle)
    atomic_write_json(work / RECORD, result.as_dict(), indent=2)
    report(on_progress, "retrain", len(STAGES), len(STAGES), "done")
    return result


def _stoppable(on_progress: OnProgress | None, stop: threading.Event) -> OnProgress:
    """``on_progress`` that raises `Interrupted` once ``stop`` is set: training saves a
    checkpoint and ends; the other steps end where they report."""
    def report_or_stop(progress) -> None:
        if on_progress is not None:
            on_progress(progress)
        if stop.is_set():
            raise Interrupted

    return report_or_stop


def _base_dataset(run: RunRecord, data, names: dict[int, str], work: Path,
                  on_progress: OnProgress | None) -> Path:
    """The original data's dataset folder: built from ``data``, or the run's own (when
    the run was itself a retrain, the data that one started from, so reviews never
    enter twice)."""
    from training.datasets.build import build_dataset

    if data is not None:
        return build_dataset(data, work / "original", DatasetConfig(), label_map=names,
                             on_progress=on_progress).out_dir
    from training.datasets.meta import DatasetMeta

    folder = Path(run.dataset)
    if not DatasetMeta.path(folder).is_file():
        raise UserError(f"{folder}: the bundle's training data is gone; pass --data ORIGINAL "
                        "(any source `lookout dataset build` reads)")
    return Path(DatasetMeta.read(folder).retrain_base or folder)


def _review_records(reviews: list, review_dir: Path, names: dict[int, str], work: Path,
                    test_fraction: float) -> dict[str, list]:
    """Build the reviewed frames into records, split by `review_split`; ``{split: reviews}``
    of the frames that went in (the records are under ``work/reviews-SPLIT``)."""
    from training.datasets.build import DatasetErrors, build_dataset

    groups: dict[str, list] = {"train": [], "test": []}
    for review in reviews:
        groups[review_split(review.name, test_fraction)].append(review)
    for split, members in groups.items():
        if not members:
            continue
        folder = work / "reviews" / split
        folder.mkdir(parents=True)
        for review in members:  # the XML finds its image beside it by <filename>
            for src in (review.image, review.xml):
                _link_or_copy(src, folder / src.name)
        # every frame of this folder into the one split it belongs to
        try:
            build_dataset(folder, work / f"reviews-{split}", DatasetConfig(test_fraction=0.0),
                          label_map=names)
        except DatasetErrors as exc:  # name the review's own file, not the copy's
            first = str(exc.report.errors[0]) if exc.report.errors else str(exc)
            raise UserError(f"{review_dir}: a review the model cannot learn from: "
                            f"{first.replace(str(folder), str(review_dir))}") from None
    return groups


def _combine(base: Path, groups: dict[str, list], names: dict[int, str], out: Path) -> Path:
    """A dataset folder whose splits are the base dataset's plus the reviews' records."""
    from core import __version__
    from realtime.labelmap import write_label_map
    from training.data import load_dataset
    from training.datasets.meta import DatasetMeta

    info = load_dataset(base)
    splits = {s: [str(p.resolve()) for p in info.splits.get(s, [])] for s in ("train", "test")}
    for split, members in groups.items():
        if members:
            built = load_dataset(out.parent / f"reviews-{split}")
            splits[split] += [str(p.resolve()) for p in built.splits.get("train", [])]
    out.mkdir(parents=True)
    write_label_map(names, out / "label_map.pbtxt")
    DatasetMeta(
        format="retrain", origin=str(base.resolve()), retrain_base=str(base.resolve()),
        classes=dict(sorted(names.items())),
        splits={s: {"records": records, "reviews": len(groups.get(s, []))}
                for s, records in splits.items()},
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        lookout_version=__version__).write(out)
    return out


def _compare(current: Path, candidate: Path, test: list[Path], reviews: list,
             names: dict[int, str], score: float,
             on_progress: OnProgress | None) -> tuple[ModelScore, ModelScore, int]:
    """Both bundles through the same backend (SavedModel) on the same images."""
    from realtime.config import DetectorConfig
    from realtime.detectors import load_detector
    from realtime.predict import read_rgb
    from training.bundle_eval import MIN_SCORE, load_truth, score_detector

    truth, images = load_truth(test) if test else ([], [])
    frames = [read_rgb(r.image) for r in reviews]
    scores = []
    for label, bundle in (("current", current), ("candidate", candidate)):
        detector = load_detector(bundle, DetectorConfig(score=MIN_SCORE, bundle_format="saved_model",
                                                        workers=1))
        try:
            test_score = (score_detector(detector, truth, images, names, on_progress,
                                         f"evaluate {label}") if images else {})
            found = [detector.detect([f])[0] for f in frames]
        finally:
            detector.close()
        scores.append(ModelScore(str(bundle), test_score, score_reviews(reviews, found, score)))
    return scores[0], scores[1], len(images)


def promote_bundle(candidate: Path, bundle: Path) -> Path:
    """Put ``candidate`` in ``bundle``'s place, keeping the current one as ``BUNDLE.prev``
    (an older ``.prev`` is dropped). Returns the ``.prev`` path."""
    bundle = Path(bundle)
    prev = bundle.with_name(bundle.name + ".prev")
    with atomic_dir(bundle, keep=prev) as staged:  # same file system as bundle
        shutil.copytree(candidate, staged, dirs_exist_ok=True)
    return prev


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)

