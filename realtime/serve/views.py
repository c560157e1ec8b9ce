"""What the page and the API show of an event: filters, paging and one JSON shape.

The records come from `realtime.watch.events.EventIndex` (the events log's reader) and
`realtime.watch.spool.read_deliveries` (the spool's); this module only picks fields and
adds URLs, so the page, the fragments and the API cannot drift apart.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PAGE_SIZE = 50
MAX_PAGE = 500


def local_time(iso: str | None) -> datetime | None:
    """An event's UTC ``started_at`` in the server's local time (a Pi is in the house)."""
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return None


def utc_bounds(day: str) -> tuple[str, str]:
    """The ``started_at`` strings of a local day's first and next day's first instant:
    ``started_at`` is UTC ISO text, so a day is a string range (no parsing per event)."""
    midnight = datetime.strptime(day, "%Y-%m-%d")  # naive: local time (DST days too)
    return tuple(t.astimezone().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
                 for t in (midnight, midnight + timedelta(days=1)))


@dataclass(frozen=True)
class EventFilter:
    """``camera``, ``label`` and ``day`` (YYYY-MM-DD, local time); '' matches all."""

    camera: str = ""
    label: str = ""
    day: str = ""
    bounds: tuple[str, str] = field(default=("", ""), compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.day:
            object.__setattr__(self, "bounds", utc_bounds(self.day))

    @classmethod
    def from_query(cls, params) -> EventFilter:
        day = params.get("day", "").strip()
        return cls(params.get("camera", "").strip(), params.get("label", "").strip(),
                   day if DAY.match(day) else "")

    def match(self, record: dict) -> bool:
        if self.camera and record.get("camera", "") != self.camera:
            return False
        if self.label and record.get("label", "") != self.label:
            return False
        if self.day:
            return self.bounds[0] <= record.get("started_at", "") < self.bounds[1]
        return True

    def __bool__(self) -> bool:
        return bool(self.camera or self.label or self.day)

    def query(self, **more) -> str:
        """The URL query of this filter (plus ``more``), for links that keep it."""
        items = {"camera": self.camera, "label": self.label, "day": self.day, **more}
        return urllib.parse.urlencode({k: v for k, v in items.items() if v not in ("", None)})


def paging(params) -> tuple[int, int]:
    """``offset`` and ``limit`` from a query, clamped (bad numbers: the defaults)."""
    def number(name: str, default: int) -> int:
        try:
            return int(params.get(name, default))
        except ValueError:
            return default
    return max(0, number("offset", 0)), min(MAX_PAGE, max(1, number("limit", PAGE_SIZE)))


def select(events: list[dict], flt: EventFilter, offset: int, limit: int) -> tuple[list[dict], int]:
    """One page of the events matching ``flt`` (newest first) and how many match."""
    matching = [e for e in events if flt.match(e)] if flt else events
    return matching[offset: offset + limit], len(matching)


def choices(events: list[dict]) -> dict[str, list[str]]:
    """The cameras and labels seen, for the filter menus."""
    return {"cameras": sorted({e.get("camera", "") for e in events} - {""}),
            "labels": sorted({e.get("label", "") for e in events} - {""})}


def file_url(root: Path, relative: str | None) -> str | None:
    """``/files/<relative>`` when that file exists (pruned ones do not), else None. One
    `stat` per file in listings; serving it checks the path in full (`safe_file`)."""
    if not relative or not (root / relative).is_file():
        return None
    return "/files/" + urllib.parse.quote(relative)


def event_json(record: dict, root: Path) -> dict:
    """The API's shape of one event (also what the templates render)."""
    started = local_time(record.get("started_at"))
    duration = record.get("duration")
    return {
        "id": record["id"],
        "url": f"/events/{urllib.parse.quote(record['id'])}",
        "camera": record.get("camera", ""),
        "label": record.get("label", ""),
        "rule": record.get("rule", ""),
        "zone": record.get("zone", ""),
        "crossing": record.get("crossing", ""),
        "score": record.get("score"),
        "median_score": record.get("median_score"),
        "box": record.get("box", []),
        "frames_seen": record.get("frames_seen"),
        "started_at": record.get("started_at"),
        "started_local": started.strftime("%Y-%m-%d %H:%M:%S") if started else "",
        "start_s": record.get("start"),
        "end_s": record.get("end"),
        "duration_s": duration,
        "state": "ended" if record.get("phase") == "end" else "open",
        "end_reason": record.get("end_reason"),
        "phases": [{"phase": p, "logged_at": at} for p, at in record.get("phases", [])],
        "snapshot_url": file_url(root, record.get("snapshot")),
        "snapshot_clean_url": file_url(root, record.get("snapshot_clean")),
        "clip_url": file_url(root, record.get("clip")),
    }
