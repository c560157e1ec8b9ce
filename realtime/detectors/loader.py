"""`load_detector`: look at what MODEL is and open it with the backend that fits.

A registry maps each kind of model to a probe (``is this path one?``) and an opener;
adding a format is one entry, not another ``elif``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError
from realtime.bundle import BUNDLE_FILES, BundleMeta, bundle_file, is_bundle
from realtime.config import DetectorConfig
from realtime.detectors.base import Detector
from realtime.detectors.common import BatchDetector, find_labels
from realtime.detectors.tiling import with_tiling


@dataclass(frozen=True)
class Backend:
    probe: Callable[[Path], bool]
    open: Callable[[Path, DetectorConfig], BatchDetector]


def _open_saved_model(path: Path, cfg: DetectorConfig, kind: str = "saved_model",
                      names: tuple[dict[int, str], str] | None = None) -> BatchDetector:
    from realtime.detectors.saved_model import SavedModelDetector

    # An OD API export folder holds saved_model/ (+ checkpoint/, pipeline.config).
    folder = path / "saved_model" if (path / "saved_model" / "saved_model.pb").is_file() else path
    names = names or find_labels(path, cfg, folder, folder.parent)
    return SavedModelDetector(folder, *names, cfg, kind=kind)


def _open_frozen_graph(path: Path, cfg: DetectorConfig, kind: str = "frozen_graph",
                       names: tuple[dict[int, str], str] | None = None) -> BatchDetector:
    from realtime.detectors.frozen_graph import FrozenGraphDetector

    return FrozenGraphDetector(path, *(names or find_labels(path, cfg, path.parent)), cfg, kind=kind)


def _open_tflite(path: Path, cfg: DetectorConfig, kind: str = "tflite",
                 names: tuple[dict[int, str], str] | None = None) -> BatchDetector:
    from realtime.detectors.tflite import TFLiteDetector

    return TFLiteDetector(path, *(names or find_labels(path, cfg, path.parent)), cfg, kind=kind)


OPENERS = {  # cfg.bundle_format → the opener of that file of the bundle (BUNDLE_FILES)
    "saved_model": _open_saved_model,
    "frozen_graph": _open_frozen_graph,
    "tflite": _open_tflite,
    "int8": _open_tflite,
}


def _open_bundle(path: Path, cfg: DetectorConfig) -> BatchDetector:
    """A bundle (models/README.md): its label map, checked against model.json, and the
    file ``cfg.bundle_format`` picks."""
    choice = cfg.bundle_format
    if choice not in ("auto", *BUNDLE_FILES):
        raise UserError(f"bundle_format {choice!r}: expected auto | {' | '.join(BUNDLE_FILES)}")
    meta = BundleMeta.read(path)
    why = f"bundle_format = {choice}"
    if choice == "auto":
        choice, why = _auto_format(path, meta, cfg)
    target = bundle_file(path, choice)
    if not target.exists():
        how = {"tflite": " with --tflite", "int8": " with --int8"}.get(choice, "")
        raise UserError(f"{path}: bundle has no {target.name} (bundle_format = {choice}); "
                        f"re-export it{how}")
    names, where = find_labels(path, cfg, path)
    if not cfg.labels and meta.classes and meta.classes != names:
        raise UserError(f"{path}: label_map.pbtxt {names} does not match model.json classes "
                        f"{meta.classes}; the bundle was edited by hand?")
    target = target if choice != "saved_model" else path
    detector = OPENERS[choice](target, cfg, kind="bundle", names=(names, where))
    detector.why = why
    return detector


def _auto_format(path: Path, meta: BundleMeta, cfg: DetectorConfig) -> tuple[str, str]:
    """``(format, why)``. On a GPU the SavedModel (batches on the device). On a CPU
    LiteRT/XNNPACK runs the same model about twice as fast as TensorFlow (bench
    pipeline): model.tflite, or model_int8.tflite when model.json says it was evaluated
    (by `lookout export` or `lookout eval`) and lost at most ``cfg.max_ap50_drop`` of
    AP50 against the float model."""
    if not _runs_on_cpu(cfg.device):
        return "saved_model", "auto: a GPU runs the SavedModel"
    if not bundle_file(path, "tflite").is_file():
        return "saved_model", "auto: the bundle has no model.tflite"
    if not bundle_file(path, "int8").is_file():
        return "tflite", "auto: CPU; the bundle has no model_int8.tflite"
    drop = meta.int8_ap50_drop()
    if drop is None:
        return "tflite", ("auto: CPU; model_int8.tflite was never evaluated "
                          "(`lookout eval BUNDLE` measures it)")
    if drop <= cfg.max_ap50_drop:
        return "int8", (f"auto: CPU; int8 lost {max(drop, 0.0):.3f} AP50 on the test split, "
                        f"within max_ap50_drop {cfg.max_ap50_drop}")
    return "tflite", (f"auto: CPU; model_int8.tflite lost {drop:.3f} AP50 on the test split, "
                      f"more than max_ap50_drop {cfg.max_ap50_drop}")


def auto_choice(path: Path, cfg: DetectorConfig) -> str:
    """Which file of bundle ``path`` and which tiling `load_detector` runs with ``cfg``,
    and why, without loading anything: what `lookout export` and `eval` print."""
    from realtime.detectors.tiling import auto_tiles, parse_tile

    meta = BundleMeta.read(path)
    choice, why = ((cfg.bundle_format, f"bundle_format = {cfg.bundle_format}")
                   if cfg.bundle_format != "auto" else _auto_format(Path(path), meta, cfg))
    tile = parse_tile(cfg.tile)
    if tile == "auto":
        size, tile_why = auto_tiles(meta)
        tiles = f"tiles of {size} px" if size else "whole frames"
    else:
        tiles, tile_why = ("whole frames" if tile == "off" else f"tiles of {tile} px",
                           f"tile = {tile}")
    return f"{BUNDLE_FILES[choice]} ({why}); {tiles} ({tile_why})"


def _runs_on_cpu(device: str) -> bool:
    """Whether the model will run on the CPU; never imports TensorFlow (realtime.devices)."""
    spec = device.strip().lower()
    if spec != "auto":
        return spec == "cpu"
    from realtime.devices import gpu_visible

    return not gpu_visible()


def _is_saved_model(p: Path) -> bool:
    return p.is_dir() and ((p / "saved_model.pb").is_file()
                           or (p / "saved_model" / "saved_model.pb").is_file())


BACKENDS: dict[str, Backend] = {  # probed in this order; the first that matches opens MODEL
    "bundle": Backend(is_bundle, _open_bundle),
    "saved_model": Backend(_is_saved_model, _open_saved_model),
    "frozen_graph": Backend(lambda p: p.is_file() and p.suffix == ".pb", _open_frozen_graph),
    "tflite": Backend(lambda p: p.is_file() and p.suffix == ".tflite", _open_tflite),
}


def load_detector(model: str | Path, cfg: DetectorConfig | None = None,
                  warmup: bool = True) -> Detector:
    """Open MODEL (bundle folder, SavedModel folder, frozen graph .pb or .tflite) with the
    filters and device of ``cfg`` and warm it up, so the first frame is not slow.

    Raises:
        UserError: one line naming MODEL and what is wrong with it.
    """
    cfg = cfg or DetectorConfig()
    path = Path(model)
    if not path.exists():
        raise UserError(f"{path}: model not found")
    if path.name == "saved_model.pb":  # the user pointed at the file inside a SavedModel
        path = path.parent
    for backend in BACKENDS.values():
        if backend.probe(path):
            detector = with_tiling(backend.open(path, cfg), path, cfg.tile, cfg.max_det)
            if warmup:
                detector.warmup()
            return detector
    raise UserError(
        f"{path}: not a model lookout can run; expected a bundle folder (saved_model/ + "
        f"label_map.pbtxt + model.json), a SavedModel folder, a frozen_inference_graph.pb "
        f"or a .tflite file"
    )
