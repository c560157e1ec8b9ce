"""Events and the durable event log (``events.jsonl``).

An event is one visit of one object under one rule. It goes through the phases
``new`` (confirmed), ``update`` (a better snapshot) and ``end`` (unseen for
``end_after_s``), all under one stable id. Every phase is one JSON line, appended and
fsynced before anything is notified, so the log is the record of truth that the
delivery spool is rebuilt from after a crash.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("lookout.watch")

PHASES = ("new", "update", "end")


def new_event_id(wall: float | None = None) -> str:
    """Sortable and unique across restarts: ``20261125T081500Z-3fa9c2``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if wall is None else wall))
    return f"{stamp}-{secrets.token_hex(3)}"


def utc_iso(wall: float | None = None) -> str:
    wall = time.time() if wall is None else wall
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall)) + f".{int(wall % 1 * 1000):03d}Z"


@dataclass
class Event:
    """One visit. Times are source seconds (``start``, ``end``) and UTC wall clock
    (``started_at``); paths are relative to the events folder."""

    id: str
    rule: str
    label: str
    source: str
    start: float
    start_frame: int
    started_at: str
    camera: str = ""  # the camera's name ([[cameras]] name, or one made from its source)
    score: float = 0.0
    median_score: float = 0.0
    box: list[float] = field(default_factory=list)
    frames_seen: int = 0
    snapshot: str | None = None
    snapshot_clean: str | None = None
    clip: str | None = None
    end: float | None = None
    end_frame: int | None = None
    end_reason: str | None = None  # "unseen" | "stopped"

    def record(self, phase: str) -> dict:
        """The JSON line for one phase."""
        assert phase in PHASES, phase
        data = dataclasses.asdict(self)
        data["score"] = round(self.score, 4)
        data["median_score"] = round(self.median_score, 4)
        data["box"] = [round(float(v), 1) for v in self.box]
        duration = None if self.end is None else round(self.end - self.start, 3)
        return {"phase": phase, **data, "duration": duration, "logged_at": utc_iso()}


class EventLog:
    """Append-only JSON lines, each one flushed and fsynced before `append` returns."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - lives with the log
        if created:  # make the new directory entry itself durable
            _fsync_dir(self.path.parent)

    def append(self, record: dict) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def read_events(path: str | Path) -> list[dict]:
    """All records of an ``events.jsonl``; a torn last line (a crash mid-write) is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("%s:%d: skipping a torn event line", path, number)
    return records


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
