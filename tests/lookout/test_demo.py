"""`lookout demo`: stage reuse, and the whole path in its reduced (--quick) mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from core.errors import UserError
from lookout.config import Config
from lookout.demo.demo import resolve_settings, run_demo, run_stages
from lookout.demo.plan import DemoPaths, DemoResult, Stage

# --------------------------------------------------------------------------- stage reuse


class _FileStage:
    """A real stage: writes ``name.txt`` holding its settings; counts its runs."""

    def __init__(self, root: Path, name: str, value: int) -> None:
        self.root, self.name, self.value, self.runs = root, name, value, 0

    def stage(self) -> Stage:
        return Stage(self.name, self.name, {"value": self.value}, self.run, self.check)

    def run(self) -> None:
        self.runs += 1
        (self.root / f"{self.name}.txt").write_text(str(self.value))

    def check(self) -> str | None:
        path = self.root / f"{self.name}.txt"
        return path.read_text() if path.is_file() else None


def _run(paths: DemoPaths, stages: list[_FileStage]) -> DemoResult:
    result = DemoResult(paths)
    run_stages([s.stage() for s in stages], paths, result, Console(quiet=True))
    return result


def test_finished_stages_are_reused_and_changes_rerun_what_follows(tmp_path: Path) -> None:
    paths = DemoPaths(tmp_path)
    a, b, c = (_FileStage(tmp_path, n, 1) for n in "abc")
    assert [s.reused for s in _run(paths, [a, b, c]).stages] == [False, False, False]
    assert [s.reused for s in _run(paths, [a, b, c]).stages] == [True, True, True]
    assert (a.runs, b.runs, c.runs) == (1, 1, 1)

    b.value = 2  # new settings for b: b and everything after it run again
    assert [s.reused for s in _run(paths, [a, b, c]).stages] == [True, False, False]
    assert (a.runs, b.runs, c.runs) == (1, 2, 2)

    (tmp_path / "c.txt").unlink()  # an output gone: that stage runs again
    assert [s.reused for s in _run(paths, [a, b, c]).stages] == [True, True, False]
    assert json.loads(paths.state.read_text())["stages"]["b"] == {"value": 2}


def test_an_interrupted_rerun_forgets_every_later_stage(tmp_path: Path) -> None:
    """Killed while remaking b: c's old outputs (made from the old b) must not be reused."""
    paths = DemoPaths(tmp_path)
    a, b, c = (_FileStage(tmp_path, n, 1) for n in "abc")
    _run(paths, [a, b, c])
    b.value = 2

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_stages([a.stage(), Stage("b", "b", {"value": 2}, interrupted, b.check), c.stage()],
                   paths, DemoResult(paths), Console(quiet=True))
    assert set(json.loads(paths.state.read_text())["stages"]) == {"a"}
    assert [s.reused for s in _run(paths, [a, b, c]).stages] == [True, False, False]


def test_fresh_refuses_a_folder_the_demo_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("precious")
    with pytest.raises(UserError, match="not a demo folder"):
        run_demo(Config(), out=tmp_path, fresh=True, quick=True, console=Console(quiet=True))
    assert (tmp_path / "mine.txt").read_text() == "precious"


@pytest.mark.parametrize("change, message", [
    ({"alert": "person"}, "demo.alert: must be one of circle | square | triangle"),
    ({"steps": 0}, "demo.steps: must be at least 1"),
])
def test_bad_demo_settings_are_one_line_errors(change: dict, message: str) -> None:
    import dataclasses

    with pytest.raises(UserError, match=message):
        resolve_settings(dataclasses.replace(Config().demo, **change))
