"""build_dataset: real TFRecords read back, splits, shards, resizing, atomic output, the CLI."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from lxml import etree

from core.errors import UserError
from lookout.cli import main as lookout
from realtime.labelmap import read_label_map, write_label_map
from tests.training.conftest import TINY, make_voc, voc_xml
from training.config import DatasetConfig
from training.datasets.build import DatasetErrors, build_dataset
from training.datasets.records import iter_records
from training.datasets.split import stratified_split


def voc_boxes(xml: Path) -> tuple[int, int, list]:
    top = etree.parse(str(xml)).getroot()
    w, h = int(top.findtext("size/width")), int(top.findtext("size/height"))
    boxes = [(o.findtext("name"), *(float(o.findtext(f"bndbox/{k}")) for k in
                                    ("xmin", "ymin", "xmax", "ymax"))) for o in top.iter("object")]
    return w, h, boxes


def read_split(result, split):
    return list(iter_records(result.records[split]))


@pytest.fixture(scope="module")
def fruit(tmp_path_factory, fruit_nuts):
    return build_dataset(fruit_nuts, tmp_path_factory.mktemp("fruit") / "out")


def test_fruit_round_trip_keeps_boxes_classes_and_folder_split(fruit, fruit_nuts):
    info = json.loads(fruit.dataset_json.read_text())
    assert info["classes"] == {"1": "date", "2": "fig", "3": "hazelnut"}
    assert read_label_map(fruit.label_map) == {1: "date", 2: "fig", 3: "hazelnut"}
    assert info["split"] == "source" and info["format"] == "voc"
    assert {s: info["splits"][s]["images"] for s in ("train", "test")} == {"train": 16, "test": 2}
    assert info["splits"]["train"]["records"] == ["train.record"]
    assert set(info) >= {"format", "source", "seed", "test_fraction", "label_map", "classes",
                         "splits", "skipped", "created_at"}
    ids = []
    for split, folder in (("train", "train"), ("test", "test")):
        records = read_split(fruit, split)
        assert sorted(r.filename for r in records) == sorted(
            p.with_suffix(".jpg").name for p in (fruit_nuts / folder).glob("*.xml"))
        objects = Counter()
        for r in records:
            w, h, boxes = voc_boxes(fruit_nuts / folder / Path(r.filename).with_suffix(".xml"))
            assert (r.width, r.height, r.image_format) == (w, h, "jpeg")
            assert r.encoded == (fruit_nuts / folder / r.filename).read_bytes()  # not re-encoded
            expected = np.array([[b[1] / w, b[2] / h, b[3] / w, b[4] / h] for b in boxes], np.float32)
            np.testing.assert_allclose(r.boxes, expected, atol=1e-6)
            assert r.class_texts == [b[0] for b in boxes]
            assert [info["classes"][str(i)] for i in r.class_ids] == r.class_texts
            objects.update(r.class_texts)
            ids.append(int(r.source_id))
        assert dict(objects) == info["splits"][split]["objects"]
    assert sorted(ids) == list(range(1, 19))  # numeric source ids, 1..N


def test_given_label_map_fixes_ids(tmp_path, fruit_nuts):
    write_label_map({1: "hazelnut", 2: "fig", 3: "date", 4: "walnut"}, tmp_path / "map.pbtxt")
    result = build_dataset(fruit_nuts, tmp_path / "out", label_map=tmp_path / "map.pbtxt")
    assert read_label_map(result.label_map) == {1: "hazelnut", 2: "fig", 3: "date", 4: "walnut"}
    for r in read_split(result, "test"):
        assert [{"hazelnut": 1, "fig": 2, "date": 3}[t] for t in r.class_texts] == r.class_ids.tolist()


def test_shards_and_max_size(tmp_path, fruit_nuts):
    result = build_dataset(fruit_nuts, tmp_path / "out", DatasetConfig(shard_mb=1, max_size="400x300"))
    names = json.loads(result.dataset_json.read_text())["splits"]["train"]["records"]
    assert len(names) >= 2 and names[0] == f"train-00000-of-{len(names):05d}.record"
    assert sorted(p.name for p in result.out_dir.iterdir()) == sorted(
        names + ["test.record", "label_map.pbtxt", "dataset.json"])
    records = read_split(result, "train")
    assert len(records) == 16
    for r in records:
        assert (r.width, r.height) == (400, 300)
        w, h, boxes = voc_boxes(fruit_nuts / "train" / Path(r.filename).with_suffix(".xml"))
        expected = np.array([[b[1] / w, b[2] / h, b[3] / w, b[4] / h] for b in boxes], np.float32)
        np.testing.assert_allclose(r.boxes, expected, atol=1e-6)  # scaled with the image
        import cv2
        assert cv2.imdecode(np.frombuffer(r.encoded, np.uint8), cv2.IMREAD_COLOR).shape == (300, 400, 3)


def test_fraction_split_is_reproducible_and_stratified(tmp_path):
    root = make_voc(tmp_path / "src")
    cfg = DatasetConfig(test_fraction=0.25, seed=3)

    def test_names(out, config):
        result = build_dataset(root, tmp_path / out, config)
        return sorted(r.filename for r in read_split(result, "test"))

    first = test_names("a", cfg)
    assert first == test_names("b", cfg) and len(first) == 2
    others = {tuple(test_names(f"s{seed}", DatasetConfig(test_fraction=0.25, seed=seed)))
              for seed in range(4)}
    assert len(others) > 1  # the seed matters
    info = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert info["split"] == "stratified" and info["seed"] == 3
    assert all(n > 0 for n in info["splits"]["test"]["objects"].values())  # both classes


def test_stratified_split_keeps_rare_classes_in_test():
    labels = [["a"]] * 40 + [["b"]] * 5 + [["a", "c"]] * 5 + [[]] * 10
    splits = stratified_split(labels, 0.2, seed=0)
    assert splits.count("test") == 12
    test = [labels[i] for i, s in enumerate(splits) if s == "test"]
    assert test.count(["b"]) == 1 and test.count(["a", "c"]) == 1 and test.count([]) == 2
    assert splits == stratified_split(labels, 0.2, seed=0)


def test_errors_refuse_and_leave_nothing(tmp_path):
    root = make_voc(tmp_path / "src")
    (root / "img3.xml").write_text(voc_xml("img3.jpg", [("cat", 30, 10, 10, 30)]))
    out = tmp_path / "out"
    with pytest.raises(DatasetErrors, match="1 error") as caught:
        build_dataset(root, out)
    assert caught.value.report.skipped == [f"{root}/img3.xml:1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]  # no out, no temp folder

    good = build_dataset(make_voc(tmp_path / "good"), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(DatasetErrors):
        build_dataset(root, out)  # a failed rebuild keeps the earlier result whole
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before and good.out_dir == out

    result = build_dataset(root, out, DatasetConfig(skip_bad=True))
    info = json.loads(result.dataset_json.read_text())
    assert info["skipped"] == [f"{root}/img3.xml:1"]
    names = {r.filename for s in ("train", "test") for r in read_split(result, s)}
    assert names == {f"{stem}.jpg" for stem, _ in TINY} - {"img3.jpg"}


def test_refuses_to_replace_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(UserError, match="not a lookout dataset folder"):
        build_dataset(make_voc(tmp_path / "src"), tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_partly_outside_box_is_written_clipped(tmp_path):
    root = make_voc(tmp_path / "src")
    (root / "img0.xml").write_text(voc_xml("img0.jpg", [("cat", -8, 10, 80, 30)]))
    result = build_dataset(root, tmp_path / "out", DatasetConfig(test_fraction=0.0))
    (r,) = [r for r in read_split(result, "train") if r.filename == "img0.jpg"]
    np.testing.assert_allclose(r.boxes, [[0, 10 / 48, 1, 30 / 48]], atol=1e-6)
    info = json.loads(result.dataset_json.read_text())
    assert info["warnings"] == 1
    # no test images: no test record file either (an empty file would read as a broken one)
    assert info["splits"]["test"] == {"images": 0, "objects": {"cat": 0, "dog": 0}, "records": []}
    assert result.records["test"] == [] and not (result.out_dir / "test.record").exists()


def test_raccoon_csv_pair_is_an_explicit_split(tmp_path, raccoon):
    """The tutorial's train_labels.csv + test_labels.csv, images in ../images."""
    result = build_dataset(raccoon / "data", tmp_path / "out", DatasetConfig(skip_bad=True))
    info = json.loads(result.dataset_json.read_text())
    assert info["format"] == "csv" and info["split"] == "source"
    # 4 of the 200 pictures are copies of others annotated differently: left out, listed
    assert len(info["skipped"]) == 4 and all("train_labels.csv:" in s for s in info["skipped"])
    assert info["splits"]["test"]["images"] == 40 and info["splits"]["train"]["images"] == 156
    test_csv = (raccoon / "data" / "test_labels.csv").read_text().splitlines()[1:]
    expected = {}
    for line in test_csv:
        name, w, h, _label, *xyxy = line.split(",")
        w, h = float(w), float(h)
        x0, y0, x1, y1 = map(float, xyxy)
        expected.setdefault(name, []).append([x0 / w, y0 / h, x1 / w, y1 / h])
    records = read_split(result, "test")
    assert {r.filename for r in records} == set(expected)
    for r in records:
        np.testing.assert_allclose(r.boxes, expected[r.filename], atol=1e-6)
        assert r.class_texts == ["raccoon"] * len(r.boxes) and set(r.class_ids) <= {1}


def test_tutorial_test_record_is_read_and_rebuilt_with_numeric_ids(tmp_path, raccoon):
    """raccoon's data/test.record has file names as source_id; we read it and renumber."""
    original = list(iter_records([raccoon / "data" / "test.record"]))
    assert len(original) == 40 and original[0].source_id.startswith("raccoon-")
    result = build_dataset(raccoon / "data" / "test.record", tmp_path / "out",
                           DatasetConfig(test_fraction=0.25))
    info = json.loads(result.dataset_json.read_text())
    assert info["format"] == "tfrecord" and info["classes"] == {"1": "raccoon"}
    rebuilt = {r.filename: r for s in ("train", "test") for r in read_split(result, s)}
    assert sorted(int(r.source_id) for r in rebuilt.values()) == list(range(1, 41))
    for r in original:
        new = rebuilt[r.filename]
        np.testing.assert_allclose(new.boxes, r.boxes, atol=1e-6)
        assert new.encoded == r.encoded and new.class_texts == r.class_texts


def test_cli_build(tmp_path, capsys):
    root = make_voc(tmp_path / "src")
    out = tmp_path / "out"
    assert lookout(["dataset", "build", str(root), "--out", str(out), "--test-fraction", "0.5",
                    "--seed", "7", "--max-size", "32x32"]) == 0
    info = json.loads((out / "dataset.json").read_text())
    assert info["seed"] == 7 and info["splits"]["test"]["images"] == 4
    assert next(iter_records([out / "train.record"])).width == 32
    (root / "img1.xml").write_text("<annotation>")
    assert lookout(["dataset", "build", str(root), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "img1.xml:1" in captured.out and "--skip-bad" in captured.err
    assert lookout(["dataset", "build", str(root), "--out", str(out), "--skip-bad"]) == 0
    splits = json.loads((out / "dataset.json").read_text())["splits"]
    assert splits["train"]["images"] + splits["test"]["images"] == 7
    assert lookout(["dataset", "build", str(root), "--out", str(out), "--max-size", "big"]) == 1
    assert "expected WIDTHxHEIGHT" in capsys.readouterr().err


def test_cli_build_strict_fails_on_warnings(tmp_path, capsys):
    root = make_voc(tmp_path / "src")
    (root / "img0.xml").write_text(voc_xml("img0.jpg", [("cat", -8, 10, 80, 30)]))
    out = tmp_path / "out"
    assert lookout(["dataset", "build", str(root), "--out", str(out), "--strict"]) == 1
    assert "strict" in capsys.readouterr().err and not out.exists()
    assert lookout(["dataset", "build", str(root), "--out", str(out)]) == 0


def test_library_calls_are_quiet_and_report_progress_when_asked(tmp_path, capfd, fruit_nuts):
    from training.datasets.check import check_dataset

    check_dataset(fruit_nuts)
    build_dataset(fruit_nuts, tmp_path / "quiet")
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")  # no bar, no table: drawing is the command line's job
    reports = []
    result = build_dataset(fruit_nuts, tmp_path / "out", on_progress=reports.append)
    images = result.report.examples
    building = [r for r in reports if r.task == "building"]
    assert [r.done for r in building] == list(range(1, images + 1))
    assert building[-1].total == images


def test_dataset_json_is_read_and_written_back_unchanged(fruit, tmp_path):
    """`DatasetMeta` owns dataset.json: ``source`` (the record's ``origin``) and keys a
    newer release added survive a read and a write."""
    from training.datasets.meta import DatasetMeta

    data = json.loads(fruit.dataset_json.read_text())
    meta = DatasetMeta.read(fruit.out_dir)
    assert meta.origin == data["source"] and meta.classes == {1: "date", 2: "fig", 3: "hazelnut"}
    assert meta.records(fruit.out_dir, "test") == [fruit.out_dir / "test.record"]
    assert meta.records(fruit.out_dir, "validation") == []
    (tmp_path / "dataset.json").write_text(json.dumps({**data, "new_key": [1]}))
    DatasetMeta.read(tmp_path).write(tmp_path)
    assert json.loads((tmp_path / "dataset.json").read_text()) == {**data, "new_key": [1]}
    (tmp_path / "dataset.json").write_text(json.dumps({**data, "splits": "none"}))
    with pytest.raises(UserError, match="dataset.json: 'splits' must be an object"):
        DatasetMeta.read(tmp_path)


@pytest.mark.parametrize("text, problem", [
    ('{"splits": {"train": "train.tfrecord"}}', "split 'train' must be an object with 'records'"),
    ('{"splits": {"train": {"records": [3]}}}', "split 'train' must be an object with 'records'"),
    ('{"splits": [], "label_map": "label_map.pbtxt"}', "'splits' must be an object"),
    ('{"splits": {}', "not valid JSON"),
])
def test_a_broken_dataset_json_is_named_with_what_is_wrong(tmp_path, text, problem):
    from training.data import load_dataset

    (tmp_path / "dataset.json").write_text(text)
    with pytest.raises(UserError, match="dataset.json: " + re.escape(problem)):
        load_dataset(tmp_path)
