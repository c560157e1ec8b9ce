"""Multi-worker training roles, from ``TF_CONFIG``: who is the chief, where the others write.

With ``--strategy multi_worker_mirrored`` every worker runs the same ``lookout train``
with its own ``TF_CONFIG`` (the cluster's workers and this one's index). All of them must
save checkpoints (saving reads distributed variables, which synchronizes every worker),
but only the chief's belong in the run folder: as TensorFlow and Model Garden recommend,
the other workers write to a temporary folder that is removed at the end. On ``--resume``
a worker restores from the chief's checkpoint in the (shared) run folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import UserError

MULTI_WORKER = "multi_worker_mirrored"


def tf_config() -> dict:
    """``TF_CONFIG`` parsed (``{}`` when unset); a `UserError` when it is not JSON."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UserError(f"TF_CONFIG is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise UserError("TF_CONFIG must be a JSON object with 'cluster' and 'task'")
    return value


def is_chief(strategy: str) -> bool:
    """True unless this is a multi-worker run and this process is not its chief: the task
    of type ``chief``, or worker 0 when the cluster names no chief (TensorFlow's rule)."""
    if strategy != MULTI_WORKER:
        return True
    config = tf_config()
    task = config.get("task") or {}
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    if "chief" in (config.get("cluster") or {}):
        return kind == "chief"
    return kind == "worker" and index == 0


def check_multi_worker(strategy: str) -> None:
    """A multi-worker run needs ``TF_CONFIG`` naming this task; say so in one line."""
    if strategy != MULTI_WORKER:
        return
    config = tf_config()
    if not config.get("cluster") or not config.get("task"):
        raise UserError("--strategy multi_worker_mirrored needs TF_CONFIG, e.g. "
                        '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                        '"task": {"type": "worker", "index": 0}} (see README "Scale")')


@dataclass
class WorkDir:
    """Where this process writes (``path``) and the temporary folders to remove at the end."""

    path: Path
    scratch: list[Path] = field(default_factory=list)


@contextmanager
def work_dir(run_dir: Path, chief: bool) -> Iterator[WorkDir]:
    """The folder this process gives Model Garden: the run folder on the chief, a
    temporary one on any other worker; temporary folders are removed on exit."""
    work = WorkDir(run_dir) if chief else WorkDir(Path(tempfile.mkdtemp(prefix="lookout-worker-")))
    if not chief:
        work.scratch.append(work.path)
    try:
        yield work
    finally:
        for folder in work.scratch:
            shutil.rmtree(folder, ignore_errors=True)


def follow_chief(runner, run_dir: Path, resume: bool, work: WorkDir) -> None:
    """On a non-chief worker: restore the chief's latest checkpoint when resuming (Model
    Garden points a worker's checkpoint manager at a fresh temporary folder, where there is
    nothing to resume), and have that folder removed with the others."""
    import tensorflow as tf

    if resume:
        latest = tf.train.latest_checkpoint(str(run_dir))
        if latest is None:
            raise UserError(f"{run_dir}: the chief's run folder has no checkpoint to resume")
        runner.trainer.checkpoint.restore(latest).expect_partial()
    if runner.checkpoint_manager is not None:
        work.scratch.append(Path(runner.checkpoint_manager.directory))
