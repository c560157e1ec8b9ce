"""What a demo run is: where its outputs go (`DemoPaths`), its steps (`Stage`) and what it
made (`DemoResult`). `lookout.demo.demo` runs the stages `lookout.demo.stages` builds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

STATE_FILE = "demo.json"


@dataclass(frozen=True)
class DemoPaths:
    """Where every output of the demo goes."""

    root: Path

    @property
    def samples(self) -> Path:
        return self.root / "samples" / "shapes"

    @property
    def clip(self) -> Path:
        return self.root / "samples" / "clip.mp4"

    @property
    def doorbell(self) -> Path:
        return self.root / "samples" / "doorbell.mp4"

    @property
    def dataset(self) -> Path:
        return self.root / "dataset"

    @property
    def run(self) -> Path:
        return self.root / "runs" / "shapes"

    @property
    def metrics(self) -> Path:
        return self.run / "metrics.json"

    @property
    def bundle(self) -> Path:
        return self.root / "models" / "shapes"

    @property
    def annotated(self) -> Path:
        return self.root / "annotated.mp4"

    @property
    def detections(self) -> Path:
        return self.root / "detections.jsonl"

    @property
    def events(self) -> Path:
        return self.root / "events"

    @property
    def state(self) -> Path:
        return self.root / STATE_FILE


@dataclass
class Stage:
    """One step: ``run`` makes its outputs, ``check`` says whether they exist and are valid
    (returning a short description for the summary, or None)."""

    name: str
    title: str
    settings: dict
    run: Callable[[], None]
    check: Callable[[], str | None]


@dataclass
class StageOutcome:
    name: str
    title: str
    reused: bool
    seconds: float
    detail: str


@dataclass
class DemoResult:
    """What the demo made: the paths, each stage's outcome, and the AP50 reached."""

    paths: DemoPaths
    stages: list[StageOutcome] = field(default_factory=list)
    ap50: float | None = None
    events: int = 0
    seconds: float = 0.0
