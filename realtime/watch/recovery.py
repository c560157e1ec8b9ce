"""Startup recovery: make the spool agree with the event log after a crash.

The log is written (fsynced) before the spool, so a crash between the two can leave
a logged phase unspooled; a crash mid-visit leaves an event with ``new`` but no
``end``. `recover` appends the missing ``end`` records (reason ``interrupted``) and
re-spools every notified phase; the spool's keys make that idempotent, so deliveries
already done or pending are not queued again.
"""

from __future__ import annotations

import calendar
import logging
import time
from pathlib import Path

from realtime.watch.events import EventLog, read_events, utc_iso
from realtime.watch.spool import Spool

log = logging.getLogger("lookout.watch")
HORIZON_S = 30 * 86400.0  # replay this much of the log; the spool forgets done rows older


def recover(log_path: str | Path, spool: Spool, notifiers: list[str] | dict[str, frozenset[str]],
            phases: set[str] | None = None) -> int:
    """Close interrupted events and re-spool logged phases; returns deliveries queued.

    ``notifiers`` maps each notifier to its phases (`notifiers.routes`), or is a list of
    names that all take ``phases``.
    """
    routes = (notifiers if isinstance(notifiers, dict)
              else {n: frozenset(phases or ()) for n in notifiers})
    records = read_events(log_path)
    ended = {r["id"] for r in records if r.get("phase") == "end"}
    last: dict[str, dict] = {}
    for r in records:
        last[r["id"]] = r
    interrupted = [r for i, r in last.items() if i not in ended]
    if interrupted:
        event_log = EventLog(log_path)
        for r in interrupted:
            end = {**r, "phase": "end", "end_reason": "interrupted", "logged_at": utc_iso()}
            event_log.append(end)
            records.append(end)
        event_log.close()
        log.warning("%d event(s) were open when the last run stopped; ended as interrupted",
                    len(interrupted))
    cutoff = time.time() - HORIZON_S
    queued = 0
    for r in records:
        names = [n for n, wanted in routes.items() if r.get("phase") in wanted]
        if names and _logged_at(r) >= cutoff:
            queued += spool.enqueue(r, names)
    spool.prune(HORIZON_S)
    if queued:
        log.info("re-spooled %d delivery(ies) from %s", queued, log_path)
    return queued


def _logged_at(record: dict) -> float:
    try:
        return calendar.timegm(time.strptime(record["logged_at"][:19], "%Y-%m-%dT%H:%M:%S"))
    except (KeyError, ValueError):
        return time.time()
