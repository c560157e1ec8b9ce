"""The delivery worker: sends due spool rows through their notifiers, with backoff.

One background thread. A failed attempt is logged as a warning and retried after
``retry_base_s * 2**(attempts-1)`` seconds, capped at ``retry_max_s``; nothing is
dropped unless ``give_up_after_s`` is set (then the row is kept as ``failed``).
Stopping leaves undelivered rows pending in the spool for the next run.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from realtime.watch.config import WatchDeliveryConfig
from realtime.watch.notify_base import DeliveryError, Notifier
from realtime.watch.spool import Delivery, Spool

log = logging.getLogger("lookout.watch")


def backoff(attempts: int, base_s: float, max_s: float) -> float:
    """Delay before the next try after ``attempts`` failed ones (1, 2, 4, ... x base)."""
    return min(max_s, base_s * 2 ** max(0, attempts - 1))


class Deliverer:
    """Runs `deliver_due` in a thread until stopped; `drain` waits for an empty spool."""

    def __init__(self, spool: Spool, notifiers: list[Notifier], cfg: WatchDeliveryConfig,
                 root: str | Path) -> None:
        self.spool, self.cfg, self.root = spool, cfg, Path(root)
        self.notifiers = {n.name: n for n in notifiers}
        self.delivered = 0
        self.failures = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Deliverer:
        self._thread = threading.Thread(target=self._loop, name="watch-delivery", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Something new was spooled: look now instead of at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.deliver_due()
            except Exception:  # a bug must not silently end deliveries: log, keep going
                log.exception("delivery loop error")
                sent = 0
            if sent == 0:
                nxt = self.spool.next_due_at()
                wait = 1.0 if nxt is None else min(1.0, max(0.02, nxt - time.time()))
                self._wake.wait(wait)
                self._wake.clear()

    def deliver_due(self) -> int:
        """Attempt every due delivery once; returns how many attempts were made."""
        items = self.spool.due()
        for item in items:
            if self._stop.is_set():
                break
            self._attempt(item)
        return len(items)

    def _attempt(self, item: Delivery) -> None:
        notifier = self.notifiers.get(item.notifier)
        if notifier is None:  # configured in an earlier run only: keep it for that config
            self.spool.mark_retry(item.key, f"notifier {item.notifier!r} not configured now",
                                  time.time() + self.cfg.retry_max_s)
            return
        try:
            notifier.send(item.record, item.key, self.root)
        except DeliveryError as exc:
            self._failed(item, str(exc))
        except Exception as exc:  # noqa: BLE001 - any notifier bug is a failed attempt
            self._failed(item, f"{type(exc).__name__}: {exc}")
        else:
            self.spool.mark_done(item.key)
            self.delivered += 1
            if item.attempts:
                log.info("delivered %s via %s after %d retries", item.event_id, item.notifier,
                         item.attempts)

    def _failed(self, item: Delivery, error: str) -> None:
        self.failures += 1
        attempts = item.attempts + 1
        age = time.time() - item.created_at
        if self.cfg.give_up_after_s > 0 and age > self.cfg.give_up_after_s:
            self.spool.mark_failed(item.key, error)
            log.error("giving up on %s via %s after %d attempts: %s", item.event_id,
                      item.notifier, attempts, error)
            return
        delay = backoff(attempts, self.cfg.retry_base_s, self.cfg.retry_max_s)
        self.spool.mark_retry(item.key, error, time.time() + delay)
        log.warning("delivery of %s via %s failed (attempt %d): %s; retrying in %.1fs",
                    item.event_id, item.notifier, attempts, error, delay)

    def drain(self, timeout_s: float) -> int:
        """Wait until nothing is pending (or ``timeout_s``); returns how many still are."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pending = self.spool.counts()["pending"]
            if pending == 0:
                return 0
            self.wake()
            time.sleep(0.05)
        return self.spool.counts()["pending"]

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30.0)
