"""Existing TF OD API TFRecords (the tutorials' ``train.record``/``test.record``) as a source.

Class names come from ``image/object/class/text``, or from the ids and a
``label_map.pbtxt`` beside the records. ``image/source_id`` may be anything (the
raccoon tutorial wrote file names); we renumber when we build.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from training.datasets.example import ERROR, Box, Example, Problem
from training.datasets.paths import show, split_from_name

RECORD_PATTERNS = ("*.record", "*.tfrecord", "*.tfrecords", "*.record-*", "*-of-*")


def record_files(src: Path) -> list[Path]:
    if src.is_file():
        return [src]
    found = {p for pattern in RECORD_PATTERNS for p in src.glob(pattern) if p.is_file()}
    return sorted(found)


def find_label_map(src: Path) -> Path | None:
    folder = src if src.is_dir() else src.parent
    for candidate in (folder / "label_map.pbtxt", *sorted(folder.glob("*.pbtxt"))):
        if candidate.is_file():
            return candidate
    return None


def read_tfrecords(src: Path, problems: list[Problem],
                   label_map: dict[int, str] | None = None) -> Iterator[Example]:
    """Yield one example per record, carrying its encoded image."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    from training.datasets.records import decode_example

    for path in record_files(src):
        where = show(path)
        split = split_from_name([path.name.split(".")[0]])
        index = -1
        try:
            for index, raw in enumerate(tf.data.TFRecordDataset(str(path)).as_numpy_iterator()):
                yield _example(decode_example(raw), f"{where}#{index}", split, label_map)
        except tf.errors.OpError as exc:
            problems.append(Problem(ERROR, f"{where}#{index + 1}",
                                    f"corrupt TFRecord: {exc.message.splitlines()[0]}"))
        except (DecodeError, ValueError) as exc:  # a record that is not a TF OD API example
            problems.append(Problem(ERROR, f"{where}#{index + 1}", f"not a TF OD API record ({exc})"))


def _example(rec, at: str, split: str | None, label_map: dict[int, str] | None) -> Example:
    found: list[Problem] = []
    texts = list(rec.class_texts)
    ids = [int(i) for i in rec.class_ids]
    n = len(rec.boxes)
    boxes = []
    for i in range(n):
        label = texts[i] if i < len(texts) and texts[i] else None
        if label is None and label_map and i < len(ids):
            label = label_map.get(ids[i])
        if label is None:
            found.append(Problem(ERROR, at, f"object {i} has no class text and its id "
                                 f"{ids[i] if i < len(ids) else '?'} is not in a label map"))
            continue
        x0, y0, x1, y1 = (float(v) for v in rec.boxes[i])
        boxes.append(Box(label, x0 * rec.width, y0 * rec.height, x1 * rec.width,
                         y1 * rec.height, origin=f"{at} object {i}"))
    return Example(
        filename=rec.filename or rec.source_id or at, width=rec.width, height=rec.height,
        boxes=boxes, origin=at, image_bytes=rec.encoded, image_format=rec.image_format,
        split=split, problems=found,
    )
