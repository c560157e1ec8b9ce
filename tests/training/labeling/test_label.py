"""`lookout label`: labelImg-identical XML beside new images, a person's XML kept, the
result accepted by `lookout dataset check` and read back by the training VOC reader."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from lookout.cli import main as lookout
from realtime.review.voc import VocObject, voc_xml
from tests.fixtures.models import make_blob_image
from training.datasets.voc import read_voc_file

HUMAN = "<annotation><filename>d.png</filename><!-- corrected by hand --></annotation>\n"


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "frames"
    root.mkdir()
    pictures = {
        "a.png": make_blob_image(96, 128, red=(10, 20, 40, 50)),
        "b.png": make_blob_image(96, 128, red=(0, 0, 30, 30), blue=(70, 40, 128, 96)),
        "c.png": make_blob_image(96, 128),
        "d.png": make_blob_image(96, 128, blue=(5, 5, 50, 50), disc=True),  # score ~0.89
    }
    for name, rgb in pictures.items():
        assert cv2.imwrite(str(root / name), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    (root / "d.xml").write_text(HUMAN)
    return root


def test_xml_is_byte_identical_to_labelimg(folder, color_bundle, capsys) -> None:
    assert lookout(["label", str(color_bundle), str(folder), "--score", "0.5"]) == 0
    out = capsys.readouterr().out
    assert ("labeled 3 image(s) with 3 box(es) (1 blue, 2 red); 1 with none; "
            "1 already annotated, left alone") in " ".join(out.split())
    # exactly what labelImg 1.8 writes for this box (tabs, no declaration, int corners)
    assert (folder / "a.xml").read_text() == (
        "<annotation>\n"
        "\t<folder>frames</folder>\n"
        "\t<filename>a.png</filename>\n"
        f"\t<path>{folder / 'a.png'}</path>\n"
        "\t<source>\n\t\t<database>Unknown</database>\n\t</source>\n"
        "\t<size>\n\t\t<width>128</width>\n\t\t<height>96</height>\n\t\t<depth>3</depth>\n"
        "\t</size>\n"
        "\t<segmented>0</segmented>\n"
        "\t<object>\n\t\t<name>red</name>\n\t\t<pose>Unspecified</pose>\n"
        "\t\t<truncated>0</truncated>\n\t\t<difficult>0</difficult>\n"
        "\t\t<bndbox>\n\t\t\t<xmin>10</xmin>\n\t\t\t<ymin>20</ymin>\n"
        "\t\t\t<xmax>40</xmax>\n\t\t\t<ymax>50</ymax>\n\t\t</bndbox>\n"
        "\t</object>\n"
        "</annotation>\n")
    assert (folder / "d.xml").read_text() == HUMAN  # a person's work is never replaced
    assert "<object>" not in (folder / "c.xml").read_text()  # nothing found: empty file to fill

    # the training reader reads back what was written (labelImg clamps 0 to 1, edges truncated)
    example = read_voc_file(folder / "b.xml", folder, [])
    assert example.image_path == folder / "b.png" and (example.width, example.height) == (128, 96)
    assert [(b.label, b.xmin, b.ymin, b.xmax, b.ymax) for b in example.boxes] == [
        ("red", 1, 1, 30, 30), ("blue", 70, 40, 128, 96)]
    assert "<truncated>1</truncated>" in (folder / "b.xml").read_text()

    (folder / "d.xml").unlink()  # the hand-made stub is no real annotation
    assert lookout(["label", str(color_bundle), str(folder)]) == 0
    capsys.readouterr()
    assert lookout(["dataset", "check", str(folder)]) == 0


def test_classes_score_and_overwrite(folder, color_bundle, capsys) -> None:
    assert lookout(["label", str(color_bundle), str(folder), "--classes", "blue"]) == 0
    assert "<object>" not in (folder / "a.xml").read_text()
    assert "<name>red</name>" not in (folder / "b.xml").read_text()
    assert lookout(["label", str(color_bundle), str(folder), "--classes", "red"]) == 0
    assert "<object>" not in (folder / "a.xml").read_text()  # kept: no --overwrite
    assert lookout(["label", str(color_bundle), str(folder), "--classes", "red",
                    "--overwrite"]) == 0
    assert "<name>red</name>" in (folder / "a.xml").read_text()
    assert (folder / "d.xml").read_text() != HUMAN  # --overwrite is explicit
    assert lookout(["label", str(color_bundle), str(folder), "--score", "0.95",
                    "--overwrite"]) == 0
    assert "<name>red</name>" in (folder / "a.xml").read_text()
    assert "<object>" not in (folder / "d.xml").read_text()  # the disc scores below 0.95
    capsys.readouterr()
    assert lookout(["label", str(color_bundle), str(folder), "--classes", "cat"]) == 1
    assert "classes cat: not in the label map" in capsys.readouterr().err


def test_bad_folder_is_one_line(tmp_path, color_bundle, capsys) -> None:
    assert lookout(["label", str(color_bundle), str(tmp_path / "none")]) == 1
    assert "no such folder of images" in capsys.readouterr().err
    assert lookout(["label", str(color_bundle), str(tmp_path)]) == 1
    assert "holds no images" in capsys.readouterr().err


def test_special_characters_are_escaped(tmp_path) -> None:
    text = voc_xml(tmp_path / "a&b.jpg", 10, 10, 3, [VocObject("<cat>", 0, 0, 10, 10)])
    assert "<filename>a&amp;b.jpg</filename>" in text and "<name>&lt;cat&gt;</name>" in text
    assert "<truncated>1</truncated>" in text
