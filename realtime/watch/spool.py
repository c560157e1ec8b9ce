"""The durable delivery spool: one row per (event phase, notifier), in SQLite.

Why SQLite (stdlib ``sqlite3``) rather than one file per delivery: each state change
(attempt counted, next retry time, done) is one atomic, fsynced transaction; "which
deliveries are due now" is one indexed query instead of a directory scan; and the
primary key ``event_id:phase:notifier`` makes enqueueing idempotent, so replaying the
event log after a crash can never queue a delivery twice.

Exactly once: a delivery is marked done in the same process right after the notifier
returns. A crash between a receiver accepting a webhook and that commit re-sends it
once on restart with the same ``Idempotency-Key`` (the delivery key), which receivers
use to drop the repeat; commands get it as ``LOOKOUT_DELIVERY_KEY``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    key        TEXT PRIMARY KEY,          -- event_id:phase:notifier, the idempotency key
                                          -- (phase of an update: update@<logged_at>)
    event_id   TEXT NOT NULL,
    phase      TEXT NOT NULL,
    notifier   TEXT NOT NULL,
    record     TEXT NOT NULL,             -- the event record (JSON) as logged
    state      TEXT NOT NULL DEFAULT 'pending',  -- pending | done | failed
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    REAL NOT NULL,             -- unix time of the next attempt
    created_at REAL NOT NULL,
    done_at    REAL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at);
"""


@dataclass(frozen=True)
class Delivery:
    key: str
    event_id: str
    phase: str
    notifier: str
    record: dict
    attempts: int
    created_at: float


def delivery_key(event_id: str, phase: str, notifier: str) -> str:
    return f"{event_id}:{phase}:{notifier}"


def record_phase(record: dict) -> str:
    """The phase part of a record's key: ``new`` and ``end`` happen once per event,
    ``update`` (a better snapshot) may happen several times: ``update@<logged_at>``."""
    phase = record["phase"]
    return f"{phase}@{record.get('logged_at', '')}" if phase == "update" else phase


class Spool:
    """Thread-safe (one connection behind a lock); every write is its own transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a commit survives power loss
        self._db.executescript(SCHEMA)

    def enqueue(self, record: dict, notifiers: list[str], now: float | None = None) -> int:
        """Queue ``record`` for each notifier; already-known keys are left alone.

        Returns how many deliveries were new.
        """
        now = time.time() if now is None else now
        phase = record_phase(record)
        rows = [(delivery_key(record["id"], phase, n), record["id"], record["phase"], n,
                 json.dumps(record), now, now) for n in notifiers]
        with self._lock, self._db:
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO deliveries (key, event_id, phase, notifier, record, "
                "next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            return self._db.total_changes - before

    def due(self, now: float | None = None, limit: int = 50) -> list[Delivery]:
        """Pending deliveries whose retry time has come, oldest first."""
        now = time.time() if now is None else now
        with self._lock:
            rows = self._db.execute(
                "SELECT key, event_id, phase, notifier, record, attempts, created_at "
                "FROM deliveries WHERE state = 'pending' AND next_at <= ? "
                "ORDER BY created_at, key LIMIT ?", (now, limit)).fetchall()
        return [Delivery(k, e, p, n, json.loads(r), a, c) for k, e, p, n, r, a, c in rows]

    def next_due_at(self) -> float | None:
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(next_at) FROM deliveries WHERE state = 'pending'").fetchone()
        return row[0]

    def mark_done(self, key: str, now: float | None = None) -> None:
        self._set(key, "UPDATE deliveries SET state = 'done', done_at = ?, "
                       "attempts = attempts + 1, last_error = NULL WHERE key = ?",
                  (time.time() if now is None else now, key))

    def mark_retry(self, key: str, error: str, next_at: float) -> None:
        self._set(key, "UPDATE deliveries SET attempts = attempts + 1, next_at = ?, "
                       "last_error = ? WHERE key = ?", (next_at, error[:500], key))

    def mark_failed(self, key: str, error: str) -> None:
        self._set(key, "UPDATE deliveries SET state = 'failed', attempts = attempts + 1, "
                       "last_error = ? WHERE key = ?", (error[:500], key))

    def _set(self, key: str, sql: str, args: tuple) -> None:
        with self._lock, self._db:
            self._db.execute(sql, args)

    def counts(self) -> dict[str, int]:
        """``{"pending": n, "done": n, "failed": n}``."""
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
            out = {"pending": 0, "done": 0, "failed": 0}
            out.update(dict(rows.fetchall()))
        return out

    def prune(self, older_than_s: float, now: float | None = None) -> int:
        """Forget done deliveries older than ``older_than_s`` (bounded size on long runs)."""
        cutoff = (time.time() if now is None else now) - older_than_s
        with self._lock, self._db:
            cur = self._db.execute(
                "DELETE FROM deliveries WHERE state = 'done' AND done_at < ?", (cutoff,))
            return cur.rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()


def read_deliveries(path: str | Path, event_id: str) -> list[dict]:
    """Each notifier's delivery of ``event_id`` as a reader sees it (the page): a read-only
    connection, so a reader never takes the writer's lock nor creates a spool.

    Returns ``[{notifier, phase, state, attempts, last_error, created_at, done_at}]``
    oldest first; ``[]`` when there is no spool (a run without notifiers).
    """
    path = Path(path)
    if not path.is_file():
        return []
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    try:
        rows = db.execute(
            "SELECT notifier, phase, state, attempts, last_error, created_at, done_at "
            "FROM deliveries WHERE event_id = ? ORDER BY created_at, key", (event_id,))
        names = [c[0] for c in rows.description]
        return [dict(zip(names, row, strict=True)) for row in rows.fetchall()]
    except sqlite3.OperationalError:  # no table yet (a spool being created)
        return []
    finally:
        db.close()
