"""The ntfy notifier: a phone push with the snapshot, through ntfy's HTTP publishing API.

With a snapshot: ``PUT <server>/<topic>`` with the JPEG as the body (ntfy makes it the
attachment the phone shows) and the text in ``X-Message``; without one, ``POST`` with
the text as the body. Headers as ntfy documents them: ``X-Title``, ``X-Priority``
(1-5), ``X-Tags`` (comma separated; emoji short codes show as emojis), ``X-Click``,
``Filename`` and ``Authorization: Bearer <token>``. Non-ASCII header values are RFC 2047
encoded, which ntfy decodes. Errors name the server only: the topic and the token are
both what lets someone else read or send the alerts.
"""

from __future__ import annotations

import base64
import logging
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from core.errors import UserError
from realtime.watch.camera import camera_of
from realtime.watch.notify_base import DeliveryError, Notifier, redact
from realtime.watch.notify_config import NtfyConfig

log = logging.getLogger("lookout.watch")


def header_value(text: str) -> str:
    """``text`` as an HTTP header value: ASCII as is, else RFC 2047 (``=?UTF-8?B?...?=``)."""
    if text.isascii() and "\n" not in text:
        return text
    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="


def title_and_message(record: dict) -> tuple[str, str]:
    """What the phone shows: ``red at front`` / ``new visitor, score 0.91 at 08:15:02 UTC``."""
    camera, label = camera_of(record), record["label"]
    clock = (record.get("started_at") or "")[11:19]
    text = f"{record['phase']} {record.get('rule', label)}, score {record.get('score', 0):.2f}"
    if clock:
        text += f" at {clock} UTC"
    if record["phase"] == "end" and record.get("duration") is not None:
        text = f"{label} left after {record['duration']:.0f} s ({text})"
    return f"{label} at {camera}", text


class NtfyNotifier(Notifier):
    """One push per notified event phase (``[watch.delivery] on``)."""

    name = "ntfy"

    def __init__(self, cfg: NtfyConfig, token: str = "") -> None:
        parts = urllib.parse.urlsplit(cfg.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError(f"watch.ntfy.url: not an http(s) URL: {redact(cfg.url)!r}")
        self.cfg, self._token = cfg, token
        self._url = cfg.url.rstrip("/") + "/" + urllib.parse.quote(cfg.topic, safe="")
        self.where = redact(cfg.url)

    def __repr__(self) -> str:
        return f"NtfyNotifier({self.where})"

    def request(self, record: dict, root: Path, attach: bool = True) -> urllib.request.Request:
        """The HTTP request for one event phase (the snapshot attached when ``attach``)."""
        title, message = title_and_message(record)
        headers = {"X-Title": header_value(title), "X-Priority": str(self.cfg.priority),
                   "User-Agent": "lookout-watch"}
        if self.cfg.tags:
            headers["X-Tags"] = header_value(",".join(self.cfg.tags))
        click = self.link(record) if self.page_url else self.cfg.click  # the event's own page
        if click:
            headers["X-Click"] = click
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        rel = record.get("snapshot")
        snap = root / rel if rel and attach and self.cfg.snapshot else None
        if snap is not None and snap.is_file():
            headers["X-Message"] = header_value(message)
            headers["Filename"] = f"{record['id']}.jpg"
            return urllib.request.Request(self._url, data=snap.read_bytes(), headers=headers,
                                          method="PUT")
        headers["Content-Type"] = "text/plain; charset=utf-8"
        return urllib.request.Request(self._url, data=message.encode(), headers=headers,
                                      method="POST")

    def send(self, record: dict, key: str, root: Path) -> None:
        try:
            self._post(self.request(record, root))
        except urllib.error.HTTPError as exc:
            if exc.code != 413:
                raise DeliveryError(f"ntfy {self.where}: HTTP {exc.code}") from None
            # attachment too large for this server: the alert without the picture beats none
            log.warning("ntfy %s: snapshot too large to attach; sending the text only",
                        self.where)
            try:
                self._post(self.request(record, root, attach=False))
            except urllib.error.HTTPError as again:
                raise DeliveryError(f"ntfy {self.where}: HTTP {again.code}") from None

    def _post(self, request: urllib.request.Request) -> None:
        try:
            with urllib.request.urlopen(request, timeout=self.cfg.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError:
            raise
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"ntfy {self.where}: {type(reason).__name__}: {reason}") from None
