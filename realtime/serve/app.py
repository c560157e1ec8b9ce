"""The page over an events folder: HTML pages, a small JSON API, files and live tiles.

Starlette (the ASGI toolkit FastAPI is built on, without pydantic: a small install on a
Raspberry Pi) routes requests; Jinja2 renders the pages on the server; a few hundred
lines of plain JS (static/app.js) poll for new events and refresh camera tiles. The page
only reads: the events log through `EventIndex`, the spool through `read_deliveries`,
files through `safe_file`. `security.Guard` wraps every route.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from realtime.serve import security
from realtime.serve.config import ServeConfig
from realtime.serve.live import LiveSource, Tiles
from realtime.serve.review import ReviewSide
from realtime.serve.review import routes as review_routes
from realtime.serve.views import EventFilter, choices, event_json, paging, select
from realtime.watch.events import EventIndex
from realtime.watch.spool import read_deliveries

HERE = Path(__file__).parent


@dataclass
class Page:
    """What every route reads: the events folder, its reader, the settings, live tiles."""

    root: Path
    cfg: ServeConfig
    policy: security.Policy
    live: LiveSource | None = None
    review: ReviewSide | None = None  # None: EVENTS_DIR/review, labels seen, no retrain
    index: EventIndex = field(init=False)
    tiles: Tiles | None = field(init=False)
    _choices: tuple[int, dict] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.index = EventIndex(self.root / "events.jsonl")
        self.tiles = Tiles(self.live, self.cfg.live_fps) if self.live is not None else None
        if self.review is None:
            from realtime.review.store import ReviewStore

            self.review = ReviewSide(ReviewStore(self.root))

    def events(self) -> list[dict]:
        self.index.refresh()
        return self.index.events()

    def choices(self) -> dict[str, list[str]]:
        """The filter menus' cameras and labels, recomputed only when the log grew."""
        cached = self._choices
        if cached is None or cached[0] != self.index.revision:
            cached = self._choices = (self.index.revision, choices(self.index.events()))
        return cached[1]


def create_app(page: Page) -> Starlette:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    templates = Jinja2Templates(env=env)

    def render(request: Request, name: str, status: int = 200, **context) -> Response:
        context.update(request=request, csrf=request.scope["state"]["csrf"],
                       login=page.policy.password is not None, live=page.live is not None,
                       poll_ms=int(page.cfg.poll_s * 1000),
                       tile_ms=int(1000 / page.cfg.live_fps))
        return templates.TemplateResponse(request, name, context, status_code=status)

    def list_context(request: Request) -> dict:
        flt = EventFilter.from_query(request.query_params)
        offset, limit = paging(request.query_params)
        rows, total = select(page.events(), flt, offset, limit)
        return {"events": [event_json(r, page.root) for r in rows], "total": total,
                "offset": offset, "limit": limit, "filter": flt,
                "revision": page.index.revision}

    def events_page(request: Request) -> Response:
        return render(request, "events.html", **list_context(request), choices=page.choices())

    def events_rows(request: Request) -> Response:
        ctx = list_context(request)
        response = render(request, "_rows.html", **ctx)
        response.headers["x-revision"] = str(ctx["revision"])
        return response

    def event_page(request: Request) -> Response:
        record = _record(page, request.path_params["event_id"])
        if record is None:
            return render(request, "missing.html", status=404)
        return render(request, "event.html", event=event_json(record, page.root),
                      deliveries=read_deliveries(page.root / "spool.sqlite", record["id"]),
                      labels=page.review.labels(page.choices()["labels"]),
                      retrain=page.review.retrainer is not None)

    def reviews_page(request: Request) -> Response:
        return render(request, "reviews.html", reviews=page.review.store.list(),
                      folder=page.review.store.dir, model=page.review.model,
                      retrain=page.review.retrainer is not None)

    def cameras_page(request: Request) -> Response:
        return render(request, "cameras.html", cameras=_cameras(page), model=_model(page))

    def live_jpeg(request: Request) -> Response:
        data = page.tiles.jpeg(request.path_params["camera"]) if page.tiles else None
        if data is None:
            return PlainTextResponse("no picture", status_code=404)
        return Response(data, media_type="image/jpeg", headers={"cache-control": "no-store"})

    def files(request: Request) -> Response:
        path = security.safe_file(page.root, request.path_params["path"])
        if path is None:
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(path, headers={"cache-control": "private, max-age=60"})

    def api_events(request: Request) -> Response:
        ctx = list_context(request)
        return JSONResponse({"events": ctx["events"], "total": ctx["total"],
                             "offset": ctx["offset"], "limit": ctx["limit"],
                             "revision": ctx["revision"]})

    def api_event(request: Request) -> Response:
        record = _record(page, request.path_params["event_id"])
        if record is None:
            return JSONResponse({"error": "no such event"}, status_code=404)
        return JSONResponse({**event_json(record, page.root),
                             "deliveries": read_deliveries(page.root / "spool.sqlite",
                                                           record["id"])})

    def api_cameras(request: Request) -> Response:
        live = {"model": _model(page)} if page.live is not None else {}  # inside watch
        return JSONResponse({"live": page.live is not None, **live, "cameras": _cameras(page)})

    async def login(request: Request) -> Response:
        if page.policy.password is None:
            return RedirectResponse("/", status_code=303)
        if request.method == "GET":
            return render(request, "login.html",
                          next=security.safe_next(request.query_params.get("next")))
        form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
        target = security.safe_next(form.get("next", ["/"])[0])
        client = request.client.host if request.client else "?"
        if not page.policy.limiter.allowed(client):
            return render(request, "login.html", status=429, next=target,
                          error="Too many attempts: wait a minute.")
        if not page.policy.password.check(form.get("password", [""])[0]):
            page.policy.limiter.failed(client)
            return render(request, "login.html", status=401, next=target,
                          error="Wrong password.")
        token = page.policy.sessions.create()
        response = RedirectResponse(target, status_code=303)
        response.headers.append("set-cookie", security.cookie(
            security.SESSION_COOKIE, token, max_age=page.cfg.session_hours * 3600,
            secure=request.url.scheme == "https"))
        return response

    def logout(request: Request) -> Response:
        page.policy.sessions.drop(request.cookies.get(security.SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.headers.append("set-cookie", security.cookie(security.SESSION_COOKIE, "",
                                                              max_age=0))
        return response

    def home(request: Request) -> Response:
        return RedirectResponse("/events", status_code=307)

    routes = [
        Route("/", home),
        Route("/events", events_page),
        Route("/events/{event_id}", event_page),
        Route("/fragments/events", events_rows),
        Route("/cameras", cameras_page),
        Route("/reviews", reviews_page),
        Route("/live/{camera}.jpg", live_jpeg),
        Route("/files/{path:path}", files),
        Route("/api/events", api_events),
        Route("/api/events/{event_id}", api_event),
        Route("/api/cameras", api_cameras),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        *review_routes(page),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(security.Guard, policy=page.policy)
    app.state.page = page
    return app


def _record(page: Page, event_id: str) -> dict | None:
    page.index.refresh()
    return page.index.get(event_id)


def _model(page: Page) -> str:
    """Which model the watch behind the page runs now ('' without one)."""
    model = getattr(page.live, "model", None)  # a LiveSource of an older shape has none
    return model() if callable(model) else ""


def _cameras(page: Page) -> list[dict]:
    """The live cameras with their health; without a watch, the cameras seen in events."""
    if page.live is not None:
        return page.live.cameras()
    page.events()
    names = page.choices()["cameras"]
    return [{"name": n, "state": "not watched", "up": None} for n in names]
