"""The page's retrain button: one `lookout retrain` at a time, in a child process.

Why a child process and not `training.retrain.retrain` in a thread: the page lives in
``realtime/`` (and inside a running ``watch``), which never imports ``training/``;
training would share the detector's process, memory and TensorFlow thread pools, and a
crash or out-of-memory in it would take the cameras down with it. A child runs at a lower
priority (nice 10) and, on a runtime install without TensorFlow's training parts, fails
with the CLI's own one line ("needs the full install"), which the page shows.

The child prints one JSON line per progress report (``lookout retrain --progress-json``)
and a last line with the result; `status` is what the page polls.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger("lookout.serve")
STOP_WAIT_S = 30.0  # after SIGTERM (training saves a checkpoint), then SIGKILL


class Retrainer:
    """Runs ``command`` (default: `retrain_command`) in the background, one run at a time.

    Args:
        command: the argv of one retrain; its stdout carries JSON lines
            (``{"task", "done", "total", "note"}`` and a last ``{"result": ...}``).
        cwd: where it runs (its default work folder ``runs/...`` is relative).
    """

    def __init__(self, command: list[str], cwd: str | Path | None = None) -> None:
        self.command, self.cwd = list(command), cwd
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._state = "idle"  # idle | running | stopping | done | failed | stopped
        self._tasks: dict[str, dict] = {}
        self._result: dict | None = None
        self._errors: collections.deque[str] = collections.deque(maxlen=5)
        self._started_at = self._ended_at = None
        self.runs = 0

    def start(self) -> tuple[bool, str]:
        """Start a run; (False, why) while one is running."""
        with self._lock:
            if self._state in ("running", "stopping"):
                return False, "a retrain is already running: one at a time"
            self._tasks, self._result = {}, None
            self._errors.clear()
            try:
                self._proc = subprocess.Popen(
                    self.command, cwd=self.cwd, stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
                    env={**os.environ, "COLUMNS": "200"})
            except OSError as exc:
                self._state = "failed"
                self._errors.append(f"could not start {self.command[0]}: {exc}")
                return False, self._errors[-1]
            _lower_priority(self._proc.pid)
            self._state, self._started_at, self._ended_at = "running", time.time(), None
            self.runs += 1
            proc = self._proc
        threading.Thread(target=self._read_errors, args=(proc,), daemon=True,
                         name="retrain-stderr").start()
        threading.Thread(target=self._follow, args=(proc,), daemon=True,
                         name="retrain").start()
        log.info("retrain started: %s", " ".join(self.command))
        return True, ""

    def stop(self) -> bool:
        """Ask the running retrain to end (SIGTERM: training saves and stops, nothing is
        promoted); False when none runs."""
        with self._lock:
            if self._state != "running" or self._proc is None:
                return False
            self._state = "stopping"
            self._proc.terminate()
            proc = self._proc

        def kill_later() -> None:
            try:
                proc.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
        threading.Thread(target=kill_later, daemon=True).start()
        return True

    def close(self) -> None:
        """Stop a running retrain and wait for it (the server is stopping)."""
        if self.stop() and self._proc is not None:
            try:
                self._proc.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()

    def status(self) -> dict:
        """What the page shows: state, one entry per progress task, the result or error."""
        with self._lock:
            return {"available": True, "state": self._state, "runs": self.runs,
                    "tasks": list(self._tasks.values()), "result": self._result,
                    "error": self._errors[-1] if self._state == "failed" and self._errors
                    else None,
                    "started_at": self._started_at, "ended_at": self._ended_at}

    def _follow(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            try:
                item = json.loads(line)
            except ValueError:
                continue  # the CLI's own words; the JSON lines are what count
            if not isinstance(item, dict):
                continue
            with self._lock:
                if "result" in item:
                    self._result = item["result"]
                elif "task" in item:
                    self._tasks[str(item["task"])] = {
                        k: item.get(k) for k in ("task", "done", "total", "note")}
        code = proc.wait()
        with self._lock:
            stopping = self._state == "stopping"
            if code == 0 and self._result is not None:
                self._state = "done"
            else:
                self._state = "stopped" if stopping else "failed"
                if not self._errors:
                    self._errors.append(f"lookout retrain ended with exit code {code}")
            self._ended_at = time.time()
        log.info("retrain %s", self._state)

    def _read_errors(self, proc: subprocess.Popen) -> None:
        for line in proc.stderr:  # keep the CLI's "error: ..." lines for the page
            text = line.strip()
            if text.startswith("error:"):
                with self._lock:
                    self._errors.append(text[len("error:"):].strip())


def retrain_command(bundle: str | Path, review_dir: str | Path,
                    config: str | Path | None = None) -> list[str]:
    """``lookout retrain BUNDLE --review DIR --progress-json`` with this interpreter."""
    argv = [sys.executable, "-m", "lookout"]
    if config:
        argv += ["--config", str(config)]
    return [*argv, "retrain", str(bundle), "--review", str(review_dir), "--progress-json"]


def _lower_priority(pid: int) -> None:
    """Nice the child, so the detector (and the page) keep the CPU first."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, 10)
    except (AttributeError, OSError):
        pass
