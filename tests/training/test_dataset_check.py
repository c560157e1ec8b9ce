"""Bad input, one case per problem: each is found, with its file (and line), and its severity."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from core.errors import UserError
from lookout.cli import main as lookout
from realtime.labelmap import write_label_map
from tests.training.conftest import TINY, make_coco, make_csv, voc_xml, write_image
from training.config import DatasetConfig
from training.datasets.check import check_dataset

# Each case edits the tiny VOC set (img0..img7, classes cat/dog, 64x48) and names the problem:
# (id, edit(root) -> extra check_dataset kwargs, severity, where (regex), message (regex))


def _xml(root: Path, stem: str, boxes, **kw) -> None:
    (root / f"{stem}.xml").write_text(voc_xml(f"{stem}.jpg", boxes, **kw))


def malformed_xml(root):
    (root / "img1.xml").write_text("<annotation>\n  <filename>img1.jpg</filename>\n  <size>\n")


def missing_image(root):
    (root / "img2.jpg").unlink()


def unreadable_image(root):
    # /proc/self/mem is a file that fails on read (EIO), whatever the user (root included)
    (root / "img2.jpg").unlink()
    os.symlink("/proc/self/mem", root / "img2.jpg")


def corrupt_image(root):
    (root / "img2.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")


def truncated_image(root):
    data = (root / "img2.jpg").read_bytes()
    (root / "img2.jpg").write_bytes(data[: len(data) // 2])


def size_mismatch(root):
    _xml(root, "img3", TINY[3][1], w=640, h=480)


def zero_area_box(root):
    _xml(root, "img3", [("cat", 10, 10, 10, 30)])


def inverted_box(root):
    _xml(root, "img3", [("cat", 30, 10, 10, 30)])


def partly_outside(root):
    _xml(root, "img3", [("cat", -5, 10, 70, 30)])


def wholly_outside(root):
    _xml(root, "img3", [("cat", 100, 10, 120, 30)])


def unknown_class(root):
    _xml(root, "img3", [("horse", 10, 10, 20, 30)])
    write_label_map({1: "cat", 2: "dog"}, root.parent / "label_map.pbtxt")
    return {"label_map": root.parent / "label_map.pbtxt"}


def duplicate_same_boxes(root):
    (root / "img9.jpg").write_bytes((root / "img0.jpg").read_bytes())
    (root / "img9.xml").write_text(voc_xml("img9.jpg", TINY[0][1]))


def duplicate_other_boxes(root):
    (root / "img9.jpg").write_bytes((root / "img0.jpg").read_bytes())
    (root / "img9.xml").write_text(voc_xml("img9.jpg", [("dog", 1, 1, 20, 20)]))


def parent_path(root):
    write_image(root.parent / "outside.jpg", 99)
    (root / "img4.xml").write_text(voc_xml("../outside.jpg", TINY[4][1]))


def absolute_path(root):
    (root / "img4.xml").write_text(voc_xml(str((root / "img4.jpg").resolve()), TINY[4][1]))


def no_objects(root):
    _xml(root, "img5", [])


CASES = [
    ("malformed-xml", malformed_xml, "error", r"img1\.xml:4$", "malformed XML"),
    ("missing-image", missing_image, "error", r"img2\.xml:1$", "image 'img2.jpg' not found"),
    ("unreadable-image", unreadable_image, "error", r"img2\.xml:1$", "cannot read image"),
    ("corrupt-image", corrupt_image, "error", r"img2\.xml:1$", "corrupt image"),
    ("truncated-image", truncated_image, "error", r"img2\.xml:1$", "corrupt image"),
    ("size-mismatch", size_mismatch, "error", r"img3\.xml:1$", "annotated size 640x480 differs"),
    ("zero-area-box", zero_area_box, "error", r"img3\.xml:8$", "zero-area box"),
    ("inverted-box", inverted_box, "error", r"img3\.xml:8$", "inverted box"),
    ("partly-outside", partly_outside, "warning", r"img3\.xml:8$", "clipped"),
    ("wholly-outside", wholly_outside, "error", r"img3\.xml:8$", "wholly outside"),
    ("class-not-in-label-map", unknown_class, "error", r"img3\.xml:8$",
     "class 'horse' is not in the label map .*label_map.pbtxt"),
    ("duplicate-same-boxes", duplicate_same_boxes, "warning", r"img9\.xml:1$",
     "same picture with the same boxes as .*img0.xml:1; left out"),
    ("duplicate-other-boxes", duplicate_other_boxes, "error", r"img9\.xml:1$",
     "same picture as .*img0.xml:1, with different boxes"),
    ("escape-parent", parent_path, "error", r"img4\.xml:1$", "escapes the dataset folder"),
    ("escape-absolute", absolute_path, "error", r"img4\.xml:1$", "escapes the dataset folder"),
    ("no-objects", no_objects, "warning", r"img5\.xml:1$", "no objects"),
]


@pytest.mark.parametrize(("edit", "severity", "where", "message"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_voc_input_is_reported_with_file_and_line(tiny_voc, edit, severity, where, message):
    kwargs = edit(tiny_voc) or {}
    report = check_dataset(tiny_voc, **kwargs)
    assert len(report.problems) == 1, [str(p) for p in report.problems]
    (problem,) = report.problems
    assert problem.severity == severity
    assert re.search(where, problem.where), problem.where
    assert re.search(message, problem.message), problem.message
    assert "\n" not in str(problem)
    assert report.ok() == (severity == "warning")
    assert report.ok(strict=True) is False


def test_clean_set_has_no_problems(tiny_voc):
    report = check_dataset(tiny_voc)
    assert report.problems == [] and report.ok(strict=True)
    assert report.images == 8 and report.objects == {"cat": 8, "dog": 4}


def test_malformed_csv_header_and_row(tmp_path):
    csv = make_csv(tmp_path)
    lines = csv.read_text().splitlines()
    lines[3] = lines[3] + ",extra"
    csv.write_text("\n".join(lines) + "\n")
    (problem,) = check_dataset(csv).errors
    assert problem.where.endswith("labels.csv:4") and "9 fields, header has 8" in problem.message

    csv.write_text("name,w,h\nimg0.jpg,1,2\n")
    (problem,) = check_dataset(csv).errors
    assert problem.where.endswith("labels.csv:1") and "header lacks filename" in problem.message


def test_malformed_csv_quote_rejects_the_whole_file(tmp_path):
    csv = make_csv(tmp_path)
    csv.write_text(csv.read_text() + 'img9.jpg,64,48,cat,1,2,3,"4\n')
    report = check_dataset(csv)
    assert report.images == 0  # half a file is never used
    assert any("malformed CSV" in p.message and p.where.startswith(str(csv)) for p in report.errors)


def test_csv_bad_number_names_the_row(tmp_path):
    csv = make_csv(tmp_path)
    csv.write_text(csv.read_text().replace("img2.jpg,64,48,cat,6", "img2.jpg,64,48,cat,six"))
    (problem,) = check_dataset(csv).errors
    assert problem.where == f"{csv}:5" and "not a number" in problem.message


def test_non_utf8_file_name(tmp_path):
    csv = make_csv(tmp_path)
    name = b"caf\xe9.jpg"  # Latin-1, as an old Windows tool would write it
    write_image(Path(os.fsdecode(os.fsencode(tmp_path / "images") + b"/" + name)), 42)
    with csv.open("ab") as f:
        f.write(name + b",64,48,cat,1,2,30,40\n")
    (problem,) = check_dataset(csv).errors
    assert problem.where == f"{csv}:14"
    assert "is not valid UTF-8" in problem.message and "b'caf\\xe9.jpg'" in problem.message


def test_malformed_json_names_the_line(tmp_path):
    path = make_coco(tmp_path)
    path.write_text(path.read_text()[:-40])
    (problem,) = check_dataset(path).errors
    assert re.search(r"annotations\.json:\d+$", problem.where) and "malformed JSON" in problem.message


def test_coco_unknown_image_and_category(tmp_path):
    path = make_coco(tmp_path)
    data = json.loads(path.read_text())
    data["annotations"][0]["category_id"] = 99
    data["annotations"][1]["image_id"] = 5
    path.write_text(json.dumps(data))
    messages = sorted((p.where.split(":")[-1], p.message) for p in check_dataset(path).errors)
    assert messages == [("annotations[0]", "unknown category_id 99"),
                        ("annotations[1]", "annotation for unknown image_id 5")]


def test_corrupt_tfrecord(tmp_path):
    bad = tmp_path / "train.record"
    bad.write_bytes(b"\x00" * 40)
    report = check_dataset(bad)
    assert report.images == 0
    assert report.errors and "train.record#0" in report.errors[0].where


def test_not_a_dataset_is_a_user_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UserError, match="no dataset found"):
        check_dataset(tmp_path)
    with pytest.raises(UserError, match="no such file"):
        check_dataset(tmp_path / "nope")


def test_cli_check_exit_codes(tiny_voc, capsys):
    assert lookout(["dataset", "check", str(tiny_voc)]) == 0
    _xml(tiny_voc, "img3", [("cat", -5, 10, 70, 30)])
    assert lookout(["dataset", "check", str(tiny_voc)]) == 0  # warnings are allowed
    assert lookout(["dataset", "check", str(tiny_voc), "--strict"]) == 1
    inverted_box(tiny_voc)
    assert lookout(["dataset", "check", str(tiny_voc)]) == 1
    out = capsys.readouterr().out
    assert "inverted box" in out and "img3.xml:8" in out and "objects per class" in out


def test_config_format_is_used(tiny_voc):
    with pytest.raises(UserError, match="no \\*.csv"):
        check_dataset(tiny_voc, DatasetConfig(format="csv"))
