"""The camera name that events, MQTT topics, ntfy titles and payloads carry.

Every event records its ``camera`` (a ``[[cameras]]`` name, or one made from the source
by `camera_from_source`); for events logged before cameras had names, `camera_of`
derives it from the event's ``source``, in this one place.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import PurePath

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def slug(text: str) -> str:
    """A topic- and id-safe name: runs of anything but letters, digits, ``_`` and ``-``
    become one ``_`` (MQTT wildcards ``+``/``#`` and ``/`` can never appear)."""
    return _UNSAFE.sub("_", text).strip("_") or "unnamed"


def camera_from_source(source: str) -> str:
    """``front.mp4`` → ``front``; ``rtsp://user:pw@doorbell.local/s1`` → ``doorbell_local``
    (never the credentials); ``webcam:0`` → ``webcam0``."""
    if source.startswith("webcam:"):
        return slug("webcam" + source.split(":", 1)[1])
    parts = urllib.parse.urlsplit(source)
    if parts.scheme and parts.netloc and parts.hostname:
        return slug(parts.hostname)
    return slug(PurePath(source).stem or source)


def camera_of(record: dict) -> str:
    """The event's camera name, or one derived from its source."""
    name = record.get("camera")
    return slug(name) if name else camera_from_source(str(record.get("source", "")))
