"""The built-in notifiers (webhook, command, desktop, console) and `build_notifiers`, which
turns the config into the list of notifiers (MQTT from `mqtt`, ntfy from `ntfy`). What a
notifier is: `realtime.watch.notify_base`.

Error texts never contain the webhook URL's path or query, nor the secret: both may be
credentials.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from core.errors import UserError
from realtime.watch.config import WatchConfig
from realtime.watch.mqtt import MqttNotifier
from realtime.watch.notify_base import DeliveryError, Notifier, redact
from realtime.watch.ntfy import NtfyNotifier

log = logging.getLogger("lookout.watch")


def _snapshot(record: dict, root: Path) -> Path | None:
    rel = record.get("snapshot")
    path = root / rel if rel else None
    return path if path is not None and path.is_file() else None


class WebhookNotifier(Notifier):
    """POST the record as JSON. Headers: ``Idempotency-Key`` (the delivery key),
    ``X-Lookout-Event``, and with a secret ``X-Lookout-Signature: sha256=<HMAC of body>``.
    """

    name = "webhook"

    def __init__(self, url: str, secret: str = "", snapshot: bool = True,
                 timeout_s: float = 10.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError(f"watch.webhook.url: not an http(s) URL: {redact(url)!r}")
        self._url, self._secret = url, secret.encode()
        self.snapshot, self.timeout_s = snapshot, timeout_s
        self.where = redact(url)

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.where})"

    def body(self, record: dict, key: str, root: Path) -> bytes:
        payload = {"key": key, "camera": record.get("camera", ""), "event": record}
        if self.page_url:
            payload["url"] = self.link(record)
        snap = _snapshot(record, root) if self.snapshot else None
        if snap is not None:
            payload["snapshot_jpeg_base64"] = base64.b64encode(snap.read_bytes()).decode()
        return json.dumps(payload).encode()

    def send(self, record: dict, key: str, root: Path) -> None:
        data = self.body(record, key, root)
        headers = {"Content-Type": "application/json", "Idempotency-Key": key,
                   "X-Lookout-Event": record["id"], "User-Agent": "lookout-watch"}
        if self._secret:
            digest = hmac.new(self._secret, data, hashlib.sha256).hexdigest()
            headers["X-Lookout-Signature"] = f"sha256={digest}"
        request = urllib.request.Request(self._url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"{self.where}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"{self.where}: {type(reason).__name__}: {reason}") from None


def event_env(record: dict, key: str, root: Path) -> dict[str, str]:
    """The ``LOOKOUT_*`` environment variables a command receives."""
    env = {"LOOKOUT_DELIVERY_KEY": key, "LOOKOUT_EVENT_JSON": json.dumps(record)}
    for field in ("id", "phase", "camera", "rule", "label", "source", "score", "median_score",
                  "start", "end", "duration", "started_at"):
        value = record.get(field)
        env[f"LOOKOUT_{'EVENT_ID' if field == 'id' else field.upper()}"] = (
            "" if value is None else str(value))
    for field in ("snapshot", "snapshot_clean", "clip"):
        rel = record.get(field)
        env[f"LOOKOUT_{field.upper()}"] = str((root / rel).resolve()) if rel else ""
    return env


class CommandNotifier(Notifier):
    """Run ``argv`` (no shell) with the event as ``LOOKOUT_*`` environment variables;
    a non-zero exit or a timeout is a failed attempt."""

    name = "command"

    def __init__(self, argv: list[str], timeout_s: float = 30.0) -> None:
        if not argv or not argv[0]:
            raise UserError("watch.command.argv: needs a program")
        self.argv, self.timeout_s = list(argv), timeout_s

    def send(self, record: dict, key: str, root: Path) -> None:
        env = {**os.environ, **event_env(record, key, root)}
        try:
            done = subprocess.run(self.argv, env=env, timeout=self.timeout_s,
                                  capture_output=True, text=True, check=False)
        except subprocess.TimeoutExpired:
            raise DeliveryError(f"{self.argv[0]}: timed out after {self.timeout_s:g}s") from None
        except OSError as exc:
            raise DeliveryError(f"{self.argv[0]}: {exc.strerror or exc}") from None
        if done.returncode != 0:
            tail = (done.stderr or "").strip().splitlines()[-1:] or [""]
            raise DeliveryError(f"{self.argv[0]}: exit {done.returncode} {tail[0][:200]}".strip())


class DesktopNotifier(Notifier):
    """``notify-send`` (libnotify), with the snapshot as the icon."""

    name = "desktop"

    def __init__(self, program: str) -> None:
        self.program = program

    def send(self, record: dict, key: str, root: Path) -> None:
        snap = _snapshot(record, root)
        argv = [self.program, "--app-name=lookout"]
        if snap is not None:
            argv.append(f"--icon={snap.resolve()}")
        argv += [f"lookout: {record['label']} ({record['phase']})", _summary(record)]
        CommandNotifier(argv, timeout_s=10.0).send(record, key, root)


class ConsoleNotifier(Notifier):
    """A line on the console (via logging)."""

    name = "console"

    def send(self, record: dict, key: str, root: Path) -> None:
        log.warning("ALERT %s", _summary(record))


def _summary(record: dict) -> str:
    camera = f"[{record['camera']}] " if record.get("camera") else ""
    text = (f"{camera}{record['phase']} {record['id']}: {record['label']} (rule {record['rule']}) "
            f"score {record['score']:.2f} at {record['start']:.1f}s")
    if record.get("end") is not None:
        text += f", ended at {record['end']:.1f}s"
    return text + (f", snapshot {record['snapshot']}" if record.get("snapshot") else "")


def build_notifiers(cfg: WatchConfig, environ: dict[str, str] | None = None,
                    page_url: str = "") -> list[Notifier]:
    """The notifiers the config (and environment) turn on, in delivery order; with
    ``page_url`` (``serve.public_url``) their alerts link to the event's page."""
    out = _notifiers(cfg, environ)
    for notifier in out:
        notifier.page_url = page_url
    return out


def _notifiers(cfg: WatchConfig, environ: dict[str, str] | None) -> list[Notifier]:
    environ = dict(os.environ) if environ is None else environ
    out: list[Notifier] = []
    if cfg.delivery.console:
        out.append(ConsoleNotifier())
    url = cfg.webhook.url or environ.get(cfg.webhook.url_env, "")
    if url:
        secret = cfg.webhook.secret or environ.get(cfg.webhook.secret_env, "")
        out.append(WebhookNotifier(url, secret, cfg.webhook.snapshot, cfg.webhook.timeout_s))
    if cfg.command.argv:
        out.append(CommandNotifier(cfg.command.argv, cfg.command.timeout_s))
    if cfg.mqtt.host:
        password = cfg.mqtt.password or environ.get(cfg.mqtt.password_env, "")
        out.append(MqttNotifier(cfg.mqtt, password))
    if cfg.ntfy.url:
        out.append(NtfyNotifier(cfg.ntfy, cfg.ntfy.token or environ.get(cfg.ntfy.token_env, "")))
    if cfg.delivery.desktop:
        program = shutil.which("notify-send")
        if program:
            out.append(DesktopNotifier(program))
        else:
            log.warning("watch.delivery.desktop: notify-send not found; desktop alerts off")
    return out
