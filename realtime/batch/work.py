"""What a batch worker does with its elements, with no Ray in sight.

A worker is a callable class: the constructor loads the model once (through
`load_detector`, so every format lookout runs works, and Keras never loads it), and each
call takes a batch of elements as columns (``{"index": [...], "file": [...], ...}``) and
returns ``{"index": [...], "result": [json, ...]}``. A result is JSON text so it crosses
any runner's serializer unchanged: ``{"file", "record"}`` for an image (the fields of a
``detections.json`` entry), ``{"file", "outputs", "frames"}`` for a clip, or
``{"file", "error"}`` when that file failed (``"fatal": true`` when the model itself
could not be loaded, which no other file can fix).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from realtime.config import DetectorConfig
from realtime.settings import RunSettings


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs, picklable (it is shipped to every worker once)."""

    model: str
    out_dir: str
    cwd: str = ""  # relative inputs are read from here (the driver's folder)
    draw: bool = False
    batch: int = 8  # images per detector call (a worker call may get several batches)
    settings: RunSettings = field(default_factory=RunSettings)  # what annotate/predict get


class _Worker:
    def __init__(self, spec: WorkerSpec) -> None:
        # A Ray worker process starts bare: keep TensorFlow's C++ log quiet.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        if spec.cwd and Path(spec.cwd).is_dir():  # an actor owns its process: safe to chdir
            os.chdir(spec.cwd)
        from core.errors import UserError
        from realtime.detectors import load_detector

        self.spec = spec
        self.detector = None
        self.load_error = ""
        try:
            self.detector = load_detector(spec.model, self.detector_cfg(spec.settings))
        except UserError as exc:
            self.load_error = str(exc)

    def __call__(self, batch: dict) -> dict:
        indices = [int(i) for i in batch["index"]]
        files = [str(f) for f in batch["file"]]
        if self.detector is None:
            results = [{"file": f, "error": self.load_error, "fatal": True} for f in files]
        else:
            results = self.work(batch, files)
        return {"index": np.array(indices, dtype=np.int64),
                "result": np.array([json.dumps(r) for r in results], dtype=object)}

    def detector_cfg(self, settings: RunSettings) -> DetectorConfig:
        return settings.detector

    def work(self, batch: dict, files: list[str]) -> list[dict]:
        raise NotImplementedError


def _reason(exc: BaseException, file: str) -> str:
    """The one-line reason, without the file name the report puts in front anyway."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.removeprefix(f"{file}: ")


class ImageWorker(_Worker):
    """Detect in a batch of images: same-size images go through the model together, as
    `lookout predict` does; with ``draw`` the annotated copy is written to ``out_dir``."""

    def work(self, batch: dict, files: list[str]) -> list[dict]:
        from realtime.drawing import draw_detections
        from realtime.predict import read_rgb, write_image

        outputs = [str(o) for o in batch["output"]]
        results: list[dict] = [{} for _ in files]
        groups: dict[tuple[int, int], list[tuple[int, np.ndarray]]] = {}
        for i, file in enumerate(files):
            try:
                rgb = read_rgb(Path(file))
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop the rest
                results[i] = {"file": file, "error": _reason(exc, file)}
                continue
            groups.setdefault(rgb.shape[:2], []).append((i, rgb))
        size = max(1, self.spec.batch)
        chunks = [g[i:i + size] for g in groups.values() for i in range(0, len(g), size)]
        for group in chunks:
            try:
                found = self.detector.detect([rgb for _, rgb in group])
            except Exception as exc:  # noqa: BLE001
                for i, _ in group:
                    results[i] = {"file": files[i], "error": f"detector failed: {exc}"}
                continue
            for (i, rgb), dets in zip(group, found, strict=True):
                try:
                    if self.spec.draw:
                        write_image(Path(self.spec.out_dir) / outputs[i],
                                    draw_detections(rgb, dets, inplace=True))
                    results[i] = {"file": files[i], "record": {
                        "file": files[i], "output": outputs[i] if self.spec.draw else None,
                        "width": rgb.shape[1], "height": rgb.shape[0],
                        "detections": dets.to_dicts()}}
                except Exception as exc:  # noqa: BLE001
                    results[i] = {"file": files[i], "error": _reason(exc, files[i])}
        return results


class ClipWorker(_Worker):
    """Annotate whole clips with lookout's own pipeline (`realtime.annotate.annotate`):
    ``<stem>.jsonl`` (track ids included), ``<stem>.counts.json`` when counting and, with
    ``draw``, ``<stem>.mp4``: exactly what ``lookout annotate CLIP --jsonl ... --out ...``
    writes. A clip that fails leaves no partial outputs."""

    def detector_cfg(self, settings: RunSettings) -> DetectorConfig:
        return settings.tracking.detector_cfg(settings.detector)  # as annotate loads it

    def work(self, batch: dict, files: list[str]) -> list[dict]:
        from realtime.annotate import AnnotateOutputs, annotate, default_counts_path

        out_dir = Path(self.spec.out_dir)
        settings = self.spec.settings
        results = []
        for file, stem in zip(files, [str(s) for s in batch["output"]], strict=True):
            outputs = AnnotateOutputs(video=out_dir / f"{stem}.mp4" if self.spec.draw else None,
                                      jsonl=out_dir / f"{stem}.jsonl")
            counts = default_counts_path(outputs) if settings.tracking.counting else None
            try:
                stats = annotate(self.detector, file, outputs, settings)
            except Exception as exc:  # noqa: BLE001 - one bad clip must not stop the rest
                for path in (outputs.video, outputs.jsonl, counts):
                    if path is not None:
                        Path(path).unlink(missing_ok=True)
                results.append({"file": file, "error": _reason(exc, file)})
                continue
            written = [Path(p).name for p in (outputs.jsonl, outputs.video, counts)
                       if p is not None and Path(p).is_file()]
            result = {"file": file, "outputs": written, "frames": stats.frames_written}
            if stats.failure_report:
                result["warning"] = stats.failure_report
            results.append(result)
        return results
