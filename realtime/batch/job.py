"""`run_batch`: plan the inputs into image and clip elements, run them on Ray,
write ``detections.jsonl`` and report what failed.

Outputs in ``out_dir``: ``detections.jsonl`` (one line per image, the fields of a
``lookout predict`` ``detections.json`` entry, in input order), with ``draw`` the
annotated images under their own names; per clip ``<stem>.jsonl`` (``<stem>.counts.json`` when
counting) and with ``draw`` ``<stem>.mp4``, as ``lookout annotate`` writes them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import UserError
from core.fileio import atomic_write_text
from realtime.batch.ray_runner import RayOptions, RayRunner
from realtime.batch.work import WorkerSpec
from realtime.inputs import IMAGE_SUFFIXES, VIDEO_SUFFIXES, expand_inputs, unique_names
from realtime.predict import output_names
from realtime.settings import RunSettings

DETECTIONS = "detections.jsonl"


@dataclass(frozen=True)
class BatchSettings:
    """What to run and how: ``run`` is what ``predict`` and ``annotate`` get (clips are
    tracked and counted as annotate does), ``ray`` where it runs."""

    draw: bool = False
    run: RunSettings = field(default_factory=RunSettings)
    ray: RayOptions = field(default_factory=RayOptions)


@dataclass
class BatchReport:
    """What `run_batch` did: image records, clip results, and ``(file, why)`` failures."""

    out_dir: Path
    images: list[dict] = field(default_factory=list)
    clips: list[dict] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    workers: int = 0
    seconds: float = 0.0
    ray_seconds: float = 0.0  # of ``seconds``: starting (or joining) and stopping Ray

    @property
    def detections(self) -> int:
        return sum(len(r["detections"]) for r in self.images)


def plan_inputs(inputs: list[str]) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Files, folders (their images and clips, sorted) and globs → ``(images, clips,
    problems)``; an input that names nothing usable is a problem, the rest still runs."""
    files, problems = expand_inputs(inputs, IMAGE_SUFFIXES | VIDEO_SUFFIXES, "image or clip")
    is_clip = [Path(f).suffix.lower() in VIDEO_SUFFIXES for f in files]
    images = [f for f, clip in zip(files, is_clip, strict=True) if not clip]
    clips = [f for f, clip in zip(files, is_clip, strict=True) if clip]
    return images, clips, problems


def clip_stems(clips: list[str]) -> list[str]:
    """Each clip's file stem, made unique with ``_2``, ``_3``… (``detections`` is taken)."""
    return unique_names((Path(c).stem for c in clips), taken=[Path(DETECTIONS).stem])


def run_batch(model: str | Path, inputs: list[str], out_dir: str | Path,
              settings: BatchSettings | None = None,
              on_item: Callable[[int, int], None] | None = None) -> BatchReport:
    """Run ``model`` over every image and clip of ``inputs`` on Ray.

    Args:
        model: anything `load_detector` opens; loaded once per worker.
        inputs: files, folders and globs of images and clips.
        out_dir: created if needed (on a cluster: a path every node sees).
        on_item: ``on_item(done, total)`` after each finished element.

    Raises:
        UserError: no input names an image or clip, or the model cannot be loaded.
    """
    settings = settings or BatchSettings()
    start = time.monotonic()
    if not Path(model).exists():
        raise UserError(f"{model}: model not found")
    images, clips, problems = plan_inputs(inputs)
    if not images and not clips:
        detail = "; ".join(f"{f}: {why}" for f, why in problems) or "nothing given"
        raise UserError(f"no images or clips to run on ({detail})")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)

    spec = WorkerSpec(model=str(Path(model).resolve()), out_dir=str(out.resolve()),
                      cwd=os.getcwd(), draw=settings.draw, batch=settings.ray.batch,
                      settings=settings.run)
    image_elements = list(zip(range(len(images)), images, output_names(
        [Path(f) for f in images]), strict=True))
    clip_elements = list(zip(range(len(images), len(images) + len(clips)), clips,
                             clip_stems(clips), strict=True))
    total = len(image_elements) + len(clip_elements)
    results: dict[int, dict] = {}

    def collect(index: int, text: str) -> None:
        result = json.loads(text)
        if result.get("fatal"):
            raise UserError(result["error"])
        results[index] = result
        if on_item:
            on_item(len(results), total)

    report = BatchReport(out, failed=list(problems))
    with RayRunner(settings.ray) as ray:
        report.workers = ray.workers()
        ray.run(spec, image_elements, clip_elements, collect)
    report.ray_seconds = ray.fixed_seconds
    for index in sorted(results):
        result = results[index]
        if "error" in result:
            report.failed.append((result["file"], result["error"]))
        elif "record" in result:
            report.images.append(result["record"])
        else:
            report.clips.append(result)
    if images:
        atomic_write_text(out / DETECTIONS, "".join(json.dumps(r) + "\n" for r in report.images))
    report.seconds = time.monotonic() - start
    return report
