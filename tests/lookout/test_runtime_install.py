"""The runtime-only install (``pip install lookout``, no ``[full]``): a fresh virtualenv
without TensorFlow runs .tflite bundles (annotate, watch) and says which verbs need the
full install. Builds a real venv from the registry (pip's cache makes reruns quick)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.doorbell import write_doorbell_clip
from tests.fixtures.media import make_clip

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "core", "lookout", "realtime", "training")


def run(*cmd, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runtime")
    src = root / "src"  # a copy: building in the repo would leave build/ behind
    src.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, src / name)
    venv = root / "venv"
    made = run(sys.executable, "-m", "venv", venv, cwd=root)
    assert made.returncode == 0, made.stderr
    installed = run(venv / "bin" / "pip", "install", "--quiet", src, cwd=root, timeout=1200)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv


@pytest.mark.slow
def test_runtime_install_runs_tflite_bundles_without_tensorflow(runtime_venv, color_bundle,
                                                               tmp_path):
    bin_dir = runtime_venv / "bin"
    probe = run(bin_dir / "python", "-c", "import tensorflow", cwd=tmp_path)
    assert probe.returncode != 0 and "No module named 'tensorflow'" in probe.stderr

    clip = make_clip(tmp_path / "clip.mp4", n_frames=8, audio=False)
    done = run(bin_dir / "lookout", "annotate", color_bundle, clip, "--out", "out.mp4",
               "--jsonl", "out.jsonl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "model.tflite (LiteRT/XNNPACK" in done.stderr
    assert (tmp_path / "out.mp4").stat().st_size > 0
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 8

    doorbell = write_doorbell_clip(tmp_path / "doorbell.mp4", seconds=8.0)
    done = run(bin_dir / "lookout", "watch", color_bundle, "--source", doorbell, "--events",
               "events", "--alert", "red", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "detector: model.tflite" in done.stdout
    log = (tmp_path / "events" / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["label"] for line in log if json.loads(line)["phase"] == "new"]


@pytest.mark.slow
@pytest.mark.parametrize("args", [["train", "data", "--out", "runs/x"], ["eval", "runs/x"],
                                  ["export", "runs/x"]])
def test_training_verbs_say_they_need_the_full_install(runtime_venv, args, tmp_path):
    done = run(runtime_venv / "bin" / "lookout", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line
    assert f"lookout {args[0]} needs the full install" in done.stderr
    assert "pip install 'lookout[full]'" in done.stderr
