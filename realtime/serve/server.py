"""`PageServer`: the page on uvicorn in its own thread, with `start()` and `stop()`.

``lookout serve`` starts one and waits; ``lookout watch --serve`` starts one beside the
engine. uvicorn (the ASGI server Starlette recommends; pure-Python fallbacks, so it runs
on a Raspberry Pi) runs its own event loop in the thread; stopping asks it to exit and
waits a bounded time.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from core.errors import UserError
from realtime.bundle import BundleMeta
from realtime.serve.config import ServeConfig, parse_bind
from realtime.serve.live import LiveSource
from realtime.serve.security import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    Password,
    Policy,
    Sessions,
    require_password,
)

log = logging.getLogger("lookout.serve")
START_TIMEOUT_S = 15.0


class PageServer:
    """The page over ``root`` (an events folder).

    Args:
        root: the events folder (events.jsonl, snapshots/, clips/, spool.sqlite).
        cfg: the ``[serve]`` table.
        bind: ``[HOST:]PORT`` (default: ``cfg.bind``, else 127.0.0.1:8080); port 0 picks
            a free one (see `url`).
        live: a running watch's cameras (None: events only).
        environ: where ``cfg.password_env`` is looked up (default: the process's).
        model: the bundle the page reviews for (its labels) and whose retrain button
            runs ``lookout retrain`` (None: labels seen in events, no button).
        review_dir: the review folder (default: EVENTS_DIR/review).
        config_file: handed to the retrain child (``lookout --config``).

    Raises:
        UserError: a bad bind, or another address than loopback without a password (one
            line each); `start`: a missing folder, a port in use.
    """

    def __init__(self, root: str | Path, cfg: ServeConfig, *, bind: str | None = None,
                 live: LiveSource | None = None,
                 environ: Mapping[str, str] | None = None, model: str | Path | None = None,
                 review_dir: str | Path | None = None,
                 config_file: str | Path | None = None) -> None:
        self.root = Path(root)
        self.cfg = cfg
        self.host, self.port = parse_bind(bind or cfg.bind or f"{DEFAULT_HOST}:{DEFAULT_PORT}")
        self.password = Password.from_settings(cfg.password_env, cfg.password_hash,
                                               os.environ if environ is None else environ)
        require_password(self.host, self.password, cfg.password_env)
        self.live = live
        self.model = Path(model) if model else None
        self.review_dir, self.config_file = review_dir, config_file
        self._server = None
        self._page = None
        self._thread: threading.Thread | None = None
        self._failed: BaseException | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def describe(self) -> str:
        """One line for the log: where, and how it is protected (never the password)."""
        guard = (f"password from {self.password.source}" if self.password
                 else "no password: loopback only")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"page on http://{host}:{self.port} over {self.root} ({guard})"

    def start(self) -> PageServer:
        """Listen; returns once the socket is bound (or raises `UserError`)."""
        import uvicorn

        if not self.root.is_dir():
            raise UserError(f"{self.root}: no such events folder (lookout watch --events "
                            "DIR writes one)")

        from realtime.serve.app import Page, create_app

        policy = Policy(self.password, Sessions(self.cfg.session_hours * 3600))
        self._page = Page(self.root, self.cfg, policy, self.live, self._review_side())
        app = create_app(self._page)
        # log_config=None: keep lookout's logging; no access log (URLs only, but quiet)
        config = uvicorn.Config(app, host=self.host, port=self.port, log_config=None,
                                access_log=False, lifespan="off", timeout_graceful_shutdown=2,
                                server_header=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="serve", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise UserError(f"serve: could not listen on {self.host}:{self.port}"
                                f"{f': {self._failed}' if self._failed else ''} "
                                "(is the port in use? --bind another)")
            time.sleep(0.02)
        sockets = [s for srv in self._server.servers for s in srv.sockets]
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("%s", self.describe())
        return self

    def _review_side(self):
        from realtime.review.store import ReviewStore
        from realtime.serve.retrain import Retrainer, retrain_command
        from realtime.serve.review import ReviewSide

        store = ReviewStore(self.root, self.review_dir)
        retrainer = None
        if self.model is not None and BundleMeta.path(self.model).is_file():
            retrainer = Retrainer(retrain_command(self.model, store.dir, self.config_file))
        return ReviewSide(store, self.model, retrainer)

    def tiles_encoded(self) -> int:
        """How many live-tile JPEGs the page made (the benchmark compares it with the
        tiles served)."""
        page = self._page
        return page.tiles.encoded if page is not None and page.tiles is not None else 0

    def _run(self) -> None:
        try:
            self._server.run()
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self._failed = exc
        if not self._server.started and self._failed is None:
            self._failed = OSError("the server did not start")

    def wait(self) -> None:
        """Block until stopped (Ctrl+C in the caller stops it)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        review = self._page.review if self._page is not None else None
        if review is not None and review.retrainer is not None:
            review.retrainer.close()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10.0)
