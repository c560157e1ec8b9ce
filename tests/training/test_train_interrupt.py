"""Ctrl+C writes a checkpoint and exits cleanly; after SIGKILL, --resume loses at most
one checkpoint interval. Real `lookout train` subprocesses, real signals."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
import tensorflow as tf

from tests.training.runs import fruit_dataset, lookout, tiny_cfg
from training.train import train

pytestmark = pytest.mark.slow

ARGS = ["--steps", "400", "--batch", "2", "--input-size", "128", "--checkpoint-every", "2",
        "--no-eval"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return fruit_dataset(tmp_path_factory.getbasetemp())


def _steps(run: Path) -> list[int]:
    return sorted(int(p.stem.split("-")[1]) for p in run.glob("ckpt-*.index"))


def _wait_for_checkpoint(proc, run: Path, timeout: float = 400) -> None:
    deadline = time.monotonic() + timeout
    while not _steps(run):
        if proc.poll() is not None:
            pytest.fail(f"training ended early: {proc.communicate()[1][-2000:]}")
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.2)


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path: Path, dataset: Path) -> None:
    run = tmp_path / "run"
    proc = lookout("train", str(dataset), "--out", str(run), *ARGS)
    _wait_for_checkpoint(proc, run)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "interrupted"
    # the checkpoint written at the interrupt is the step training stopped at
    assert Path(tf.train.latest_checkpoint(str(run))).name == f"ckpt-{info['step']}"
    assert f"interrupted at step {info['step']}/400" in out and "--resume" in out


def test_sigkill_then_resume_loses_at_most_one_interval(tmp_path: Path, dataset: Path) -> None:
    run = tmp_path / "run"
    proc = lookout("train", str(dataset), "--out", str(run), *ARGS)
    _wait_for_checkpoint(proc, run)
    time.sleep(1.0)
    proc.kill()  # SIGKILL: no handler runs
    proc.communicate(timeout=60)
    last = Path(tf.train.latest_checkpoint(str(run))).name
    saved = int(last.split("-")[1])
    info = train(None, run, tiny_cfg(steps=saved + 2), resume=True, progress=False,
                 evaluate_at_end=False)
    resumed = json.loads((run / "run.json").read_text())
    assert resumed["resumed_from"] == saved >= 2  # picked up at the last checkpoint
    assert info.step == saved + 2
    assert not list(run.glob("*_temp*"))  # a checkpoint cut by the kill is not reused
