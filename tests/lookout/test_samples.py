"""The sample-data generators: labelImg VOC folders, the sample clip and the doorbell clip."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from lookout.demo.clips import doorbell_frames, make_clip, make_doorbell_clip
from lookout.demo.samples import CLASSES, make_image_set, render_image
from training.datasets.build import build_dataset
from training.datasets.check import check_dataset
from training.datasets.records import iter_records


def _read_voc(xml_path: Path) -> tuple[int, int, list[tuple[str, list[int]]]]:
    root = ET.parse(xml_path).getroot()
    size = root.find("size")
    objects = [
        (o.findtext("name"), [int(o.find("bndbox").findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")])
        for o in root.iter("object")
    ]
    return int(size.findtext("width")), int(size.findtext("height")), objects


@pytest.fixture(scope="module")
def image_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_image_set(tmp_path_factory.mktemp("s") / "shapes", train=24, test=6, seed=3)


def test_image_set_is_labelimg_voc_with_a_split(image_set: Path) -> None:
    assert sorted(p.name for p in image_set.iterdir()) == ["test", "train"]
    assert len(list((image_set / "train").glob("*.jpg"))) == 24
    assert len(list((image_set / "test").glob("*.jpg"))) == 6
    labels = set()
    for xml in image_set.glob("*/*.xml"):
        image = cv2.imread(str(xml.with_suffix(".jpg")))
        width, height, objects = _read_voc(xml)
        assert image.shape == (height, width, 3)
        assert ET.parse(xml).getroot().findtext("filename") == xml.with_suffix(".jpg").name
        assert objects, f"{xml} has no objects"
        for label, (x0, y0, x1, y1) in objects:
            labels.add(label)
            assert label in CLASSES
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    assert labels == set(CLASSES)


def test_image_set_passes_the_dataset_checker_and_builds(image_set: Path, tmp_path: Path) -> None:
    """The project's own reader sees a clean VOC set with its train/test split, same boxes."""
    report = check_dataset(image_set)
    assert report.format == "voc" and not report.problems
    assert report.images == 30 and report.splits["train"].images == 24
    assert set(report.objects) == set(CLASSES)
    built = build_dataset(image_set, tmp_path / "ds")
    xml_boxes = {}
    for xml in image_set.glob("*/*.xml"):
        _, _, objects = _read_voc(xml)
        xml_boxes[xml.with_suffix(".jpg").name] = sorted((lab, tuple(b)) for lab, b in objects)
    seen = 0
    for rec in iter_records(built.records["test"]):
        scale = (rec.width, rec.height) * 2
        got = sorted((t, tuple(round(float(v) * s) for v, s in zip(b, scale, strict=True)))
                     for t, b in zip(rec.class_texts, rec.boxes, strict=True))
        assert got == xml_boxes[rec.filename]
        seen += 1
    assert seen == 6


def test_boxes_are_tight_around_the_drawn_objects() -> None:
    """Objects are the only saturated pixels: each lies inside a box, each box is full of them."""
    rng = np.random.default_rng(11)
    sizes = []
    for _ in range(40):
        rgb, boxes = render_image(rng, 256, 256)
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
        saturated = (hsv[..., 1] > 120) & (hsv[..., 2] > 95)
        inside = np.zeros_like(saturated)
        for box in boxes:
            x0, y0, x1, y1 = int(box.xmin), int(box.ymin), int(box.xmax), int(box.ymax)
            inside[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2] = True
            region = saturated[y0:y1, x0:x1]
            assert region.mean() > 0.3, "a box holds too little of its object"
            # Tight: the object reaches every side of its box (within anti-aliasing).
            assert region[:2].any() and region[-2:].any()
            assert region[:, :2].any() and region[:, -2:].any()
            sizes.append(max(x1 - x0, y1 - y0))
        assert (saturated & ~inside).sum() <= 0.002 * saturated.size
    assert max(sizes) > 3 * min(sizes), "object scale should vary"


def test_some_objects_occlude_others() -> None:
    rng = np.random.default_rng(5)
    overlaps = 0
    for _ in range(30):
        _, boxes = render_image(rng, 256, 256)
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                overlaps += min(a.xmax, b.xmax) > max(a.xmin, b.xmin) and \
                    min(a.ymax, b.ymax) > max(a.ymin, b.ymin)
    assert overlaps >= 3


def test_same_seed_same_files(tmp_path: Path) -> None:
    a = make_image_set(tmp_path / "a", train=4, test=2, seed=9)
    b = make_image_set(tmp_path / "b", train=4, test=2, seed=9)
    c = make_image_set(tmp_path / "c", train=4, test=2, seed=10)
    files = sorted(p.relative_to(a) for p in a.rglob("*.*"))
    assert files == sorted(p.relative_to(b) for p in b.rglob("*.*"))
    # the XML records where its image lies (an absolute <path>, as labelImg writes it)
    assert all((a / f).read_bytes() == (b / f).read_bytes().replace(bytes(b), bytes(a))
               for f in files)
    assert f"<path>{a / 'train'}/".encode() in (a / files[-1]).read_bytes()
    assert any((a / f).read_bytes() != (c / f).read_bytes() for f in files if f.suffix == ".jpg")


def _count_frames(path: Path) -> tuple[int, float]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n, fps


def test_clip_has_frames_fps_and_audio(tmp_path: Path) -> None:
    info = make_clip(tmp_path / "clip.mp4", seed=1, seconds=2.0, fps=15)
    assert info.frames == 30
    assert _count_frames(info.path) == (30, 15.0)
    meta = next(imageio_ffmpeg.read_frames(str(info.path)))
    assert meta["codec"] == "h264" and meta["audio_codec"] == "aac"
    assert meta["size"] == (320, 240)
    again = make_clip(tmp_path / "again.mp4", seed=1, seconds=2.0, fps=15)
    assert again.path.read_bytes() == info.path.read_bytes()
    assert not list(tmp_path.glob(".*")), "temporary files left behind"


def test_doorbell_is_still_then_visited_then_still(tmp_path: Path) -> None:
    frames = list(doorbell_frames(seed=2, fps=10, seconds=8.0, visit=(2.0, 6.0)))
    assert len(frames) == 80
    f = [x.astype(np.int16) for x in frames]

    def saturated(x: np.ndarray) -> int:
        hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)
        return int(((hsv[..., 1] > 120) & (hsv[..., 2] > 95)).sum())

    # Before and after the visit only sensor noise moves; the visitor is saturated colour.
    assert np.abs(f[5] - f[15]).mean() < 4 and saturated(frames[10]) == 0
    assert saturated(frames[40]) > 2000  # standing at the door
    changed = (np.abs(f[40] - f[10]).max(axis=2) > 30).mean()
    assert changed > 0.03 and (np.abs(f[5] - f[15]).max(axis=2) > 30).mean() < 0.001
    assert saturated(frames[70]) == 0
    info = make_doorbell_clip(tmp_path / "door.mp4", seed=2, seconds=8.0, visit=(2.0, 6.0))
    assert info.visit == (2.0, 6.0) and info.visitor == "circle"
    assert _count_frames(info.path) == (80, 10.0)
