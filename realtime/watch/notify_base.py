"""What a notifier is: ``send(record, key, root)`` delivers one event record or raises
`DeliveryError` (the spool retries with backoff). ``key`` is the delivery's idempotency
key, ``root`` the events folder that the record's snapshot paths are relative to.
The notifiers themselves: `realtime.watch.notifiers`, `mqtt`, `ntfy`.
"""

from __future__ import annotations

import urllib.parse
from abc import ABC, abstractmethod
from pathlib import Path


class DeliveryError(Exception):
    """A failed attempt; the message is safe to log."""


class Notifier(ABC):
    name: str
    #: event phases spooled for this notifier; None = those of ``[watch.delivery] on``
    phases: tuple[str, ...] | None = None

    #: the page's public address (``serve.public_url``); '' = alerts carry no link
    page_url: str = ""

    def link(self, record: dict) -> str:
        """The event's page as a phone reaches it ('' without ``serve.public_url``)."""
        from realtime.serve.config import event_link

        return event_link(self.page_url, record["id"])

    @abstractmethod
    def send(self, record: dict, key: str, root: Path) -> None:
        """Deliver one event record, or raise `DeliveryError`."""

    def start(self) -> None:
        """Called once before deliveries begin; a bad setting raises `UserError`."""

    def announce(self, camera: str, labels: list[str]) -> None:
        """The camera and labels this run watches (MQTT publishes discovery for them)."""

    def stop(self) -> None:
        """Called once after deliveries ended."""


def routes(notifiers: list[Notifier], on: list[str]) -> dict[str, frozenset[str]]:
    """Notifier name -> the event phases spooled for it."""
    return {n.name: frozenset(n.phases if n.phases is not None else on) for n in notifiers}


def redact(url: str) -> str:
    """``scheme://host:port`` only: paths and queries of webhook URLs often hold tokens."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
