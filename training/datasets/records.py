"""TFRecord encoding with the TF OD API feature keys, and reading it back.

Keys: ``image/encoded``, ``image/format``, ``image/height``, ``image/width``,
``image/filename``, ``image/source_id`` (numeric, as Model Garden's COCO evaluator
needs), ``image/object/bbox/{xmin,ymin,xmax,ymax}`` normalized to [0, 1],
``image/object/class/{text,label}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf


def _bytes(values: list[bytes]) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _floats(values: list[float]) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def _ints(values: list[int]) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


@dataclass
class RecordExample:
    """One decoded record. Boxes are normalized ``[N, 4]`` ``xmin, ymin, xmax, ymax``."""

    encoded: bytes
    image_format: str
    height: int
    width: int
    filename: str
    source_id: str
    boxes: np.ndarray
    class_texts: list[str]
    class_ids: np.ndarray


def encode_example(
    encoded: bytes,
    image_format: str,
    height: int,
    width: int,
    filename: str,
    source_id: int,
    boxes_xyxy_px: list[tuple[float, float, float, float]],
    class_texts: list[str],
    class_ids: list[int],
) -> tf.train.Example:
    """Build one ``tf.train.Example``; boxes in pixels are normalized here."""
    boxes = np.asarray(boxes_xyxy_px, dtype=np.float64).reshape(-1, 4)
    feature = {
        "image/encoded": _bytes([encoded]),
        "image/format": _bytes([image_format.encode()]),
        "image/height": _ints([height]),
        "image/width": _ints([width]),
        "image/filename": _bytes([filename.encode("utf-8")]),
        "image/source_id": _bytes([str(int(source_id)).encode()]),
        "image/object/bbox/xmin": _floats((boxes[:, 0] / width).tolist()),
        "image/object/bbox/ymin": _floats((boxes[:, 1] / height).tolist()),
        "image/object/bbox/xmax": _floats((boxes[:, 2] / width).tolist()),
        "image/object/bbox/ymax": _floats((boxes[:, 3] / height).tolist()),
        "image/object/class/text": _bytes([t.encode("utf-8") for t in class_texts]),
        "image/object/class/label": _ints([int(i) for i in class_ids]),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


def decode_example(serialized: bytes) -> RecordExample:
    """Parse a serialized TF OD API example (from us or from the tutorials' scripts)."""
    ex = tf.train.Example.FromString(serialized)
    f = ex.features.feature

    def one_bytes(key: str, default: bytes = b"") -> bytes:
        values = f[key].bytes_list.value if key in f else []
        return values[0] if values else default

    def one_int(key: str) -> int:
        values = f[key].int64_list.value if key in f else []
        return int(values[0]) if values else 0

    def floats(key: str) -> list[float]:
        return list(f[key].float_list.value) if key in f else []

    boxes = np.stack(
        [np.asarray(floats(f"image/object/bbox/{k}"), np.float32) for k in ("xmin", "ymin", "xmax", "ymax")],
        axis=1,
    ) if floats("image/object/bbox/xmin") else np.zeros((0, 4), np.float32)
    texts = [t.decode("utf-8", "replace") for t in f["image/object/class/text"].bytes_list.value] \
        if "image/object/class/text" in f else []
    ids = np.asarray(list(f["image/object/class/label"].int64_list.value), np.int64) \
        if "image/object/class/label" in f else np.zeros(0, np.int64)
    return RecordExample(
        encoded=one_bytes("image/encoded"),
        image_format=one_bytes("image/format").decode("ascii", "replace"),
        height=one_int("image/height"),
        width=one_int("image/width"),
        filename=one_bytes("image/filename").decode("utf-8", "replace"),
        source_id=one_bytes("image/source_id").decode("utf-8", "replace"),
        boxes=boxes,
        class_texts=texts,
        class_ids=ids,
    )


def iter_records(paths: list[str | Path]) -> Iterator[RecordExample]:
    """Stream decoded examples from one or more TFRecord files (or shards)."""
    for path in paths:
        for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
            yield decode_example(raw)
