"""Label maps: the TF OD API pbtxt format, read and written, with errors naming the line."""

from __future__ import annotations

import pytest

from core.errors import UserError
from realtime.labelmap import format_label_map, read_label_map, write_label_map


def test_reads_the_raccoon_tutorial_label_map(raccoon):
    assert read_label_map(raccoon / "data" / "label_map.pbtxt") == {1: "raccoon"}


def test_round_trip(tmp_path):
    names = {1: "date", 2: "fig", 3: "hazel'nut"}
    write_label_map(names, tmp_path / "lm.pbtxt")
    assert read_label_map(tmp_path / "lm.pbtxt") == names
    assert not list(tmp_path.glob(".label_map.*"))  # temp file renamed away


def test_accepts_double_quotes_comments_and_display_name(tmp_path):
    path = tmp_path / "lm.pbtxt"
    path.write_text('# classes\nitem {\n  name: "person"\n  id: 1\n  display_name: "Person"\n}\n'
                    "item { id: 2 name: 'dog' }\n")
    assert read_label_map(path) == {1: "person", 2: "dog"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("item {\n  id: 0\n  name: 'bg'\n}\n", r"lm.pbtxt:1: label map id 0 must be >= 1"),
        ("item { id: 1 name: 'a' }\n\nitem { id: 1 name: 'b' }\n", r"lm.pbtxt:3: label map id 1 appears twice"),
        ("item { name: 'a' }\n", r"lm.pbtxt:1: label map item has no id"),
        ("item { id: x name: 'a' }\n", r"is not an integer"),
        ("item { id: 1 name: 'a' \n", r"unbalanced braces"),
        ("", r"label map has no items"),
    ],
)
def test_bad_label_maps(tmp_path, text, expected):
    path = tmp_path / "lm.pbtxt"
    path.write_text(text)
    with pytest.raises(UserError, match=expected):
        read_label_map(path)


def test_missing_label_map(tmp_path):
    with pytest.raises(UserError, match="label map not found"):
        read_label_map(tmp_path / "nope.pbtxt")


def test_format_is_stable():
    assert format_label_map({2: "b", 1: "a"}).index("'a'") < format_label_map({2: "b", 1: "a"}).index("'b'")
