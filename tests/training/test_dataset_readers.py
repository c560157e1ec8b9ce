"""Format detection and each reader, on generated sets and the tutorials' own folders."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from core.errors import UserError
from tests.training.conftest import TINY, H, W, make_coco, make_csv, make_voc
from training.config import DatasetConfig
from training.datasets.build import build_dataset
from training.datasets.check import check_dataset
from training.datasets.records import iter_records
from training.datasets.sources import detect_format, open_dataset

EXPECTED = {f"{stem}.jpg": boxes for stem, boxes in TINY}


def examples(src, **kw):
    problems = []
    found = list(open_dataset(src, **kw).examples(problems))
    assert problems == []
    return found


def assert_tiny(found):
    assert {e.filename for e in found} == set(EXPECTED)
    for e in found:
        assert e.image_path is not None and e.image_path.is_file()
        assert (e.width, e.height) == (W, H)
        assert [(b.label, b.xmin, b.ymin, b.xmax, b.ymax) for b in e.boxes] == EXPECTED[e.filename]


@pytest.mark.parametrize(("dataset", "src", "fmt"), [
    ("raccoon", ".", "voc"), ("raccoon", "data", "csv"), ("raccoon", "data/test.record", "tfrecord"),
    ("raccoon", "data/train_labels.csv", "csv"), ("fruit_nuts", ".", "voc"),
])
def test_detects_the_tutorial_folders(request, dataset, src, fmt):
    root = request.getfixturevalue(dataset)
    assert detect_format(root if src == "." else root / src) == fmt


def test_voc_images_beside_the_xml(tmp_path):
    assert_tiny(examples(make_voc(tmp_path)))


def test_voc_images_and_annotations_folders(tmp_path):
    root = make_voc(tmp_path, xml_dir="annotations", image_dir="images")
    assert detect_format(root) == "voc"
    found = examples(root)
    assert_tiny(found)
    assert found[0].origin == f"{root}/annotations/img0.xml:1"
    assert found[0].boxes[0].origin == f"{root}/annotations/img0.xml:8"


def test_voc_keeps_train_test_folders(tmp_path):
    make_voc(tmp_path / "train", TINY[:6])
    make_voc(tmp_path / "test", TINY[6:])
    splits = {e.filename: e.split for e in examples(tmp_path)}
    assert splits == {f"img{i}.jpg": "train" if i < 6 else "test" for i in range(8)}


def test_tutorial_layout_with_trainval_list(tmp_path):
    make_voc(tmp_path, xml_dir="annotations/xmls", image_dir="images")
    listing = "\n".join(f"img{i} 1 1 1" for i in range(7)) + "\nimg42 1 1 1\n"
    (tmp_path / "annotations" / "trainval.txt").write_text(listing)
    assert detect_format(tmp_path) == "tutorial"
    report = check_dataset(tmp_path)
    assert report.images == 7 and report.format == "tutorial"
    (problem,) = report.errors
    assert problem.where == f"{tmp_path}/annotations/trainval.txt:8" and "'img42'" in problem.message


def test_csv_reader_groups_rows_and_finds_images(tmp_path):
    csv = make_csv(tmp_path)
    found = examples(tmp_path)
    assert_tiny(found)
    assert found[1].origin == f"{csv}:3" and found[1].boxes[1].origin == f"{csv}:4"
    # images elsewhere: --images says where
    moved = tmp_path / "elsewhere"
    shutil.move(tmp_path / "images", moved)
    assert all(e.image_path is None for e in examples(csv))
    assert_tiny(examples(csv, images=moved))
    assert check_dataset(csv, images=moved).ok(strict=True)


def test_coco_json_round_trip(tmp_path):
    path = make_coco(tmp_path / "src")
    assert detect_format(tmp_path / "src") == "coco"
    assert_tiny(examples(path))
    result = build_dataset(path, tmp_path / "out", DatasetConfig(test_fraction=0.0))
    assert result.classes == {1: "cat", 2: "dog"}  # sorted names, ids from 1
    for r in iter_records(result.records["train"]):
        expected = [[x0 / W, y0 / H, x1 / W, y1 / H] for _, x0, y0, x1, y1 in EXPECTED[r.filename]]
        np.testing.assert_allclose(r.boxes, expected, atol=1e-6)
        assert r.class_texts == [b[0] for b in EXPECTED[r.filename]]


def test_tfrecord_without_class_text_uses_the_label_map(tmp_path, raccoon):
    """Records that carry only class ids get their names from label_map.pbtxt beside them."""
    import tensorflow as tf

    src = tmp_path / "src"
    src.mkdir()
    with tf.io.TFRecordWriter(str(src / "train.record")) as writer:
        for raw in tf.data.TFRecordDataset(str(raccoon / "data" / "test.record")).take(3):
            ex = tf.train.Example.FromString(raw.numpy())
            del ex.features.feature["image/object/class/text"]
            writer.write(ex.SerializeToString())
    without = examples(src)  # without a label map: an error on each image
    assert all("is not in a label map" in e.problems[0].message for e in without)
    shutil.copy(raccoon / "data" / "label_map.pbtxt", src)
    found = examples(src)
    assert all(e.problems == [] for e in found)
    assert len(found) == 3 and all(b.label == "raccoon" for e in found for b in e.boxes)
    assert all(e.split == "train" and e.image_bytes for e in found)


def test_forced_format_and_unknown_format(tmp_path):
    make_voc(tmp_path)
    make_csv(tmp_path)  # both present: auto picks VOC, --format csv reads the CSV
    assert open_dataset(tmp_path).format == "voc"
    assert open_dataset(tmp_path, "csv").format == "csv"
    with pytest.raises(UserError, match="unknown dataset format 'yolo'"):
        open_dataset(tmp_path, "yolo")


def test_coco_non_list_images_is_malformed(tmp_path):
    path = tmp_path / "ann.json"
    path.write_text(json.dumps({"images": {}, "annotations": []}))
    (problem,) = check_dataset(path, DatasetConfig(format="coco")).errors
    assert "no 'images' list" in problem.message


def test_other_xml_files_are_ignored_with_a_warning(tmp_path):
    make_voc(tmp_path)
    (tmp_path / "settings.xml").write_text("<?xml version='1.0'?>\n<settings/>\n")
    report = check_dataset(tmp_path)
    assert report.images == 8 and report.ok() and not report.ok(strict=True)
    (problem,) = report.warnings
    assert problem.where == f"{tmp_path}/settings.xml:2" and "not a VOC annotation" in problem.message
