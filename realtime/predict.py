"""Run a detector on still images: annotated copies plus one ``detections.json``.

The tutorials' ``object_detection_runner`` done properly: same-size images go through the
model in batches, an unreadable image is reported by name while the others carry on,
and every output is written atomically.

``detections.json``::

    {"model": "models/raccoon", "images": [{"file": "in/a.jpg", "output": "a.jpg",
      "width": 640, "height": 480, "detections": [{"label": "raccoon", "class_id": 1,
      "score": 0.91, "box": [x1, y1, x2, y2]}]}], "failed": [{"file": ..., "error": ...}]}
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from core.errors import UserError
from core.fileio import atomic_write_bytes, atomic_write_text
from realtime.config import PipelineConfig
from realtime.detectors.base import Detector
from realtime.drawing import draw_detections
from realtime.engine.job import Job, JobSource, run_job
from realtime.frames import Frame, FrameResult
from realtime.inputs import IMAGE_SUFFIXES, expand_inputs, unique_names
from realtime.settings import RunSettings
from realtime.sinks.base import Sink
from realtime.sources import Source


@dataclass
class PredictReport:
    """What `predict_images` did; ``failed`` holds ``(file, reason)`` per image not done."""

    out_dir: Path
    records: list[dict] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    detector: str = ""  # which model file and runtime ran (`Detector.describe()`)

    @property
    def detections(self) -> int:
        return sum(len(r["detections"]) for r in self.records)


def collect_images(inputs: list[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files, folders (their images, sorted) and globs → ``(paths, problems)``; a file
    named outright is read whatever its suffix."""
    files, problems = expand_inputs(inputs, IMAGE_SUFFIXES, "image", any_file=True)
    return [Path(f) for f in files], problems


def read_rgb(path: Path) -> np.ndarray:
    """Decode an image file to uint8 RGB (EXIF orientation applied); `UserError` naming it."""
    data = np.fromfile(path, dtype=np.uint8) if path.stat().st_size else np.zeros(0, np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise UserError(f"{path}: cannot decode image (corrupt, empty or not an image)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class _ImageList(Source):
    """The collected images as a source, decoded in order; an unreadable one is recorded
    (by name) and skipped."""

    def __init__(self, paths: list[Path], failed: list[tuple[str, str]]) -> None:
        super().__init__()
        self.name, self.paths, self.failed = "images", paths, failed
        self.expected_frames = len(paths)

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        for index, path in enumerate(self.paths):
            if stop.is_set():
                return
            try:
                rgb = read_rgb(path)
            except (UserError, OSError) as exc:
                self.failed.append((str(path), str(exc).removeprefix(f"{path}: ")))
                continue
            yield Frame(str(path), index, float(index), rgb)


class _PredictSink(Sink):
    """Annotated copies (atomic) and the records of ``detections.json``."""

    def __init__(self, out_dir: Path, names: list[str], draw: bool,
                 records: list[dict]) -> None:
        self.out_dir, self.names, self.draw, self.records = out_dir, names, draw, records

    def write(self, result: FrameResult) -> None:
        frame, found = result.frame, result.detections
        name = self.names[frame.index]
        if self.draw:
            write_image(self.out_dir / name, draw_detections(frame.rgb, found))
        self.records.append({"file": frame.source, "output": name if self.draw else None,
                             "width": frame.width, "height": frame.height,
                             "detections": found.to_dicts()})


def predict_images(model: str | Path | Detector, inputs: list[str], out_dir: str | Path,
                   settings: RunSettings | None = None, *, draw: bool = True,
                   model_name: str = "",
                   on_image: Callable[[int, int], None] | None = None) -> PredictReport:
    """Detect in every image of ``inputs``; write annotated images and ``detections.json``.

    A job preset: the images are one source (read in order), same-size images share a
    detector call, results come back in order.

    Args:
        model: a model path (loaded and released here) or a loaded `Detector`.
        inputs: image files, folders and globs.
        out_dir: created if needed; annotated images keep their names (``_2`` etc. when
            two inputs share one) and format.
        settings: ``settings.detector``; ``settings.pipeline.batch``: at most this many
            same-size images per detector call (no tracking: images are no stream).
        draw: False writes only ``detections.json``.
        model_name: recorded in the JSON.
        on_image: called as ``on_image(done, total)`` as images are done (progress bars).

    Raises:
        UserError: when no input names any image.
    """
    paths, problems = collect_images(inputs)
    if not paths:
        detail = "; ".join(f"{f}: {why}" for f, why in problems) or "nothing given"
        raise UserError(f"no images to run on ({detail})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = PredictReport(out_dir, failed=list(problems))
    unreadable: list[tuple[str, str]] = []
    source = _ImageList(paths, unreadable)
    sink = _PredictSink(out_dir, output_names(paths), draw, report.records)
    # images of one size wait for each other (one device call each); the end sends the rest
    settings = settings or RunSettings()
    batch = settings.pipeline.batch
    cfg = PipelineConfig(batch=batch, max_wait_ms=60_000.0, queue_size=max(8, 2 * batch))
    job = Job(model, [JobSource(source, outputs=[sink])], policy="file",
              detector_cfg=settings.detector, pipeline_cfg=cfg)

    def progress(stats) -> None:
        if on_image:
            on_image(stats.frames_written + len(unreadable), len(paths))

    report.detector = run_job(job, progress).detector
    report.failed += unreadable
    _write_json(out_dir / "detections.json", {
        "model": model_name,
        "images": report.records,
        "failed": [{"file": f, "error": why} for f, why in report.failed],
    })
    return report


def output_names(paths: list[Path]) -> list[str]:
    """The input's file name, made unique with ``_2``, ``_3``… when names collide."""
    return unique_names((p.name for p in paths), taken=["detections.json"])


def write_image(path: Path, rgb: np.ndarray) -> None:
    ok, data = cv2.imencode(path.suffix.lower() or ".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise UserError(f"{path}: cannot encode image as {path.suffix}")
    atomic_write_bytes(path, data.tobytes())


def _write_json(path: Path, value: object) -> None:
    text = json.dumps(value, indent=1)
    # Boxes on one line each: [x1, y1, x2, y2] reads better than four lines.
    text = re.sub(r"\[\s*([-\d.e,\s]+?)\s*\]", lambda m: "[" + " ".join(m[1].split()) + "]", text)
    atomic_write_text(path, text + "\n")
