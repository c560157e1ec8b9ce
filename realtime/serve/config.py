"""The ``[serve]`` table: where the page listens, its public address, its password."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

from core.config import Problem, Section, doc
from core.errors import UserError
from realtime.serve.security import DEFAULT_HOST, DEFAULT_PORT, hash_problem


def parse_bind(text: str, default_host: str = DEFAULT_HOST) -> tuple[str, int]:
    """``"8080"`` -> (default_host, 8080); ``"0.0.0.0:80"`` and ``"[::]:80"`` as written.

    Raises:
        UserError: not ``[HOST:]PORT`` with a port from 0 to 65535.
    """
    text = str(text).strip()
    host, sep, port = text.rpartition(":")
    host = host.strip("[]") if sep else default_host
    if not port.isdigit() or int(port) > 65535 or (sep and not host):
        raise UserError(f"{text!r}: expected [HOST:]PORT, e.g. 8080 or 0.0.0.0:8080")
    return host, int(port)


@dataclass
class ServeConfig(Section):
    table = "serve"

    bind: str = doc("", "[HOST:]PORT of the page ('' = `lookout serve` listens on "
                        f"{DEFAULT_HOST}:{DEFAULT_PORT}, `lookout watch` serves no page); "
                        "any address but loopback needs a password")
    public_url: str = doc("", "the page's address as phones reach it (https://cam.example); "
                              "alerts (ntfy click, webhook body, MQTT payload) link events there")
    password_env: str = doc("LOOKOUT_SERVE_PASSWORD", "environment variable with the page's "
                                                      "password (never logged)")
    password_hash: str = doc("", "the password's hash instead "
                                 "(`lookout serve --hash-password` prints one)")
    live_fps: float = doc(2.0, "camera tiles refresh at most this often per second (caps the "
                               "JPEG encoding a browser can cause)", gt=0.0, le=15.0)
    poll_s: float = doc(2.0, "the page looks for new events this often", ge=0.5, le=60.0)
    session_hours: float = doc(12.0, "a login lasts this long", gt=0.0, le=24.0 * 90)

    def problems(self) -> Iterable[Problem]:
        if self.bind:
            try:
                parse_bind(self.bind)
            except UserError as exc:
                yield "bind", str(exc)
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            yield "public_url", f"{self.public_url!r}: expected an http:// or https:// URL"
        if self.password_hash:
            problem = hash_problem(self.password_hash)
            if problem:
                yield "password_hash", problem



def event_link(public_url: str, event_id: str) -> str:
    """An event page's address under ``public_url`` ('' without one): the one place that
    knows the page's URL shape outside the app's routes."""
    if not public_url:
        return ""
    return f"{public_url.rstrip('/')}/events/{urllib.parse.quote(event_id)}"
