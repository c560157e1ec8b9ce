"""The review folder: a person's verdict on an event, as files labelImg and training read.

One review is three files named after the event (``NAME`` = the event id, or
``EVENTID-fNNNNNN`` for a frame picked from its clip):

- ``NAME.jpg``: the frame, byte for byte the event's clean snapshot (no boxes drawn);
- ``NAME.xml``: labelImg Pascal VOC of the boxes the person kept, fixed or drew
  (`realtime.review.voc.voc_xml`, ``verified="yes"``: a person checked it). A wrong
  alert with no box left is an image with no objects: a negative example;
- ``NAME.review.json``: what only lookout needs: the verdict (``right`` | ``wrong`` |
  ``missed``), the event (id, camera, label, score, alert box, source and its start/end
  in source seconds, which `watch --replay` matches on) and the SHA-1 of the XML
  as lookout wrote it, so a later edit in labelImg is seen (``edited``).

Each file is written atomically, image first and sidecar last. The folder is a VOC
dataset as it stands (`lookout dataset check DIR`); the sidecars are JSON, which the VOC
reader never opens. A person's XML is never replaced unless the caller shows it knows
what it replaces: ``version`` (the XML's SHA-1 it loaded) or ``overwrite=True``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from core.errors import UserError
from core.fileio import atomic_write_bytes, atomic_write_json
from realtime.review.voc import VocObject, labelimg_box, read_objects, voc_xml

VERDICTS = ("right", "wrong", "missed")  # missed: a frame added for an object the model missed
SIDECAR = ".review.json"
FORMAT = 1  # "lookout_review" in the sidecar
_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class ReviewError(UserError):
    """A review request that cannot be saved as asked (bad verdict, box, event)."""


class EventNotFound(ReviewError):
    """The event (or its clean snapshot) is not in the events folder."""


class ReviewConflict(ReviewError):
    """The XML on disk is not the one the caller saw; ``current`` is its version now."""

    def __init__(self, message: str, current: str) -> None:
        super().__init__(message)
        self.current = current


@dataclass(frozen=True)
class ReviewBox:
    """One box in pixels of the review's image."""

    label: str
    box: tuple[float, float, float, float]  # x1, y1, x2, y2

    def as_dict(self) -> dict:
        return {"label": self.label, "box": [round(v, 1) for v in self.box]}


@dataclass
class Review:
    """One review as it is on disk now (boxes read from the XML, which a person may edit)."""

    name: str
    image: Path
    xml: Path
    boxes: list[ReviewBox]
    version: str  # SHA-1 of the XML bytes: what `save(version=...)` must match
    verdict: str | None = None  # None: an XML lookout did not write (hand-labelled)
    event: str | None = None
    camera: str = ""
    label: str = ""  # what the alert said
    score: float = 0.0
    alert_box: list[float] = field(default_factory=list)
    frame: int | None = None
    source: str = ""  # what the camera read (a URL, a file), as the event log says
    start: float | None = None  # the event in source seconds
    end: float | None = None
    reviewed_at: str = ""
    edited: bool = False  # the XML changed after lookout wrote it

    @property
    def negative(self) -> bool:
        """An image with no objects: the model should find nothing here."""
        return not self.boxes

    def as_dict(self) -> dict:
        """The JSON of ``GET /api/reviews`` (paths relative to the review folder)."""
        return {"name": self.name, "event": self.event, "verdict": self.verdict,
                "camera": self.camera, "label": self.label, "score": self.score,
                "alert_box": self.alert_box, "frame": self.frame, "source": self.source,
                "start": self.start, "end": self.end,
                "boxes": [b.as_dict() for b in self.boxes], "negative": self.negative,
                "image": self.image.name, "xml": self.xml.name, "version": self.version,
                "edited": self.edited, "reviewed_at": self.reviewed_at}


def parse_request(body: object) -> tuple[str, list[ReviewBox], str | None, bool]:
    """``POST /api/events/{id}/review``'s JSON → ``(verdict, boxes, version, overwrite)``.

    ``{"verdict": "right"|"wrong"|"missed", "boxes": [{"label": str, "box": [x1, y1, x2,
    y2]}], "version": str (optional), "overwrite": bool (optional)}``.

    Raises:
        ReviewError: one line naming the bad field.
    """
    if not isinstance(body, dict):
        raise ReviewError("review: expected a JSON object")
    unknown = sorted(set(body) - {"verdict", "boxes", "version", "overwrite"})
    if unknown:
        raise ReviewError(f"review: unknown field {unknown[0]!r}")
    verdict = body.get("verdict")
    boxes = body.get("boxes", [])
    if not isinstance(boxes, list):
        raise ReviewError("review: boxes must be a list")
    parsed = []
    for i, item in enumerate(boxes):
        box = item.get("box") if isinstance(item, dict) else None
        label = item.get("label") if isinstance(item, dict) else None
        if not isinstance(label, str) or not label.strip():
            raise ReviewError(f"review: boxes[{i}].label must be a non-empty string")
        if (not isinstance(box, list) or len(box) != 4
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in box)):
            raise ReviewError(f"review: boxes[{i}].box must be [x1, y1, x2, y2] in pixels")
        parsed.append(ReviewBox(label.strip(), tuple(float(v) for v in box)))
    version = body.get("version")
    if version is not None and not isinstance(version, str):
        raise ReviewError("review: version must be a string")
    overwrite = body.get("overwrite", False)
    if not isinstance(overwrite, bool):
        raise ReviewError("review: overwrite must be true or false")
    return _verdict(verdict), parsed, version, overwrite


def _verdict(verdict: object) -> str:
    if verdict not in VERDICTS:
        raise ReviewError(f"review: verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    return verdict  # type: ignore[return-value]


def version_of(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


class ReviewStore:
    """The review folder of one events folder.

    Args:
        events_dir: the events folder `watch` writes (``events.jsonl``, ``snapshots/``).
        review_dir: ``[review] dir`` ("" or None = ``EVENTS_DIR/review``).
    """

    def __init__(self, events_dir: str | Path, review_dir: str | Path | None = None) -> None:
        self.events_dir = Path(events_dir)
        self.dir = Path(review_dir) if review_dir else self.events_dir / "review"
        self._lock = threading.Lock()  # one version check + write at a time per process

    def save(self, event_id: str, verdict: str, boxes: list[ReviewBox], *,
             version: str | None = None, overwrite: bool = False, frame: int | None = None,
             image: bytes | None = None, labels: set[str] | None = None) -> Review:
        """Write (or replace) the review of ``event_id``.

        Args:
            boxes: what the frame really shows, in its pixels; [] = nothing (a negative
                example). Boxes reaching past the image are clipped to it.
            version: the XML's version the caller saw (`Review.version`); an existing XML
                is replaced only when it still has this version (or with ``overwrite``).
            frame: a frame of the event's clip instead of its snapshot; ``image`` then
                holds that frame as JPEG bytes (the caller reads it from the clip).
            labels: the labels the model knows; others are refused (None = any).

        Raises:
            EventNotFound: no such event or no clean snapshot of it.
            ReviewConflict: an XML is there with another version (a person's work).
            ReviewError: a bad verdict, label or box.
        """
        verdict = _verdict(verdict)
        if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
            raise EventNotFound(f"review: {event_id!r} is not an event id")
        event = self._event(event_id)
        if frame is None:
            data = self._snapshot(event)
        elif image is None:
            raise ReviewError("review: a clip frame needs its JPEG bytes (image=)")
        else:
            data = image
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if pixels is None:
            raise ReviewError(f"review: the frame of event {event_id} is not a readable image")
        height, width = pixels.shape[:2]
        objects = [self._object(i, b, width, height, labels) for i, b in enumerate(boxes)]
        name = event_id if frame is None else f"{event_id}-f{int(frame):06d}"
        with self._lock:
            self.dir.mkdir(parents=True, exist_ok=True)
            jpg, xml = self.dir / f"{name}.jpg", self.dir / f"{name}.xml"
            if xml.exists() and not overwrite:
                current = version_of(xml.read_bytes())
                if version != current:
                    raise ReviewConflict(
                        f"{xml}: already reviewed (version {current[:12]}); it may hold a "
                        "person's labels: send its version, or overwrite, to replace it", current)
            text = voc_xml(jpg, width, height, 3, objects, verified=True).encode("utf-8")
            atomic_write_bytes(jpg, data, fsync=True)
            atomic_write_bytes(xml, text, fsync=True)
            atomic_write_json(self.dir / f"{name}{SIDECAR}", {
                "lookout_review": FORMAT, "verdict": verdict, "event": event_id,
                "camera": event.get("camera", ""), "label": event.get("label", ""),
                "score": event.get("score", 0.0), "alert_box": event.get("box", []),
                "frame": frame, "source": event.get("source", ""),
                "start": event.get("start"), "end": event.get("end"),
                "xml_sha1": version_of(text),
                "reviewed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }, indent=2)
        review = self.get(name)
        assert review is not None
        return review

    def list(self) -> list[Review]:
        """Every review (an image with its XML) in the folder, by name (= by time)."""
        if not self.dir.is_dir():
            return []
        found = []
        for xml in sorted(self.dir.glob("*.xml")):
            review = self.get(xml.stem)
            if review is not None:
                found.append(review)
        return found

    def get(self, name: str) -> Review | None:
        """The review called ``name``; None when its image or XML is missing or unreadable."""
        if not _EVENT_ID.fullmatch(name):
            return None
        xml, jpg = self.dir / f"{name}.xml", self.dir / f"{name}.jpg"
        if not (xml.is_file() and jpg.is_file()):
            return None
        data = xml.read_bytes()
        try:
            objects = read_objects(data)
        except ValueError:
            return None  # a person's broken file: `lookout dataset check` names its problem
        boxes = [ReviewBox(o.label, (o.xmin, o.ymin, o.xmax, o.ymax)) for o in objects]
        review = Review(name, jpg, xml, boxes, version_of(data))
        meta = _read_json(self.dir / f"{name}{SIDECAR}")
        if meta.get("lookout_review") == FORMAT and meta.get("verdict") in VERDICTS:
            review.verdict = meta["verdict"]
            review.event = meta.get("event")
            review.camera = str(meta.get("camera", ""))
            review.label = str(meta.get("label", ""))
            review.score = float(meta.get("score") or 0.0)
            review.alert_box = list(meta.get("alert_box") or [])
            review.frame = meta.get("frame")
            review.source = str(meta.get("source") or "")
            review.start, review.end = _seconds(meta.get("start")), _seconds(meta.get("end"))
            review.reviewed_at = str(meta.get("reviewed_at", ""))
            review.edited = meta.get("xml_sha1") != review.version
        return review

    # ------------------------------------------------------------------ the events folder

    def _event(self, event_id: str) -> dict:
        """The latest logged phase of ``event_id`` (the end phase has the best snapshot)."""
        from realtime.watch.events import read_events

        found = None
        for record in read_events(self.events_dir / "events.jsonl"):
            if record.get("id") == event_id:
                found = record
        if found is None:
            raise EventNotFound(f"review: no event {event_id} in {self.events_dir / 'events.jsonl'}")
        return found

    def _snapshot(self, event: dict) -> bytes:
        rel = event.get("snapshot_clean")
        root = self.events_dir.resolve()
        path = (root / rel).resolve() if rel else None
        if path is None or not path.is_relative_to(root) or not path.is_file():
            raise EventNotFound(f"review: event {event.get('id')} has no clean snapshot "
                                f"in {self.events_dir} (pruned?)")
        return path.read_bytes()

    @staticmethod
    def _object(i: int, b: ReviewBox, width: int, height: int,
                labels: set[str] | None) -> VocObject:
        if labels is not None and b.label not in labels:
            raise ReviewError(f"review: boxes[{i}].label {b.label!r} is not one of the model's "
                              f"labels ({', '.join(sorted(labels))})")
        x1, y1, x2, y2 = b.box
        if not all(math.isfinite(v) for v in b.box) or x2 <= x1 or y2 <= y1:
            raise ReviewError(f"review: boxes[{i}].box {list(b.box)} needs x1 < x2 and y1 < y2")
        x1, y1, x2, y2 = max(x1, 0.0), max(y1, 0.0), min(x2, float(width)), min(y2, float(height))
        obj = VocObject(b.label, x1, y1, x2, y2)
        xmin, ymin, xmax, ymax = labelimg_box(obj, width, height)
        if xmax <= xmin or ymax <= ymin:
            raise ReviewError(f"review: boxes[{i}].box {list(b.box)} lies outside the "
                              f"{width}x{height} frame")
        return obj


def _seconds(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_review(events_dir: str | Path, event_id: str, verdict: str, boxes: list[ReviewBox],
                review_dir: str | Path | None = None, **options) -> Review:
    """`ReviewStore.save` for one call (``options``: version, overwrite, frame, image, labels)."""
    return ReviewStore(events_dir, review_dir).save(event_id, verdict, boxes, **options)


def list_reviews(events_dir: str | Path, review_dir: str | Path | None = None) -> list[Review]:
    """`ReviewStore.list` for one call."""
    return ReviewStore(events_dir, review_dir).list()
