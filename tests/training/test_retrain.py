"""`lookout retrain`: reviews + the bundle's data → a candidate trained from the bundle's run,
compared with the current model on one test split and on the reviewed frames, promoted
(BUNDLE.prev kept) only by the stated rule."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.detections import Detections
from realtime.review.store import ReviewBox, ReviewStore
from tests.fixtures import datasets
from tests.fixtures.reviews import make_events
from tests.training.runs import lookout, shared_run
from training.config import RetrainConfig
from training.retrain import promote_bundle, retrain, review_split
from training.retrain_eval import ModelScore, ReviewScore, decide, score_reviews


def _score(ap50: float, firing: int, found: int) -> ModelScore:
    return ModelScore("b", {"AP50": ap50}, ReviewScore(wrong=3, still_firing=firing, objects=4,
                                                       found=found))


@pytest.mark.parametrize("current, candidate, margin, promote, says", [
    (_score(0.50, 2, 1), _score(0.49, 0, 1), 0.02, True, "better on the reviewed frames"),
    (_score(0.50, 2, 1), _score(0.50, 2, 3), 0.02, True, "found 3/4 (current 1)"),
    (_score(0.50, 2, 1), _score(0.47, 0, 4), 0.02, False, "worse on the test split"),
    (_score(0.50, 2, 1), _score(0.60, 2, 1), 0.02, False, "not better on the reviewed frames"),
    (_score(0.50, 2, 1), _score(0.60, 1, 0), 0.02, False, "not better"),  # fewer found
    (_score(0.50, 2, 1), _score(0.40, 0, 4), 0.20, True, "within the margin 0.2"),
])
def test_the_promotion_rule(current, candidate, margin, promote, says) -> None:
    ok, reasons = decide(current, candidate, margin, test_images=10)
    assert ok is promote
    assert any(says in r for r in reasons), reasons


def test_no_test_split_is_never_promoted() -> None:
    ok, reasons = decide(_score(0.5, 2, 1), _score(0.9, 0, 4), 0.02, test_images=0)
    assert not ok and "no test split" in reasons[0]


def _review(name, verdict, label, boxes):
    from realtime.review.store import Review

    return Review(name, Path(f"{name}.jpg"), Path(f"{name}.xml"),
                  [ReviewBox(lb, b) for lb, b in boxes], "v", verdict=verdict, label=label)


def test_reviewed_frames_count_firing_alerts_and_found_objects() -> None:
    reviews = [
        _review("neg", "wrong", "cat", []),  # nothing there: any cat fires
        _review("relabelled", "wrong", "cat", [("dog", (0, 0, 10, 10))]),
        _review("moved", "wrong", "cat", [("cat", (50, 50, 60, 60))]),  # the cat was elsewhere
        _review("ok", "right", "cat", [("cat", (0, 0, 10, 10))]),
    ]
    dets = [
        Detections([[1, 1, 9, 9]], [0.9], [1], ("cat",)),
        Detections([[0, 0, 10, 10]], [0.9], [2], ("dog",)),  # the dog found, no cat alert
        Detections([[0, 0, 10, 10], [50, 50, 60, 60]], [0.9, 0.9], [1, 1], ("cat", "cat")),
        Detections([[0, 0, 10, 10]], [0.3], [1], ("cat",)),  # below the score: not found
    ]
    got = score_reviews(reviews, dets, score=0.5)
    assert (got.wrong, got.still_firing, got.objects, got.found) == (3, 2, 3, 2)
    assert got.firing == ["neg", "moved"] and got.missed == ["ok"]


def test_review_split_is_stable_and_near_the_fraction() -> None:
    names = [f"20261205T10{i:04d}Z-abcdef" for i in range(400)]
    splits = [review_split(n, 0.25) for n in names]
    assert splits == [review_split(n, 0.25) for n in names]
    assert 70 <= splits.count("test") <= 130
    assert all(review_split(n, 0.0) == "train" for n in names)


def test_promote_keeps_the_previous_bundle(tmp_path: Path) -> None:
    bundle, candidate = tmp_path / "models" / "m", tmp_path / "cand"
    for folder, text in ((bundle, "old"), (candidate, "new"), (tmp_path / "models" / "m.prev", "older")):
        folder.mkdir(parents=True)
        (folder / "model.json").write_text(text)
    prev = promote_bundle(candidate, bundle)
    assert (bundle / "model.json").read_text() == "new"
    assert (prev / "model.json").read_text() == "old" and prev.name == "m.prev"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["m", "m.prev"]
    assert (candidate / "model.json").is_file()  # the work folder keeps its copy


def _fruit_frame(stem: str) -> tuple[np.ndarray, list[tuple[str, tuple]]]:
    from realtime.review.voc import read_objects

    fruit = datasets.require("fruit-nuts")
    rgb = cv2.cvtColor(cv2.imread(str(fruit / "test" / f"{stem}.jpg")), cv2.COLOR_BGR2RGB)
    objects = read_objects((fruit / "test" / f"{stem}.xml").read_bytes())
    return rgb, [(o.label, (o.xmin, o.ymin, o.xmax, o.ymax)) for o in objects]


def _id_in(split: str, fraction: float, start: int) -> str:
    i = start
    while review_split(f"20261205T1000{i:02d}Z-abcdef", fraction) != split:
        i += 1
    return f"20261205T1000{i:02d}Z-abcdef"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    from training.export import export_bundle

    run = shared_run(tmp_path_factory.getbasetemp())
    return export_bundle(run, tmp_path_factory.mktemp("retrain") / "models" / "fruit", tflite=False)


def test_retrain_trains_from_the_run_compares_and_records(bundle: Path, tmp_path: Path) -> None:
    stems = sorted(p.stem for p in (datasets.require("fruit-nuts") / "test").glob("*.xml"))
    frame, boxes = _fruit_frame(stems[0])
    right, wrong = _id_in("test", 0.5, 0), _id_in("train", 0.5, 0)
    events = make_events(tmp_path / "events", [
        (right, boxes[0][0], list(boxes[0][1]), frame),
        (wrong, "date", [10, 10, 90, 90], np.full((600, 800, 3), 90, np.uint8)),
    ])
    store = ReviewStore(events)
    store.save(right, "right", [ReviewBox(label, box) for label, box in boxes])
    store.save(wrong, "wrong", [])  # the decoy: nothing there, a negative example
    before = (bundle / "model.json").read_bytes()
    config = tmp_path / "config.toml"
    config.write_text("[retrain]\ntest_fraction = 0.5\n")

    # through the command line, as a page running it in the background would
    proc = lookout("--config", str(config), "retrain", str(bundle), "--review",
                   str(events / "review"), "--work", str(tmp_path / "work"), "--steps", "2",
                   "--batch", "2", "--progress-json")
    out, err = proc.communicate(timeout=3000)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    result = lines.pop()["result"]

    work = tmp_path / "work"
    run = json.loads((work / "run" / "run.json").read_text())
    assert run["init"]["checkpoint"].startswith(str(Path(json.loads(before)["training_run"])))
    assert run["step"] == 2 and run["input_size"] == 128
    dataset = json.loads((work / "dataset" / "dataset.json").read_text())
    assert dataset["splits"]["test"]["reviews"] == 1 and dataset["splits"]["train"]["reviews"] == 1
    # the negative went into training as an image with no objects
    from training.datasets.records import iter_records

    negatives = list(iter_records(sorted((work / "reviews-train").glob("*.record"))))
    assert [len(n.boxes) for n in negatives] == [0]
    # both models on the same test split: the fruit test images plus the reviewed one
    assert result["test_images"] == 3
    scores = [_model_score(result[k]) for k in ("current", "new")]
    for score in scores:
        assert set(score.test) == {"AP", "AP50", "per_class_AP50"}
        assert (score.reviews.wrong, score.reviews.objects) == (1, len(boxes))
    record = json.loads((work / "retrain.json").read_text())
    assert record["promoted"] == result["promoted"] and record["reasons"] == result["reasons"]
    assert record["current"]["test"] == result["current"]["test"]
    assert result["promoted"] == decide(*scores, 0.02, 3)[0]
    if result["promoted"]:
        assert (bundle.with_name("fruit.prev") / "model.json").read_bytes() == before
        meta = json.loads((bundle / "model.json").read_text())
        assert meta["training_run"] == str((work / "run").resolve())
    else:
        assert (bundle / "model.json").read_bytes() == before
    assert {p["task"] for p in lines} >= {"retrain", "train", "export"}
    assert [p["note"] for p in lines if p["task"] == "retrain"][-1] == "done"


def _model_score(data: dict) -> ModelScore:
    return ModelScore(data["bundle"], data["test"], ReviewScore(**data["reviews"]))


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp, "not a model bundle"),
    (lambda tmp: None, "no reviews"),
])
def test_bad_input_is_one_line(bundle: Path, tmp_path: Path, make, message) -> None:
    target = make(tmp_path)
    (tmp_path / "review").mkdir()
    proc = lookout("retrain", str(target or bundle), "--review", str(tmp_path / "review"),
                   "--work", str(tmp_path / "work"))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, (out, err)
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_stop_request_ends_it_and_keeps_the_current_model(bundle: Path, tmp_path: Path) -> None:
    """What the page's stop button does: set the event; training ends at its next report."""
    import threading

    from core.errors import UserError

    frame, boxes = _fruit_frame(min(p.stem for p in (datasets.require("fruit-nuts") / "test")
                                    .glob("*.xml")))
    event = "20261205T100000Z-abcdef"
    events = make_events(tmp_path / "events", [(event, boxes[0][0], list(boxes[0][1]), frame)])
    ReviewStore(events).save(event, "right", [ReviewBox(label, box) for label, box in boxes])
    before = (bundle / "model.json").read_bytes()
    stop = threading.Event()

    def on_progress(p) -> None:
        if p.task == "train":
            stop.set()

    with pytest.raises(UserError, match="stopped; the current model stays"):
        retrain(bundle, events / "review", work_dir=tmp_path / "work",
                cfg=RetrainConfig(steps=2), on_progress=on_progress, stop=stop)
    assert (bundle / "model.json").read_bytes() == before
    assert not bundle.with_name(bundle.name + ".prev").exists()


def test_a_review_with_a_label_the_model_lacks_is_one_line(bundle: Path, tmp_path: Path) -> None:
    from core.errors import UserError
    from tests.fixtures.models import make_blob_image

    event = "20261205T100000Z-abcdef"
    events = make_events(tmp_path / "events", [(event, "date", [1, 1, 9, 9],
                                                make_blob_image(48, 64))])
    ReviewStore(events).save(event, "wrong", [ReviewBox("cat", (2, 2, 30, 30))])
    with pytest.raises(UserError) as err:
        retrain(bundle, events / "review", work_dir=tmp_path / "work", cfg=RetrainConfig(steps=2))
    text = str(err.value)
    assert str(events / "review") in text and "'cat' is not in the label map" in text
    assert "--skip-bad" not in text and len(text.splitlines()) == 1


def test_the_budget_reaches_training_from_the_runs_own_settings(bundle: Path, tmp_path: Path,
                                                                monkeypatch) -> None:
    """--time 20m: the candidate trains under the clock (steps as the time allows), at the
    run's own input size and from the run's weights; no time: [retrain] steps."""
    import training.train

    frame, boxes = _fruit_frame(min(p.stem for p in (datasets.require("fruit-nuts") / "test")
                                    .glob("*.xml")))
    event = "20261205T100000Z-abcdef"
    events = make_events(tmp_path / "events", [(event, boxes[0][0], list(boxes[0][1]), frame)])
    ReviewStore(events).save(event, "right", [ReviewBox(label, box) for label, box in boxes])
    seen = []

    class Enough(Exception):
        pass

    def fake_train(dataset, run_dir, cfg, **kwargs):
        seen.append(cfg)
        raise Enough

    monkeypatch.setattr(training.train, "train", fake_train)
    for n, cfg in enumerate([RetrainConfig(time="20m", steps=0), RetrainConfig(steps=7)]):
        with pytest.raises(Enough):
            retrain(bundle, events / "review", work_dir=tmp_path / f"work{n}", cfg=cfg)
    run = json.loads((Path(json.loads((bundle / "model.json").read_text())["training_run"])
                      / "run.json").read_text())
    timed, counted = seen
    assert (timed.time, timed.steps, counted.time, counted.steps) == ("20m", 0, "", 7)
    for cfg in seen:
        assert cfg.input_size == run["input_size"] and cfg.init == str(
            Path(json.loads((bundle / "model.json").read_text())["training_run"]).resolve())


@pytest.mark.parametrize("changes, key", [({"steps": 0}, "steps"), ({"time": "soon"}, "time")])
def test_retrain_settings_are_checked(changes, key) -> None:
    from core.config import ConfigError

    with pytest.raises(ConfigError) as err:
        RetrainConfig(**changes)
    assert [k for k, _ in err.value.problems] == [key]
