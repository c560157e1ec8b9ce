"""The page's review side: verdicts and corrected boxes saved through the review store,
frames picked from an event's clip, and the retrain button's routes.

Every write goes through `realtime.review.store.ReviewStore` (labelImg bytes, atomic,
never replacing a person's XML unasked: a 409 carries what is on disk now, and the
page lets the person choose). POSTs pass `security.Guard` like every other: CSRF token
and, with a password, a session.

Routes:
- ``GET  /api/reviews``: every review of the folder (`Review.as_dict`).
- ``GET  /api/events/{id}/review[?frame=N]``: that event's (or clip frame's) review, 404
  when none yet.
- ``POST /api/events/{id}/review[?frame=N]``: ``{"verdict", "boxes", "version"?,
  "overwrite"?}`` (`parse_request`); ``frame``: a frame of the event's clip instead of
  its clean snapshot.
- ``GET  /api/events/{id}/frame?t=SECONDS``: which clip frame is at that video time;
  ``GET /api/events/{id}/frames/{n}.jpg``: that frame, the exact bytes a review saves.
- ``GET /api/retrain``, ``POST /api/retrain``, ``POST /api/retrain/stop``: the one
  background retrain (`realtime.serve.retrain.Retrainer`).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from realtime.review.store import (
    EventNotFound,
    ReviewConflict,
    ReviewError,
    ReviewStore,
    parse_request,
)
from realtime.serve.retrain import Retrainer
from realtime.serve.security import safe_file

JPEG_QUALITY = 95  # a clip frame becomes training data: keep what the clip has


@dataclass
class ReviewSide:
    """What the review routes need: the store, the model's labels, the retrainer.

    Args:
        store: the review folder of the page's events folder.
        model: the bundle the reviews are for (its labels; what the retrain button
            retrains); None: labels are those seen in events and reviews, no retrain.
        retrainer: runs `lookout retrain` in the background (None: no button).
    """

    store: ReviewStore
    model: Path | None = None
    retrainer: Retrainer | None = None
    _labels: list[str] | None = field(default=None, init=False)
    _clip_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def model_labels(self) -> list[str] | None:
        """The labels of ``model``'s label map (None without a readable one)."""
        if self._labels is None and self.model is not None:
            from realtime.labelmap import read_label_map

            path = self.model / "label_map.pbtxt" if self.model.is_dir() else None
            if path is not None and path.is_file():
                try:
                    self._labels = sorted(set(read_label_map(path).values()))
                except Exception:  # noqa: BLE001 - a broken map: fall back to seen labels
                    self._labels = None
        return self._labels

    def labels(self, seen: list[str]) -> list[str]:
        """What the page offers in its label menus: the model's, else every label seen."""
        known = self.model_labels()
        if known is not None:
            return known
        reviewed = {b.label for r in self.store.list() for b in r.boxes}
        return sorted(set(seen) | reviewed)

    def clip_frame(self, clip: Path, *, index: int | None = None,
                   seconds: float | None = None) -> tuple[int, bytes] | None:
        """Frame ``index`` (or the one shown at ``seconds``) of ``clip`` as JPEG bytes;
        None past its end. Decoding from the start gives the same pixels every time."""
        with self._clip_lock:  # one decoder at a time: a Pi has few cores
            capture = cv2.VideoCapture(str(clip))
            try:
                if index is None:
                    fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
                    index = max(0, int((seconds or 0.0) * fps + 1e-6)) if fps > 0 else 0
                frame = None
                for _ in range(index + 1):
                    ok, frame = capture.read()
                    if not ok:
                        return None
            finally:
                capture.release()
        ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        return (index, data.tobytes()) if ok else None


def routes(page) -> list:
    """The review routes of ``page`` (`realtime.serve.app.Page`, with ``page.review``)."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    side: ReviewSide = page.review

    def error(status: int, text: str, **more) -> Response:
        return JSONResponse({**more, "error": text}, status_code=status)  # status() has "error"

    def frame_of(request: Request) -> int | None | Response:
        raw = request.query_params.get("frame")
        if raw is None:
            return None
        if not raw.isdigit() or int(raw) > 10**6:
            return error(400, f"frame: expected a frame number, got {raw!r}")
        return int(raw)

    def clip_of(event_id: str) -> Path | None:
        page.index.refresh()
        record = page.index.get(event_id)
        return safe_file(page.root, record.get("clip") or "") if record else None

    def api_reviews(request: Request) -> Response:
        reviews = side.store.list()
        return JSONResponse({"dir": str(side.store.dir),
                             "reviews": [r.as_dict() for r in reviews]})

    def api_review_get(request: Request) -> Response:
        frame = frame_of(request)
        if isinstance(frame, Response):
            return frame
        event_id = request.path_params["event_id"]
        name = event_id if frame is None else f"{event_id}-f{frame:06d}"
        review = side.store.get(name)
        if review is None:
            return error(404, f"{name}: not reviewed yet")
        return JSONResponse(review.as_dict())

    async def api_review_post(request: Request) -> Response:
        frame = frame_of(request)
        if isinstance(frame, Response):
            return frame
        event_id = request.path_params["event_id"]
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return error(400, "review: the body is not JSON")
        try:
            verdict, boxes, version, overwrite = parse_request(body)
            image = None
            if frame is not None:
                clip = clip_of(event_id)
                found = side.clip_frame(clip, index=frame) if clip else None
                if found is None:
                    return error(404, f"review: event {event_id} has no clip frame {frame}")
                image = found[1]
            labels = side.model_labels()
            review = side.store.save(event_id, verdict, boxes, version=version,
                                     overwrite=overwrite, frame=frame, image=image,
                                     labels=set(labels) if labels is not None else None)
        except ReviewConflict as exc:
            name = event_id if frame is None else f"{event_id}-f{frame:06d}"
            current = side.store.get(name)
            return error(409, str(exc), version=exc.current,
                         current=current.as_dict() if current else None)
        except EventNotFound as exc:
            return error(404, str(exc))
        except ReviewError as exc:
            return error(400, str(exc))
        return JSONResponse(review.as_dict())

    def api_frame_at(request: Request) -> Response:
        event_id = request.path_params["event_id"]
        try:
            seconds = float(request.query_params.get("t", "0"))
        except ValueError:
            return error(400, "t: expected seconds into the clip")
        clip = clip_of(event_id)
        found = side.clip_frame(clip, seconds=max(0.0, seconds)) if clip else None
        if found is None:
            return error(404, f"event {event_id} has no clip frame at {seconds:.2f} s")
        index = found[0]
        return JSONResponse({"frame": index, "url": f"/api/events/{event_id}/frames/{index}.jpg"})

    def api_frame_jpeg(request: Request) -> Response:
        event_id, index = request.path_params["event_id"], request.path_params["index"]
        clip = clip_of(event_id)
        found = side.clip_frame(clip, index=index) if clip and index <= 10**6 else None
        if found is None:
            return error(404, f"event {event_id} has no clip frame {index}")
        return Response(found[1], media_type="image/jpeg",
                        headers={"cache-control": "private, max-age=3600"})

    def api_retrain_status(request: Request) -> Response:
        if side.retrainer is None:
            return JSONResponse({"available": False, "state": "off",
                                 "why": "start the page with a model (lookout serve --model "
                                        "BUNDLE, or watch --serve) to retrain it"})
        return JSONResponse(side.retrainer.status())

    def api_retrain_start(request: Request) -> Response:
        if side.retrainer is None:
            return error(404, "no model to retrain: start the page with --model BUNDLE")
        started, why = side.retrainer.start()
        if not started:
            return error(409, why, **side.retrainer.status())
        return JSONResponse(side.retrainer.status(), status_code=202)

    def api_retrain_stop(request: Request) -> Response:
        if side.retrainer is None or not side.retrainer.stop():
            return error(409, "no retrain is running")
        return JSONResponse(side.retrainer.status())

    return [
        Route("/api/reviews", api_reviews),
        Route("/api/events/{event_id}/review", api_review_get, methods=["GET"]),
        Route("/api/events/{event_id}/review", api_review_post, methods=["POST"]),
        Route("/api/events/{event_id}/frame", api_frame_at),
        Route("/api/events/{event_id}/frames/{index:int}.jpg", api_frame_jpeg),
        Route("/api/retrain", api_retrain_status, methods=["GET"]),
        Route("/api/retrain", api_retrain_start, methods=["POST"]),
        Route("/api/retrain/stop", api_retrain_stop, methods=["POST"]),
    ]
