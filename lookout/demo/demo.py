"""`run_demo`: the whole path on generated sample data, each step through the library API.

samples → dataset build → train → eval → export → annotate the sample clip → watch the
doorbell clip. Everything goes under one folder (``demo_out/``):

    samples/shapes/{train,test}/   labelImg VOC images + XML     (lookout.demo.samples)
    samples/clip.mp4, doorbell.mp4 the clips                     (lookout.demo.clips)
    dataset/                       records, label map, dataset.json
    runs/shapes/                   checkpoints, metrics.json, PR curves, TensorBoard
    models/shapes/                 the bundle
    annotated.mp4, detections.jsonl
    events/                        events.jsonl, snapshots/
    demo.json                      what each finished stage was made with

A stage is reused when its outputs exist and check out, and it was made with the same
settings as now (``demo.json``); once a stage reruns, every later stage reruns too.
``fresh`` starts over.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
import warnings
from pathlib import Path

from rich.console import Console

from core.errors import UserError
from core.fileio import atomic_write_json
from lookout.config import Config, DemoConfig, override
from lookout.demo.plan import STATE_FILE, DemoPaths, DemoResult, Stage, StageOutcome
from lookout.demo.stages import build_stages

# `--quick`: fewer and smaller images, short clips, a shorter budget. From scratch, this
# RetinaNet needs several hundred steps of 8 images before it finds much, so "quick" still
# trains for real (a few minutes) and the doorbell still rings.
QUICK = {"train_images": 64, "test_images": 16, "image_size": 128, "steps": 800, "batch": 8,
         "input_size": 128, "clip_seconds": 2.0, "doorbell_seconds": 8.0, "score": 0.3}


def resolve_settings(cfg: DemoConfig, *, steps: int | None = None, quick: bool = False) -> DemoConfig:
    """The ``[demo]`` table with ``--quick`` and ``--steps`` applied (flags win)."""
    if quick:
        cfg = dataclasses.replace(cfg, **QUICK)
    return override(cfg, steps=steps)  # ranges and the alert class: checked by DemoConfig


def run_demo(config: Config, *, out: str | Path | None = None, fresh: bool = False,
             steps: int | None = None, quick: bool = False,
             console: Console | None = None) -> DemoResult:
    """Run (or finish) the demo under ``out`` (default ``[demo] out``)."""

    console = console or Console()
    # Model Garden's RetinaNet warns on every call about an FPN level it does not use.
    warnings.filterwarnings("ignore", message="Input dict contained keys", category=UserWarning)
    cfg = resolve_settings(config.demo, steps=steps, quick=quick)
    paths = DemoPaths(Path(out or cfg.out))
    if fresh and paths.root.exists():
        _remove_demo(paths)
    paths.root.mkdir(parents=True, exist_ok=True)
    result = DemoResult(paths)
    start = time.time()
    run_stages(build_stages(cfg, config, paths, console, result), paths, result, console)
    result.seconds = time.time() - start
    return result


def run_stages(stages: list[Stage], paths: DemoPaths, result: DemoResult, console: Console) -> None:
    """Run ``stages`` in order, reusing each one whose settings match ``demo.json`` and whose
    outputs check out, until the first that must run; every later one runs too."""
    state = _read_state(paths)
    rerun = False
    for number, stage in enumerate(stages, 1):
        header = f"[bold cyan][{number}/{len(stages)}] {stage.title}[/]"
        began = time.time()
        detail = None
        settings = json.loads(json.dumps(stage.settings))  # as demo.json will hold them
        if not rerun and state.get(stage.name) == settings:
            detail = stage.check()
        if detail is not None:
            console.print(f"{header} [dim]reused ({detail})[/]")
            result.stages.append(StageOutcome(stage.name, stage.title, True, 0.0, detail))
            continue
        if not rerun:  # from here on everything is remade: forget it all before starting
            for later in stages[number - 1:]:
                state.pop(later.name, None)
            _write_state(paths, state)
        rerun = True
        console.print(header)
        stage.run()
        detail = stage.check()
        if detail is None:
            raise RuntimeError(f"demo stage {stage.name!r} finished but its outputs are not valid")
        state[stage.name] = settings
        _write_state(paths, state)
        seconds = time.time() - began
        console.print(f"    [green]done[/] in {seconds:.0f} s: {detail}")
        result.stages.append(StageOutcome(stage.name, stage.title, False, seconds, detail))


def _read_state(paths: DemoPaths) -> dict:
    try:
        state = json.loads(paths.state.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return state.get("stages", {}) if isinstance(state, dict) else {}


def _write_state(paths: DemoPaths, stages: dict) -> None:
    atomic_write_json(paths.state, {"stages": stages}, indent=2)


def _remove_demo(paths: DemoPaths) -> None:
    """Remove a previous demo folder, but only one the demo made (it has ``demo.json``)."""
    if not paths.state.is_file() and any(paths.root.iterdir()):
        raise UserError(f"{paths.root}: not a demo folder (no {STATE_FILE}); "
                        "refusing to delete it for --fresh, choose another --out")
    shutil.rmtree(paths.root)
