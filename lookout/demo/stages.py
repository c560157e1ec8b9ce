"""The demo's stages: each one calls a part of lookout through its Python API and checks
what it wrote (exists and is valid), so a later run can reuse it."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any, Self

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from core.errors import UserError
from lookout.config import Config, DemoConfig
from lookout.demo.plan import DemoPaths, DemoResult, Stage
from lookout.progress import Bars
from realtime.bundle import BUNDLE_FILES, LABEL_MAP_FILE, BundleMeta
from realtime.watch.config import WatchRuleConfig
from training.config import TrainConfig
from training.run_record import RunRecord


def build_stages(cfg: DemoConfig, config: Config, paths: DemoPaths, console: Console,
                 result: DemoResult) -> list[Stage]:
    """The stages in order, each with the settings that shape its output."""
    train_cfg = demo_train_config(cfg, config.train)
    sample_settings = {k: getattr(cfg, k) for k in (
        "seed", "train_images", "test_images", "image_size", "clip_seconds", "doorbell_seconds",
        "alert")}  # the doorbell visitor is of the alert class
    s = _Stages(cfg, config, paths, console, result, train_cfg)
    return [
        Stage("samples", "make the sample data (VOC images, clip, doorbell clip)",
              sample_settings, s.make_samples, s.check_samples),
        Stage("dataset", "lookout dataset build", dataclasses.asdict(config.dataset),
              s.build_dataset, s.check_dataset),
        Stage("train", "lookout train", dataclasses.asdict(train_cfg), s.train, s.check_train),
        Stage("eval", "lookout eval", {}, s.evaluate, s.check_eval),
        Stage("export", "lookout export", {}, s.export, s.check_export),
        Stage("annotate", "lookout annotate (the sample clip)", {"score": cfg.score},
              s.annotate, s.check_annotate),
        Stage("watch", f"lookout watch (the doorbell clip, --alert {cfg.alert})",
              {"score": cfg.score, "alert": cfg.alert}, s.watch, s.check_watch),
    ]


def demo_train_config(cfg: DemoConfig, base: TrainConfig) -> TrainConfig:
    """``[train]`` with the demo's short budget: size, steps, batch and LR from ``[demo]``."""
    return dataclasses.replace(
        base, input_size=cfg.input_size, steps=cfg.steps, batch=cfg.batch, lr=cfg.lr,
        checkpoint_every=max(10, cfg.steps // 4), init="", strategy="one_device")


def _bar(console: Console, label: str) -> Progress:
    return Progress(TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console)


class _PipelineBar:
    """A progress bar fed by the pipeline's stats callback (frames written of expected)."""

    def __init__(self, console: Console, label: str) -> None:
        self.progress = _bar(console, label)
        self.progress.columns += (TextColumn("{task.fields[note]}"),)
        self.task = self.progress.add_task("", total=None, note="")

    def update(self, stats) -> None:
        note = f"detector on {stats.frames_detected}, motion-gated {stats.frames_gated}"
        self.progress.update(self.task, completed=stats.frames_written,
                             total=stats.expected_frames, note=note)

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


@dataclasses.dataclass
class _Stages:
    cfg: DemoConfig
    config: Config
    paths: DemoPaths
    console: Console
    result: DemoResult
    train_cfg: TrainConfig
    _detector: object = None  # the bundle, loaded once for annotate and watch

    # ------------------------------------------------------------------ samples

    def make_samples(self) -> None:
        from lookout.demo.clips import make_clip, make_doorbell_clip
        from lookout.demo.samples import make_image_set

        cfg, paths = self.cfg, self.paths
        with _bar(self.console, "samples") as bar:
            task = bar.add_task("", total=cfg.train_images + cfg.test_images + 2)
            make_image_set(paths.samples, train=cfg.train_images, test=cfg.test_images,
                           size=cfg.image_size, seed=cfg.seed,
                           progress=lambda n: bar.advance(task, n))
            make_clip(paths.clip, seed=cfg.seed + 1, seconds=cfg.clip_seconds)
            bar.advance(task)
            make_doorbell_clip(paths.doorbell, seed=cfg.seed + 2, seconds=cfg.doorbell_seconds,
                               visitor=cfg.alert, visit=doorbell_visit(cfg.doorbell_seconds))
            bar.advance(task)

    def check_samples(self) -> str | None:
        from realtime.media import probe

        cfg, paths = self.cfg, self.paths
        counts = [len(list((paths.samples / s).glob("*.xml"))) for s in ("train", "test")]
        if counts != [cfg.train_images, cfg.test_images]:
            return None
        for clip in (paths.clip, paths.doorbell):
            try:
                if not probe(clip).has_audio:
                    return None
            except (ValueError, OSError):
                return None
        return f"{counts[0]} + {counts[1]} images, 2 clips"

    # ------------------------------------------------------------------ training

    def build_dataset(self) -> None:
        from training.datasets.build import build_dataset

        if self.paths.dataset.exists():
            shutil.rmtree(self.paths.dataset)
        with Bars(self.console, transient=True) as bars:
            build_dataset(self.paths.samples, self.paths.dataset, self.config.dataset,
                          on_progress=bars)

    def check_dataset(self) -> str | None:
        from core.errors import UserError
        from training.data import load_dataset

        try:
            info = load_dataset(self.paths.dataset)
        except UserError:
            return None
        return f"{len(info.names)} classes, splits {', '.join(sorted(info.splits))}"

    def train(self) -> None:
        from training.train import train

        run = self.paths.run
        resume = _resumable(run, self.train_cfg)
        if run.exists() and not resume:
            shutil.rmtree(run)
        if resume:
            self.console.print(f"    resuming the interrupted run in {run}")
        with Bars(self.console) as bars:
            info = train(self.paths.dataset, run, self.train_cfg, resume=resume,
                         evaluate_at_end=False, on_progress=bars)
        if info.interrupted:  # Ctrl+C: checkpoint saved; the next `lookout demo` resumes
            raise KeyboardInterrupt

    def check_train(self) -> str | None:
        run = _read_record(RunRecord, self.paths.run)
        if not run or run.status != "done" or run.step != self.train_cfg.steps:
            return None
        return f"{run.step} steps, {run.images_per_sec or 0:.1f} images/s"

    def evaluate(self) -> None:
        from training.evaluate import evaluate

        with Bars(self.console) as bars:
            evaluate(self.paths.run, on_progress=bars)

    def check_eval(self) -> str | None:
        metrics = _read_json(self.paths.metrics)
        ap50 = ap50_of(metrics)
        if ap50 is None:
            return None
        self.result.ap50 = ap50
        voc = metrics.get("voc_ap50") or {}
        per_class = ", ".join(f"{k} {v:.2f}" for k, v in voc.items() if isinstance(v, float))
        return f"COCO AP50 {ap50:.3f}" + (f" (VOC AP50: {per_class})" if per_class else "")

    def export(self) -> None:
        from training.export import export_bundle

        with Bars(self.console, transient=True) as bars:
            export_bundle(self.paths.run, self.paths.bundle, on_progress=bars)

    def check_export(self) -> str | None:
        bundle = self.paths.bundle
        needed = (LABEL_MAP_FILE, BUNDLE_FILES["frozen_graph"], BUNDLE_FILES["tflite"],
                  f"{BUNDLE_FILES['saved_model']}/saved_model.pb")
        if not all((bundle / n).is_file() for n in needed) or not _read_record(BundleMeta, bundle):
            return None
        files = ["saved_model/", *(BUNDLE_FILES[k] for k in ("frozen_graph", "tflite", "int8")
                                   if (bundle / BUNDLE_FILES[k]).is_file())]
        return ", ".join([*files, LABEL_MAP_FILE, "model.json"])

    # ------------------------------------------------------------------ video

    def detector_config(self):
        return dataclasses.replace(self.config.detector, score=self.cfg.score, classes=[],
                                   labels="")

    def detector(self):
        """The exported bundle, loaded (and warmed up) once for annotate and watch."""
        from realtime.detectors import load_detector

        if self._detector is None:
            self._detector = load_detector(self.paths.bundle, self.detector_config())
        return self._detector

    def annotate(self) -> None:
        from lookout.progress import AnnotateProgress
        from realtime.annotate import AnnotateOutputs, annotate
        from realtime.settings import RunSettings

        outputs = AnnotateOutputs(self.paths.annotated, self.paths.detections)
        settings = RunSettings.of(dataclasses.replace(self.config,
                                                      detector=self.detector_config()))
        with AnnotateProgress(self.console, str(self.paths.clip)) as bar:
            stats = annotate(self.detector(), str(self.paths.clip), outputs, settings,
                             progress=bar.update)
        if stats.stopped_by in ("interrupt", "sigterm"):
            raise KeyboardInterrupt

    def check_annotate(self) -> str | None:
        from realtime.media import count_frames, probe

        expected = round(self.cfg.clip_seconds * 15)
        try:
            lines = self.paths.detections.read_text(encoding="utf-8").splitlines()
            frames = count_frames(self.paths.annotated)
            audio = probe(self.paths.annotated).has_audio
        except (OSError, ValueError):
            return None
        if frames != expected or len(lines) != expected:
            return None
        boxes = sum(len(json.loads(line).get("detections", [])) for line in lines)
        return f"{frames} frames{' + audio' if audio else ''}, {boxes} boxes"

    def watch(self) -> None:
        from realtime.watch.runner import run_watch

        if self.paths.events.exists():
            shutil.rmtree(self.paths.events)
        watch = self.config.watch
        # Alerts go to the console only: the demo never rings a real webhook or command.
        watch = dataclasses.replace(
            watch, events_dir=str(self.paths.events), rules=[self.alert_rule()],
            delivery=dataclasses.replace(watch.delivery, console=True, desktop=False),
            webhook=dataclasses.replace(watch.webhook, url="", url_env=""),
            command=dataclasses.replace(watch.command, argv=[]))
        config = dataclasses.replace(self.config, watch=watch, detector=self.detector_config())
        with _PipelineBar(self.console, "watch") as bar:
            try:
                result = run_watch(self.detector(), str(self.paths.doorbell), config,
                                   rules=watch.rules, rules_where="[demo] alert", mode="file",
                                   drain_s=5.0, progress=bar.update)
            finally:  # the last stage: release the model
                if self._detector is not None:
                    self._detector.close()
                    self._detector = None
        if result.stats is not None and result.stats.stopped_by in ("interrupt", "sigterm"):
            raise KeyboardInterrupt

    def alert_rule(self) -> WatchRuleConfig:
        """The doorbell rule: the visitor's class, at the demo's score."""
        return WatchRuleConfig(name="visitor", labels=[self.cfg.alert], min_score=self.cfg.score,
                               median_score=self.cfg.score, end_after_s=2.0, cooldown_s=5.0)

    def check_watch(self) -> str | None:
        from realtime.watch.events import read_events

        log = self.paths.events / "events.jsonl"
        if not log.is_file():
            return None
        try:
            records = read_events(log)
        except (OSError, ValueError):
            return None
        ids = {r.get("id") for r in records}
        self.result.events = len(ids)
        starts = [f"{r['label']} at {r['start']:.1f} s" for r in records
                  if r.get("phase") == "new" and isinstance(r.get("start"), (int, float))]
        enter, leave = doorbell_visit(self.cfg.doorbell_seconds)
        snapshots = len(list((self.paths.events / "snapshots").rglob("*.jpg")))
        return (f"{len(ids)} event(s): {', '.join(starts) or 'none'} (visitor in view "
                f"{enter:.1f}-{leave:.1f} s); {snapshots} snapshot file(s)")


def doorbell_visit(seconds: float) -> tuple[float, float]:
    """When the visitor is in view: from a quarter of the clip to three quarters."""
    return round(seconds * 0.25, 2), round(seconds * 0.75, 2)


def ap50_of(metrics: dict | None) -> float | None:
    """The COCO AP50 in ``metrics.json`` (None when it is not there)."""
    if not metrics:
        return None
    for key in ("AP50", "ap50"):
        if isinstance(metrics.get(key), (int, float)):
            return float(metrics[key])
        coco = metrics.get("coco") or {}
        if isinstance(coco.get(key), (int, float)):
            return float(coco[key])
    return None


def _resumable(run: Path, cfg: TrainConfig) -> bool:
    """A run an interrupted demo left with the same settings: continue it instead."""
    saved = _read_record(RunRecord, run)
    if not saved or saved.train != dataclasses.asdict(cfg):
        return False
    return any(run.glob("ckpt-*.index")) and (saved.step or 0) < cfg.steps


def _read_record(kind: type[RunRecord | BundleMeta], folder: Path) -> Any:
    """``run.json`` or ``model.json`` of ``folder``; None when missing or invalid (the
    stage that writes it runs again)."""
    try:
        return kind.read_if_present(folder)
    except UserError:
        return None


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None
