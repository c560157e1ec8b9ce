"""--strategy multi_worker_mirrored for real: two `lookout train` processes on 127.0.0.1,
TF_CONFIG naming both, a dataset built with --shards 2. Only the chief writes in the run
folder; the other worker's temporary folders are gone at the end; --resume continues
from the chief's checkpoint on both."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import tensorflow as tf

from lookout.cli import main
from tests.fixtures import datasets
from tests.training.runs import lookout
from training.data import input_pattern, load_dataset

pytestmark = pytest.mark.slow

TINY = ("--batch", "2", "--input-size", "64", "--checkpoint-every", "2", "--no-eval")


@pytest.fixture(scope="module")
def sharded(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sharded") / "fruit"
    assert main(["dataset", "build", str(datasets.require("fruit-nuts")), "--out", str(out), "--shards", "2"]) == 0
    return out


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def train_two_workers(tmp: Path, *args: str) -> list[tuple[int, str, Path]]:
    """Start worker 0 (the chief) and worker 1, each with its own TMPDIR; wait for both.
    Returns ``(pid, stderr, tmpdir)`` per worker."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    procs = []
    for index in range(2):
        tmpdir = tmp / f"tmp{index}"
        tmpdir.mkdir(exist_ok=True)
        env = {"TF_CONFIG": json.dumps({"cluster": cluster,
                                        "task": {"type": "worker", "index": index}}),
               "TMPDIR": str(tmpdir), "CUDA_VISIBLE_DEVICES": ""}
        procs.append((lookout("train", *args, "--strategy", "multi_worker_mirrored", *TINY,
                              env=env), tmpdir))
    results = []
    try:
        for proc, tmpdir in procs:
            _, err = proc.communicate(timeout=800)
            assert proc.returncode == 0, err[-3000:]
            results.append((proc.pid, err, tmpdir))
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.kill()
    return results


def event_pids(run: Path) -> set[int]:
    """The process ids in the names of the run's TensorBoard event files
    (``events.out.tfevents.TIME.HOST.PID.N.v2``)."""
    return {int(p.name.split(".")[-3]) for p in run.rglob("events.out.tfevents.*")}


def test_shards_are_whole_files_per_worker(sharded: Path) -> None:
    train = load_dataset(sharded).splits["train"]
    assert [p.name for p in train] == ["train-00000-of-00002.record",
                                       "train-00001-of-00002.record"]
    assert input_pattern([str(p) for p in train]) == str(sharded / "train-*-of-00002.record")
    sizes = [sum(1 for _ in tf.data.TFRecordDataset(str(p))) for p in train]
    assert abs(sizes[0] - sizes[1]) <= 1 and sum(sizes) > 2  # dealt round-robin


def test_two_workers_train_and_resume(sharded: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    (chief, _, _), (worker, worker_err, worker_tmp) = train_two_workers(
        tmp_path, str(sharded), "--out", str(run), "--steps", "2")
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "done" and info["step"] == 2 and info["replicas"] == 2
    assert tf.train.latest_checkpoint(str(run)).endswith("ckpt-2")
    assert event_pids(run) == {chief}  # summaries: the chief's only
    assert not any(worker_tmp.iterdir())  # the worker's checkpoints and summaries: removed
    assert "Traceback" not in worker_err

    (chief, _, _), (worker, _, worker_tmp) = train_two_workers(
        tmp_path, "--out", str(run), "--resume", "--steps", "4")
    info = json.loads((run / "run.json").read_text())
    assert info["resumed_from"] == 2 and info["step"] == 4 and info["status"] == "done"
    assert tf.train.latest_checkpoint(str(run)).endswith("ckpt-4")
    assert worker not in event_pids(run) and chief in event_pids(run)
    assert not any(worker_tmp.iterdir())
