"""Ctrl+C writes a checkpoint and exits cleanly; after SIGKILL, --resume loses at most
one checkpoint interval. Real `lookout train` subprocesses, real signals."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
import tensorflow as tf

from tests.training.runs import fruit_dataset, lookout

pytestmark = pytest.mark.slow

ARGS = ["--steps", "400", "--batch", "2", "--input-size", "128", "--checkpoint-every", "2",
        "--no-eval"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return fruit_dataset(tmp_path_factory.getbasetemp())


def _steps(run: Path) -> list[int]:
    return sorted(int(p.stem.split("-")[1]) for p in run.glob("ckpt-*.index"))


def _wait_for_checkpoint(proc, run: Path, after: int = 0, timeout: float = 400) -> None:
    deadline = time.monotonic() + timeout
    while max(_steps(run), default=0) <= after:
        if proc.poll() is not None:
            pytest.fail(f"training ended early: {proc.communicate()[1][-2000:]}")
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.2)


def test_sigkill_then_resume_then_ctrl_c(tmp_path: Path, dataset: Path) -> None:
    """One run's life: killed hard, resumed (losing at most one interval), then stopped
    with Ctrl+C, which saves a checkpoint and exits cleanly."""
    run = tmp_path / "run"
    proc = lookout("train", str(dataset), "--out", str(run), *ARGS)
    _wait_for_checkpoint(proc, run)
    time.sleep(1.0)
    proc.kill()  # SIGKILL: no handler runs
    proc.communicate(timeout=60)
    saved = max(_steps(run))
    assert saved >= 2
    # What a kill in the middle of a save leaves (it happens by chance above; make it sure).
    cut = run / f"ckpt-{saved}_temp"  # killed after the merge, before the temp was removed
    cut.mkdir(exist_ok=True)
    (cut / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"half")

    proc = lookout("train", "--resume", "--out", str(run), *ARGS)
    _wait_for_checkpoint(proc, run, after=saved)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    info = json.loads((run / "run.json").read_text())
    assert info["resumed_from"] == saved  # picked up at the last checkpoint before the kill
    assert info["status"] == "interrupted" and info["step"] > saved
    # the checkpoint written at the interrupt is the step training stopped at
    assert Path(tf.train.latest_checkpoint(str(run))).name == f"ckpt-{info['step']}"
    assert f"interrupted at step {info['step']}/400" in out and "--resume" in out
    assert not list(run.glob("*_temp*"))  # a checkpoint cut by the kill is not reused
