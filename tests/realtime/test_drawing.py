"""Drawing: boxes land on the box edges, tags stay inside the image, sizes scale with the
image from 320x240 to 4K, colours are per class and stable."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from realtime.detections import Detections
from realtime.drawing import Style, class_color, draw_banner, draw_detections, label_box

SIZES = [(240, 320), (480, 640), (720, 1280), (1080, 1920), (2160, 3840)]
GREY = 90


def _scene(height: int, width: int) -> tuple[np.ndarray, Detections]:
    """A middle box, one in the top-left corner, and one at the right edge with a long label."""
    h, w = height, width
    boxes = np.array([
        [0.3 * w, 0.3 * h, 0.7 * w, 0.8 * h],
        [0, 0, 0.2 * w, 0.2 * h],
        [0.75 * w, 0.5 * h, w, 0.7 * h],
    ], np.float32)
    dets = Detections(boxes, [0.91, 0.55, 0.73], [1, 2, 7],
                      ("raccoon", "person", "a rather long label name"))
    return np.full((h, w, 3), GREY, np.uint8), dets


@pytest.mark.parametrize("height, width", SIZES, ids=[f"{w}x{h}" for h, w in SIZES])
def test_boxes_and_tags(height, width):
    image, dets = _scene(height, width)
    drawn = draw_detections(image, dets)
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    assert (image == GREY).all(), "the input must be left untouched"
    style = Style.for_size(height, width)
    for (x0, y0, x1, y1), class_id in zip(dets.xyxy.astype(int), dets.class_ids,
                                          strict=True):
        x1, y1 = min(x1, width) - 1, min(y1, height) - 1
        ym, xm = (y0 + y1) // 2, (x0 + x1) // 2
        color = np.array(class_color(int(class_id)))
        # Every edge carries the class colour at its middle (the left/top may be under a tag).
        for y, x in [(ym, x0), (ym, x1), (y1, xm)]:
            assert np.abs(drawn[y, x].astype(int) - color).max() <= 40, (y, x)
        # The inside of the box, away from the edges and the tag, is untouched.
        assert (drawn[ym + 2 * style.line : y1 - 2 * style.line, xm] == GREY).all()
    # Far from every box nothing changed.
    assert (drawn[int(0.9 * height):, : int(0.25 * width)] == GREY).all()


@pytest.mark.parametrize("height, width", SIZES, ids=[f"{w}x{h}" for h, w in SIZES])
def test_tags_stay_inside_and_readable(height, width):
    image, dets = _scene(height, width)
    style = Style.for_size(height, width)
    drawn = draw_detections(image, dets)
    for (x, y, _, _), label, score, class_id in zip(dets.xyxy, dets.labels, dets.scores,
                                                   dets.class_ids, strict=True):
        bx0, by0, bx1, by1 = label_box(f"{label} {score:.0%}", x, y, height, width, style)
        assert 0 <= bx0 < bx1 <= width and 0 <= by0 < by1 <= height
        # Readable: at least 12 px tall, and not a banner over the frame either.
        assert 12 <= by1 - by0 <= 0.1 * min(height, width)
        # The tag is filled with the class colour, with text drawn on it.
        tag = drawn[by0:by1, bx0:bx1].reshape(-1, 3)
        fill = (tag == class_color(int(class_id))).all(axis=1).mean()
        assert 0.4 < fill < 0.98, f"tag of {label}: {fill:.0%} class colour"


def test_sizes_scale_with_the_image():
    styles = [Style.for_size(h, w) for h, w in SIZES]
    assert [s.line for s in styles] == sorted(s.line for s in styles)
    assert styles[0].line >= 1 and styles[-1].line >= 6
    assert styles[-1].font_scale > 4 * styles[0].font_scale


def test_corner_box_tag_goes_inside_the_box():
    style = Style.for_size(480, 640)
    _, by0, _, _ = label_box("person 55%", 0, 0, 480, 640, style)
    assert by0 == 0  # no room above: tag just inside the box top


def test_right_edge_tag_is_shifted_left():
    style = Style.for_size(240, 320)
    bx0, _, bx1, _ = label_box("a rather long label name 73%", 300, 100, 240, 320, style)
    assert bx1 == 320 and bx0 < 300


def test_inplace_draws_on_the_input():
    image, dets = _scene(240, 320)
    out = draw_detections(image, dets, inplace=True)
    assert out is image and not (image == GREY).all()


def test_no_detections_leaves_the_image_as_is():
    image, _ = _scene(240, 320)
    assert np.array_equal(draw_detections(image, Detections.empty()), image)


def test_class_colours_are_stable_and_distinct():
    colors = [class_color(i) for i in range(1, 11)]
    assert colors == [class_color(i) for i in range(1, 11)]
    assert len(set(colors)) == 10
    for a, b in itertools.pairwise(colors):
        assert max(abs(x - y) for x, y in zip(a, b, strict=True)) > 40  # neighbours look different


def test_banner():
    image = np.full((240, 320, 3), GREY, np.uint8)
    draw_banner(image, "12.3 fps  45 ms")
    assert (image[:5, :5] != GREY).any() and (image[200:, 200:] == GREY).all()
