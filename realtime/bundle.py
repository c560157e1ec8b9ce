"""The model bundle's description (``model.json``) and its file table: the one owner of
the bundle format of models/README.md, shared by the export (training) and the runtime.

Imports nothing heavy: neither TensorFlow nor Model Garden.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from core.errors import UserError
from core.records import JsonRecord

META_FILE = "model.json"
LABEL_MAP_FILE = "label_map.pbtxt"
# bundle_format → the file (or folder) in the bundle that holds that format of the model
BUNDLE_FILES = {"saved_model": "saved_model", "frozen_graph": "frozen_inference_graph.pb",
                "tflite": "model.tflite", "int8": "model_int8.tflite"}
# Export like the TF OD API: keep (almost) every candidate; callers filter by score.
EXPORT_SCORE_THRESHOLD = 1e-8


def bundle_file(bundle: str | Path, fmt: str) -> Path:
    """The path of format ``fmt`` (a key of `BUNDLE_FILES`) inside ``bundle``."""
    return Path(bundle) / BUNDLE_FILES[fmt]


def is_bundle(path: str | Path) -> bool:
    """A bundle folder: ``model.json`` beside a ``saved_model/``."""
    path = Path(path)
    return path.is_dir() and (path / META_FILE).is_file() and (path / "saved_model").is_dir()


@dataclass
class BundleMeta(JsonRecord):
    """``model.json``. Only ``name``, ``architecture`` and ``classes`` are required: the
    rest came release by release, and bundles of older releases must still load.

    Fields:
        name: the bundle's folder name when exported.
        architecture: the preset (``retinanet_mobilenet_fpn``...).
        input_size: side of the model's square input in px (None: unknown).
        classes: label id (from 1) → name; must match ``label_map.pbtxt``.
        training_run: the run folder it was exported from.
        checkpoint, step: which checkpoint (``ckpt-N``) and its training step.
        metrics: the run's COCO metrics at export (``metrics.json``'s ``coco``).
        created_at: ISO 8601, UTC. lookout_version: of the exporting release.
        outputs: the serving outputs, in order. score_threshold: the export's
            `EXPORT_SCORE_THRESHOLD`.
        tflite: how to call ``model.tflite`` (None: not exported).
        int8: ``model_int8.tflite``'s input, quantization, calibration and agreement
            with model.tflite (None: not exported); ``summary`` is one line for people.
        files: format → file, as in `BUNDLE_FILES`, for the formats present.
        export_check: the export's self-check (tolerances, measured differences).
        anchors: the anchor settings built into the graph.
        max_detections: the most boxes the model returns an image (its NMS output).
        training_data: box sizes at the input (``small_objects``: many under 16 px).
        evaluation: the results per format, and whole frames against tiles, of
            `training.bundle_eval` (run by ``lookout export`` and ``lookout eval BUNDLE``):
            what ``bundle_format = auto`` and ``tile = auto`` decide on.
        extra: keys this release does not know, written back unchanged.
    """

    FILE: ClassVar[str] = META_FILE
    KINDS: ClassVar[dict[str, tuple[type, ...]]] = {
        "name": (str,), "architecture": (str,), "input_size": (int,), "classes": (dict,),
        "training_run": (str,), "checkpoint": (str,), "step": (int,), "metrics": (dict,),
        "created_at": (str,), "lookout_version": (str,), "outputs": (list,),
        "score_threshold": (float,), "tflite": (dict,), "int8": (dict,), "files": (dict,),
        "export_check": (dict,), "anchors": (dict,), "max_detections": (int,),
        "training_data": (dict,), "evaluation": (dict,)}
    REQUIRED: ClassVar[tuple[str, ...]] = ("name", "architecture", "classes")
    ORDER: ClassVar[tuple[str, ...]] = ("name", "architecture", "input_size", "classes")

    name: str
    architecture: str
    classes: dict[int, str]
    input_size: int | None = None
    training_run: str | None = None
    checkpoint: str | None = None
    step: int | None = None
    metrics: dict = field(default_factory=dict)
    created_at: str = ""
    lookout_version: str = ""
    outputs: list[str] | None = None
    score_threshold: float | None = None
    tflite: dict | None = None
    int8: dict | None = None
    files: dict[str, str] | None = None
    export_check: dict | None = None
    anchors: dict | None = None
    max_detections: int | None = None
    training_data: dict | None = None
    evaluation: dict | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def convert(cls, name: str, value: Any, source: str | Path) -> Any:
        if name == "files" and value is not None:
            unknown = sorted(set(value) - set(BUNDLE_FILES))
            if unknown or not all(isinstance(v, str) for v in value.values()):
                raise UserError(f"{source}: 'files' must map {' | '.join(BUNDLE_FILES)} to "
                                f"file names, got {value}")
        return super().convert(name, value, source)

    def to_dict(self) -> dict:
        out = super().to_dict()
        if self.evaluation is None:  # not evaluated (lookout export --no-eval)
            out.pop("evaluation", None)
        return out

    @property
    def small_objects(self) -> bool:
        """Whether the training data had small objects."""
        return bool((self.training_data or {}).get("small_objects"))

    @property
    def int8_summary(self) -> str | None:
        """One line: how far model_int8.tflite agrees with model.tflite (None: no int8)."""
        return (self.int8 or {}).get("summary")

    def int8_ap50_drop(self) -> float | None:
        """AP50 of model.tflite minus that of model_int8.tflite as ``lookout eval`` wrote
        it (``evaluation.formats``); None when not both evaluated."""
        try:
            formats = (self.evaluation or {})["formats"]
            # AP50 is recorded to 4 decimals; round off float noise (0.80 - 0.78 > 0.02).
            return round(float(formats["tflite"]["AP50"]) - float(formats["int8"]["AP50"]), 6)
        except (KeyError, TypeError, ValueError):
            return None

    def tiles_ap50_gain(self) -> float | None:
        """AP50 with tiles minus AP50 on whole frames as the evaluation measured them
        (``evaluation.tiles``, `training.bundle_eval`); None when not measured."""
        try:
            tiles = (self.evaluation or {})["tiles"]
            return round(float(tiles["tiled"]["AP50"]) - float(tiles["whole"]["AP50"]), 6)
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def tiles_skipped(self) -> str | None:
        """Why the evaluation did not compare tiles (e.g. no test image large enough)."""
        return ((self.evaluation or {}).get("tiles") or {}).get("skipped")

    def replace(self, **changes: Any) -> BundleMeta:
        return dataclasses.replace(self, **changes)
