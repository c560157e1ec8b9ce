"""A .tflite model starts without TensorFlow: each verb runs in a fresh interpreter and
reports whether ``tensorflow`` ended up in ``sys.modules`` (issue 16: `import tensorflow`
alone takes ~5 s here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from tests.fixtures.doorbell import write_doorbell_clip
from tests.fixtures.media import make_clip
from tests.fixtures.models import make_blob_image

REPO = Path(__file__).resolve().parents[2]
# Runs the real CLI, then says whether TensorFlow was imported along the way.
WRAPPER = ("import sys\nfrom lookout.cli import main\ncode = main(sys.argv[1:])\n"
           "print('TF-LOADED' if 'tensorflow' in sys.modules else 'TF-FREE', file=sys.stderr)\n"
           "sys.exit(code)\n")


def run_verb(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # CUDA_VISIBLE_DEVICES=-1: the same answer on a GPU machine (auto = CPU = .tflite).
    env = {**os.environ, "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": "-1"}
    return subprocess.run([sys.executable, "-c", WRAPPER, *args], cwd=cwd, env=env, check=False,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("startup")
    photo = root / "photo.jpg"
    cv2.imwrite(str(photo), make_blob_image(120, 160, red=(10, 10, 60, 50))[..., ::-1])
    return {"photo": photo, "clip": make_clip(root / "clip.mp4", n_frames=6, audio=False),
            "doorbell": write_doorbell_clip(root / "doorbell.mp4", seconds=3.0)}


@pytest.mark.parametrize("verb", ["predict", "predict-tflite-file", "annotate", "live", "watch"])
def test_tflite_verbs_never_import_tensorflow(verb, color_bundle, media, tmp_path):
    bundle = str(color_bundle)
    args = {
        "predict": ["predict", bundle, str(media["photo"]), "--out", "pred"],
        "predict-tflite-file": ["predict", str(color_bundle / "model.tflite"),
                                str(media["photo"]), "--out", "pred"],
        "annotate": ["annotate", bundle, str(media["clip"]), "--out", "out.mp4"],
        "live": ["live", bundle, "--source", str(media["clip"]), "--no-window",
                 "--jsonl", "live.jsonl"],
        "watch": ["watch", bundle, "--source", str(media["doorbell"]), "--events", "events",
                  "--alert", "red"],
    }[verb]
    done = run_verb(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "TF-FREE" in done.stderr, f"{verb} imported TensorFlow"
    assert "model.tflite (LiteRT/XNNPACK" in done.stdout + done.stderr  # says which file ran


def test_the_savedmodel_does_import_it(color_bundle, media, tmp_path):
    """The probe can fail: the same command on the SavedModel loads TensorFlow."""
    done = run_verb("predict", str(color_bundle), str(media["photo"]), "--out", "pred",
                    "--bundle-format", "saved_model", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "TF-LOADED" in done.stderr
    assert "saved_model (TensorFlow" in done.stdout + done.stderr
