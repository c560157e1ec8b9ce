"""--strategy mirrored on two logical CPU devices (set before TensorFlow starts, hence a
subprocess), and running out of disk while checkpointing (a real write failure: the
file-size limit of the training process)."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf

from tests.training.runs import REPO, fruit_dataset, lookout

pytestmark = pytest.mark.slow

MIRRORED = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from training.config import TrainConfig
from training.train import train
cfg = TrainConfig(input_size=128, steps=2, batch=2, checkpoint_every=2, strategy="mirrored")
info = train(sys.argv[1], sys.argv[2], cfg, evaluate_at_end=False)
print("STEP", info.step)
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return fruit_dataset(tmp_path_factory.getbasetemp())


def test_mirrored_on_two_logical_cpus(tmp_path: Path, dataset: Path) -> None:
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", MIRRORED, str(dataset), str(run)], cwd=REPO,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "STEP 2" in proc.stdout
    info = json.loads((run / "run.json").read_text())
    assert info["replicas"] == 2 and info["train"]["strategy"] == "mirrored"
    assert tf.train.latest_checkpoint(str(run)).endswith("ckpt-2")


def _limit_file_size() -> None:
    """In the child: files may not grow past 1 MiB (a checkpoint is ~10 MB), and the
    kernel's SIGXFSZ becomes a plain EFBIG write error."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


def test_out_of_disk_while_checkpointing_is_one_line(tmp_path: Path, dataset: Path) -> None:
    run = tmp_path / "run"
    proc = lookout("train", str(dataset), "--out", str(run), "--steps", "2", "--batch", "2",
                   "--input-size", "128", "--checkpoint-every", "2", "--no-eval",
                   preexec_fn=_limit_file_size)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err[-3000:]
    assert "Traceback" not in err
    assert "out of disk space while writing the checkpoint at step 2 (no checkpoint yet)" in err
    assert "--resume" in err
    assert not list(run.glob("*_temp*"))  # the half-written checkpoint was removed
