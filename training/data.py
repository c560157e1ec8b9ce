"""The dataset folder written by `lookout dataset build`, checked before training.

The folder holds ``dataset.json`` (label map name, classes, splits with their record
files relative to the folder), ``label_map.pbtxt`` and the TFRecords. Training and
evaluation fail early, with one line naming the file, when records are missing or
empty or use label ids the label map does not have.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError
from realtime.labelmap import read_label_map
from training.datasets.meta import DatasetMeta


@dataclass
class DatasetInfo:
    """A checked dataset folder. Record paths are absolute."""

    root: Path
    label_map: Path
    names: dict[int, str]
    splits: dict[str, list[Path]]

    @property
    def num_classes(self) -> int:
        """Model Garden's class count: background (0) + max label id."""
        return max(self.names) + 1


def load_dataset(root: str | Path) -> DatasetInfo:
    """Read and check ``root/dataset.json``; every split's records must exist and be readable."""
    root = Path(root)
    meta_path = root / "dataset.json"
    if not root.is_dir():
        raise UserError(f"{root}: dataset folder not found (make one with `lookout dataset build`)")
    if not meta_path.is_file():
        raise UserError(f"{meta_path}: not found; is {root} the output of `lookout dataset build`?")
    meta = DatasetMeta.read(root)  # one line naming the file for bad JSON or fields
    label_map = root / meta.label_map
    splits = {name: meta.records(root, name) for name in meta.splits}
    names = read_label_map(label_map)
    for paths in splits.values():
        for path in paths:
            if not path.is_file():
                raise UserError(f"{path}: record file listed in {meta_path.name} is missing")
    return DatasetInfo(root, label_map, names, splits)


def check_records(paths: list[Path], names: dict[int, str], label_map: Path | str) -> int:
    """Count the examples in ``paths`` and check their labels against the label map.

    Returns:
        The number of examples.

    Raises:
        UserError: no files, an unreadable or empty file, or a label id / name that
            the label map lacks.
    """
    import tensorflow as tf

    if not paths:
        raise UserError("no record files given")
    total = 0
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: record file not found")
        count = 0
        try:
            ds = tf.data.TFRecordDataset(str(path)).map(_parse_labels)
            for labels, texts in ds.as_numpy_iterator():
                count += 1
                _check_labels(path, labels, texts, names, label_map)
        except tf.errors.OpError as exc:
            raise UserError(f"{path}: not a readable TFRecord of tf.Examples "
                            f"({exc.message.splitlines()[0]})") from None
        if count == 0:
            raise UserError(f"{path}: record file holds no examples")
        total += count
    return total


def _parse_labels(serialized):
    import tensorflow as tf

    parsed = tf.io.parse_single_example(serialized, {
        "image/object/class/label": tf.io.VarLenFeature(tf.int64),
        "image/object/class/text": tf.io.VarLenFeature(tf.string),
    })
    return (parsed["image/object/class/label"].values, parsed["image/object/class/text"].values)


def _check_labels(path: Path, labels, texts, names: dict[int, str], label_map: Path | str) -> None:
    ids = {int(i) for i in labels}
    unknown = sorted(ids - set(names))
    if unknown:
        raise UserError(f"{path}: label ids {unknown} are not in {label_map} "
                        f"(it has {dict(sorted(names.items()))})")
    if len(texts) == len(labels):
        for label_id, text in zip(labels, texts, strict=True):
            name = text.decode("utf-8", "replace")
            if name and names[int(label_id)] != name:
                raise UserError(f"{path}: label id {int(label_id)} is {name!r} in the records but "
                                f"{names[int(label_id)]!r} in {label_map}")


_SHARD = re.compile(r"(?P<name>.+)-\d{5}-of-(?P<total>\d{5})\.record")


def input_pattern(records: list[str]) -> str:
    """Model Garden's ``input_path`` for ``records``: the glob ``NAME-*-of-0000K.record``
    when they are all K shards of one split (its input reader then deals whole files to
    the workers of a multi-worker run), else the comma-separated list."""
    paths = [Path(r) for r in records]
    matches = [_SHARD.fullmatch(p.name) for p in paths]
    if len(paths) > 1 and all(matches):
        keys = {(p.parent, m["name"], m["total"]) for p, m in zip(paths, matches)}
        if len(keys) == 1:
            parent, name, total = keys.pop()
            if int(total) == len(paths):
                return str(parent / f"{name}-*-of-{total}.record")
    return ",".join(str(p) for p in paths)
