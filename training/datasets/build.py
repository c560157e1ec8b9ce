"""`build_dataset`: a checked dataset written as TF OD API TFRecords + label map + dataset.json.

Two streaming passes over the source: the first reads only annotations (to fix the
label ids and the stratified split), the second checks each image and writes it at
once. Only per-image metadata (a split, a few labels, a hash) is kept between images,
so memory stays flat however large the set. The output folder appears atomically.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from core.errors import UserError
from core.progress import OnProgress, counter
from training.config import DatasetConfig
from training.datasets.check import (
    Checker,
    DatasetReport,
    Loaded,
    resolve_label_map,
    scan,
)
from training.datasets.meta import DatasetMeta
from training.datasets.paths import show
from training.datasets.sources import open_dataset
from training.datasets.split import assign_splits
from training.datasets.writer import ShardedWriter, atomic_dir, check_out_dir

SPLITS = ("train", "test")


@dataclass
class BuildResult:
    """What `build_dataset` wrote. ``records`` holds absolute paths per split."""

    out_dir: Path
    report: DatasetReport
    classes: dict[int, str]
    records: dict[str, list[Path]] = field(default_factory=dict)

    @property
    def label_map(self) -> Path:
        return self.out_dir / "label_map.pbtxt"

    @property
    def dataset_json(self) -> Path:
        return self.out_dir / "dataset.json"


class DatasetErrors(UserError):
    """The dataset has errors and ``skip_bad`` was not given; ``report`` says which."""

    def __init__(self, message: str, report: DatasetReport) -> None:
        super().__init__(message)
        self.report = report


def parse_max_size(text: str) -> tuple[int, int] | None:
    """``"800x600"`` -> ``(800, 600)``; ``""`` -> None."""
    if not text:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not match or 0 in (int(match[1]), int(match[2])):
        raise UserError(f"dataset.max_size {text!r}: expected WIDTHxHEIGHT, e.g. 800x600")
    return int(match[1]), int(match[2])


def build_dataset(src: str | Path, out_dir: str | Path, cfg: DatasetConfig | None = None,
                  label_map: str | Path | dict[int, str] | None = None,
                  images: str | Path | None = None,
                  on_progress: OnProgress | None = None) -> BuildResult:
    """Check ``src`` and write ``train``/``test`` records, ``label_map.pbtxt``, ``dataset.json``.

    Args:
        cfg: format, test_fraction, seed, max_size, shard_mb, skip_bad (`DatasetConfig`).
        label_map: path or ``{id: name}``; fixes the ids, and classes outside it are errors.
            Without one, ids are 1..N over the sorted class names.
        images: folder of the images when they are not beside the annotations.
        on_progress: gets `Progress` reports (checking, then building); None = silent.

    Raises:
        DatasetErrors: the set has errors and ``cfg.skip_bad`` is off (nothing is written).
        UserError: ``src`` is not a dataset, ``out_dir`` is not ours to replace, ...
    """
    cfg = cfg or DatasetConfig()
    out_dir = Path(out_dir)
    max_wh = parse_max_size(cfg.max_size)
    check_out_dir(out_dir)
    names, map_name = resolve_label_map(label_map)
    source = open_dataset(src, cfg.format, images=images, label_map=names)

    fixed, labels = [], []
    for example in source.examples([]):  # annotations only: problems are collected later
        fixed.append(example.split)
        labels.append(sorted(set(example.labels)))
    if len({s for s in fixed}) == 1:  # everything in one folder called train/: no real split
        fixed = [None] * len(fixed)
    splits = assign_splits(fixed, labels, cfg.test_fraction, cfg.seed)
    classes = names or {i: n for i, n in enumerate(sorted({x for ls in labels for x in ls}), 1)}
    ids = {name: i for i, name in classes.items()}

    report = DatasetReport(source=show(src), format=source.format)
    checker = Checker(set(classes.values()) if names else None, map_name)
    advance = counter(on_progress, "building", len(splits))
    with atomic_dir(out_dir) as tmp:
        shard_bytes = cfg.shard_mb * 1024 * 1024
        writers = {s: ShardedWriter(tmp, s, shard_bytes, cfg.shards) for s in SPLITS}
        source_id = 0
        for index, loaded in enumerate(scan(source, checker, report)):
            advance()
            # with errors, keep checking to report everything, but stop writing
            if loaded is not None and not (report.errors and not cfg.skip_bad):
                split = splits[index] if index < len(splits) else "train"
                source_id += 1
                writers[split].write(_encode(loaded, source_id, ids, max_wh).SerializeToString())
                report.add(loaded, split)
            del loaded  # let the pixels go before the next image is decoded
        files = {s: w.close() for s, w in writers.items()}
        if report.errors and not cfg.skip_bad:
            raise DatasetErrors(f"{show(src)}: {len(report.errors)} error(s) in the dataset; "
                                "fix them, or pass --skip-bad to leave those images out", report)
        if report.images == 0:
            raise DatasetErrors(f"{show(src)}: no usable annotated images", report)
        from realtime.labelmap import format_label_map

        (tmp / "label_map.pbtxt").write_text(format_label_map(classes), encoding="utf-8")
        _dataset_meta(src, source.format, cfg, classes, report, files, fixed).write(tmp)
    records = {s: [out_dir / name for name in files[s]] for s in SPLITS}
    return BuildResult(out_dir, report, classes, records)


def _encode(loaded: Loaded, source_id: int, ids: dict[str, int], max_wh: tuple[int, int] | None):
    """The record of one checked image, downscaled to fit ``max_wh`` when it is larger."""
    from training.datasets.records import encode_example

    data, fmt, width, height = loaded.data, loaded.image_format, loaded.width, loaded.height
    scale = min(max_wh[0] / width, max_wh[1] / height, 1.0) if max_wh else 1.0
    pixels = loaded.pixels
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    if scale < 1.0 or not fmt:
        fmt = fmt or "png"
        params = [cv2.IMWRITE_JPEG_QUALITY, 95] if fmt == "jpeg" else []
        ok, buf = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", pixels, params)
        if not ok:
            raise RuntimeError(f"cannot re-encode {loaded.example.origin}")
        data = buf.tobytes()
    new_h, new_w = pixels.shape[:2]
    sx, sy = new_w / width, new_h / height
    boxes = [(b.xmin * sx, b.ymin * sy, b.xmax * sx, b.ymax * sy) for b in loaded.boxes]
    return encode_example(
        data, fmt, new_h, new_w, loaded.example.filename, source_id, boxes,
        [b.label for b in loaded.boxes], [ids[b.label] for b in loaded.boxes],
    )


def _dataset_meta(src, fmt: str, cfg: DatasetConfig, classes: dict[int, str],
                  report: DatasetReport, files: dict[str, list[str]], fixed: list) -> DatasetMeta:
    from core import __version__

    splits = {}
    for s in SPLITS:
        counts = report.splits.get(s)
        objects = {name: (counts.objects[name] if counts else 0) for _, name in sorted(classes.items())}
        splits[s] = {"images": counts.images if counts else 0, "objects": objects, "records": files[s]}
    given = sum(1 for f in fixed if f is not None)
    return DatasetMeta(
        format=fmt, origin=str(Path(src).resolve()), seed=cfg.seed,
        test_fraction=cfg.test_fraction,
        split="source" if given == len(fixed) else ("stratified" if given == 0 else "mixed"),
        classes=dict(sorted(classes.items())), splits=splits, max_size=cfg.max_size,
        skipped=report.skipped, warnings=len(report.warnings),
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        lookout_version=__version__)
