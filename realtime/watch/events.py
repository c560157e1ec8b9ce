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
import threading
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
    zone: str = ""  # the rule's [[track.zones]] name ('' = anywhere)
    crossing: str = ""  # the rule's line and direction, 'door:in' ('' = none)

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
    lines = path.read_text(encoding="utf-8").splitlines()
    return [r for n, line in enumerate(lines, 1) if (r := _parse(path, n, line)) is not None]


def _parse(path: Path, number: int, line: str) -> dict | None:
    if not line.strip():
        return None
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        log.warning("%s:%d: skipping a torn event line", path, number)
        return None


class EventIndex:
    """A reader's view of a growing ``events.jsonl``: one merged record per event id.

    `refresh` reads only the lines appended since the last call (a line still being
    written, with no newline yet, waits for the next call), so a page polled every few
    seconds over 10,000 events costs a `stat` and the new lines. The merged record is the
    event's latest phase with ``phases`` (``[[phase, logged_at], ...]``) added. A log that
    shrank (replaced, rotated) is read again from the start. Thread-safe.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._offset = 0
        self._lines = 0
        self._by_id: dict[str, dict] = {}
        self._newest: list[dict] = []  # newest first; rebuilt when an id is added
        self.revision = 0  # grows with every record read (pollers compare it)

    def refresh(self) -> None:
        with self._lock:
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size < self._offset:
                self._offset, self._lines, self._by_id, self._newest = 0, 0, {}, []
            if size == self._offset:
                return
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read(size - self._offset)
            complete = data[: data.rfind(b"\n") + 1]
            self._offset += len(complete)
            added = False
            for line in complete.decode("utf-8", errors="replace").splitlines():
                self._lines += 1
                record = _parse(self.path, self._lines, line)
                if record is None or "id" not in record:
                    continue
                added |= self._merge(record)
                self.revision += 1
            if added:
                self._newest = sorted(self._by_id.values(), key=_newest_key, reverse=True)

    def _merge(self, record: dict) -> bool:
        old = self._by_id.get(record["id"])
        phases = [*(old["phases"] if old else []),
                  [record.get("phase", ""), record.get("logged_at", "")]]
        merged = {**(old or {}), **record, "phases": phases}
        if old is None:
            self._by_id[record["id"]] = merged
            return True
        old.clear()  # in place: `_newest` holds the same dict
        old.update(merged)
        return False

    def events(self) -> list[dict]:
        """Every event, newest start first (refresh first)."""
        with self._lock:
            return list(self._newest)

    def get(self, event_id: str) -> dict | None:
        with self._lock:
            return self._by_id.get(event_id)


def _newest_key(record: dict) -> tuple[str, str]:
    return (str(record.get("started_at", "")), str(record["id"]))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
