"""The MQTT notifier: events for Home Assistant, on topics modelled on Frigate's.

With PREFIX = ``[watch.mqtt] topic_prefix`` (default ``lookout``):

- ``PREFIX/events``: one JSON message per event phase,
  ``{"type": "new"|"update"|"end", "key": ..., "before": {...}, "after": {...}}``;
- ``PREFIX/<camera>/<label>``: how many such objects are in view now (retained);
- ``PREFIX/<camera>/<label>/snapshot``: the best snapshot's JPEG bytes (retained);
- ``PREFIX/available``: ``online`` while running; ``offline`` on a clean stop and as the
  broker's last will when lookout dies.

Deliveries come from the durable spool. Once per phase: a delivery's messages are handed
to paho once; when the broker does not acknowledge them in time (it is down) the attempt
fails and the spool retries later, but paho keeps the unacknowledged QoS 1 messages and
re-sends them itself on reconnect, so the retry waits for those same messages instead of
publishing them again. Errors name ``host:port`` only, never the password.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import logging
import ssl
import threading
import time
from collections import OrderedDict
from pathlib import Path

from core.errors import UserError
from realtime.watch.camera import camera_of, slug
from realtime.watch.events import read_events
from realtime.watch.mqtt_discovery import discovery_messages
from realtime.watch.notify_base import DeliveryError, Notifier
from realtime.watch.notify_config import MqttConfig

log = logging.getLogger("lookout.watch")
# CONNACK answers that retrying cannot fix: bad client id, bad user or password, not allowed
REFUSED_FOR_GOOD = {133, 134, 135}
REMEMBER = 1000  # events whose last state is kept for "before" (older ones: read the log)


def epoch(iso: str | None) -> float | None:
    """``2026-11-25T08:15:00.250Z`` → unix seconds."""
    if not iso:
        return None
    whole = calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S"))
    fraction = iso[19:].rstrip("Z")
    return whole + (float(fraction) if fraction.startswith(".") else 0.0)


def event_state(record: dict) -> dict:
    """The ``before``/``after`` object of an events message (Frigate's field names where
    they mean the same). The source is left out: an RTSP URL may hold a password."""
    start_time = epoch(record.get("started_at"))
    duration = record.get("duration")
    return {
        "id": record["id"], "camera": camera_of(record), "label": record["label"],
        "rule": record.get("rule"), "score": record.get("score"),
        "median_score": record.get("median_score"), "box": record.get("box"),
        "start_time": start_time,
        "end_time": None if duration is None or start_time is None else start_time + duration,
        "start": record.get("start"), "end": record.get("end"),
        "frames_seen": record.get("frames_seen"), "end_reason": record.get("end_reason"),
        "has_snapshot": bool(record.get("snapshot")), "snapshot": record.get("snapshot"),
        "has_clip": bool(record.get("clip")), "clip": record.get("clip"),
    }


class ObjectCounts:
    """Objects in view per (camera, label): the events opened and not yet ended.

    Order-proof: an ``end`` is remembered, so a ``new`` delivered after its own ``end``
    (a retry that lost the race) does not reopen the event; the ids already ended in the
    event log are loaded once, for events of earlier runs still in the spool.
    """

    def __init__(self) -> None:
        self.open: dict[tuple[str, str], set[str]] = {}
        self.ended: set[str] | None = None

    def apply(self, record: dict, root: Path) -> int:
        if self.ended is None:
            self.ended = {r["id"] for r in read_events(root / "events.jsonl")
                          if r.get("phase") == "end"}
        key = (camera_of(record), slug(record["label"]))
        ids = self.open.setdefault(key, set())
        if record["phase"] == "end":
            ids.discard(record["id"])
            self.ended.add(record["id"])
        elif record["id"] not in self.ended:
            ids.add(record["id"])
        return len(ids)

    def count(self, camera: str, label: str) -> int:
        return len(self.open.get((camera, label), ()))


class MqttNotifier(Notifier):
    """Publishes each event phase (all three: the counts need ``end``) with QoS ``qos``."""

    name = "mqtt"
    phases = ("new", "update", "end")

    def __init__(self, cfg: MqttConfig, password: str = "") -> None:
        self.cfg, self._password = cfg, password
        self.where = f"{cfg.host}:{cfg.port}"
        self.prefix = cfg.topic_prefix
        self._client = None
        self._lock = threading.Lock()  # state and the order of state messages
        self._answered = threading.Event()  # the first CONNACK (or failure) came
        self._connected = threading.Event()
        self._refusal: str | None = None
        self._inflight: dict[str, list] = {}  # delivery key -> paho MQTTMessageInfo
        self._counts = ObjectCounts()
        self._last: OrderedDict[str, dict] = OrderedDict()  # event id -> last record sent
        # (camera, label) -> (started_at, logged_at) and digest of the snapshot last sent
        self._snap_sent: dict[tuple[str, str], tuple[tuple[str, str], str]] = {}
        self._cameras: dict[str, list[str]] = {}

    def __repr__(self) -> str:
        return f"MqttNotifier({self.where})"

    @property
    def available_topic(self) -> str:
        return f"{self.prefix}/available"

    # ------------------------------------------------------------------ connection

    def start(self) -> None:
        """Connect (in the background from then on). A broker that refuses the user or
        password is a `UserError`; one that is down is a warning: events wait in the spool."""
        import paho.mqtt.client as paho

        cfg = self.cfg
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=cfg.client_id,
                             protocol=paho.MQTTv311)
        if cfg.username:
            client.username_pw_set(cfg.username, self._password or None)
        if cfg.tls:
            try:
                client.tls_set(ca_certs=cfg.ca_file or None)
            except (OSError, ValueError) as exc:
                raise UserError(f"watch.mqtt.ca_file: {cfg.ca_file}: {exc}") from None
        client.will_set(self.available_topic, "offline", qos=cfg.qos, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=15)
        client.connect_timeout = min(cfg.timeout_s, 10.0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self._client = client
        try:  # the first try in the foreground, to tell "refused" from "not there"
            client.connect(cfg.host, cfg.port, cfg.keepalive_s)
        except ssl.SSLCertVerificationError as exc:  # retrying cannot fix that
            self._client = None
            raise UserError(f"watch.mqtt: the TLS certificate of the broker at {self.where} is "
                            f"not trusted ({exc.verify_message}); set watch.mqtt.ca_file to "
                            "the CA that signed it") from None
        except (OSError, ValueError) as exc:
            log.warning("MQTT broker %s not reachable (%s); events wait in the spool until it is",
                        self.where, getattr(exc, "strerror", None) or type(exc).__name__)
            client.connect_async(cfg.host, cfg.port, cfg.keepalive_s)
            client.loop_start()
            return
        client.loop_start()
        self._answered.wait(cfg.timeout_s)
        if self._refusal is not None:
            self.stop()
            user = f" user {cfg.username!r}" if cfg.username else " anonymous clients"
            raise UserError(f"watch.mqtt: the broker at {self.where} refused{user}: "
                            f"{self._refusal}")
        if self._connected.is_set():
            log.info("MQTT: connected to %s, topics under %s/", self.where, self.prefix)

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        if reason.is_failure:
            if reason.value in REFUSED_FOR_GOOD and not self._answered.is_set():
                self._refusal = str(reason).lower()
            else:
                log.error("MQTT broker %s refused the connection: %s", self.where, reason)
            self._answered.set()
            return
        was_answered = self._answered.is_set()
        self._connected.set()
        self._answered.set()
        if was_answered:
            log.info("MQTT: reconnected to %s", self.where)
        # only messages whose order does not matter: sent ahead of any queued re-sends
        client.publish(self.available_topic, "online", qos=self.cfg.qos, retain=True)
        for camera, labels in list(self._cameras.items()):
            self._publish_discovery(camera, labels)

    def _on_disconnect(self, client, userdata, flags, reason, properties) -> None:
        if self._connected.is_set() and reason.value != 0:
            log.warning("MQTT: lost the broker %s (%s); reconnecting", self.where, reason)
        self._connected.clear()

    def announce(self, camera: str, labels: list[str]) -> None:
        """Discovery configs and a first count (retained) for each label of ``camera``."""
        labels = [slug(label) for label in labels]
        with self._lock:
            self._cameras[camera] = labels
            if self._connected.is_set():
                self._publish_discovery(camera, labels)
            for label in labels:
                self._publish(f"{self.prefix}/{camera}/{label}",
                              str(self._counts.count(camera, label)), retain=True)

    def _publish_discovery(self, camera: str, labels: list[str]) -> None:
        if not self.cfg.discovery:
            return
        for label in labels:
            for topic, payload in discovery_messages(self.prefix, self.cfg.discovery_prefix,
                                                     camera, label):
                self._publish(topic, payload, retain=True)

    def stop(self) -> None:
        """``offline`` (retained), then a clean disconnect (so the will is not sent too)."""
        client, self._client = self._client, None
        if client is None:
            return
        if self._connected.is_set():
            info = client.publish(self.available_topic, "offline", qos=self.cfg.qos, retain=True)
            _wait([info], min(self.cfg.timeout_s, 5.0), self._connected)
            client.disconnect()
        client.loop_stop()

    # ------------------------------------------------------------------ delivery

    def send(self, record: dict, key: str, root: Path) -> None:
        if self._client is None:
            raise DeliveryError(f"mqtt {self.where}: not started")
        with self._lock:
            infos = self._inflight.get(key)
            if infos is None:  # first attempt: hand the messages to paho, once
                infos = self._inflight[key] = self._messages(record, key, root)
        if not _wait(infos, self.cfg.timeout_s, self._connected):
            state = "not acknowledged" if self._connected.is_set() else "not connected"
            raise DeliveryError(f"mqtt {self.where}: {state} (kept queued; retrying)")
        with self._lock:
            self._inflight.pop(key, None)

    def _messages(self, record: dict, key: str, root: Path) -> list:
        """Publish the snapshot, the count and the events message of one phase, in that
        order: whoever reacts to the event (an HA automation) finds the picture in place."""
        camera, label = camera_of(record), slug(record["label"])
        infos = []
        snap = root / record["snapshot"] if record.get("snapshot") else None
        mark = (record.get("started_at") or "", record.get("logged_at") or "")
        last_mark, last_digest = self._snap_sent.get((camera, label), (("", ""), ""))
        if snap is not None and snap.is_file() and mark >= last_mark:
            jpeg = snap.read_bytes()
            digest = hashlib.sha256(jpeg).hexdigest()
            self._snap_sent[(camera, label)] = (mark, digest)
            if digest != last_digest:  # the same picture again would look like a new one
                infos.append(self._publish(f"{self.prefix}/{camera}/{label}/snapshot", jpeg,
                                           retain=True))
        count = self._counts.apply(record, root)
        infos.append(self._publish(f"{self.prefix}/{camera}/{label}", str(count), retain=True))
        after = event_state(record)
        previous = self._previous(record, root)
        before = event_state(previous) if previous is not None else after
        message = {"type": record["phase"], "key": key, "before": before, "after": after}
        if self.page_url:
            message["url"] = self.link(record)
        infos.append(self._publish(f"{self.prefix}/events", json.dumps(message)))
        self._last[record["id"]] = record
        self._last.move_to_end(record["id"])
        while len(self._last) > REMEMBER:
            self._last.popitem(last=False)
        return infos

    def _previous(self, record: dict, root: Path) -> dict | None:
        """The event's phase logged just before ``record`` (None for its first)."""
        last = self._last.get(record["id"])
        if last is not None and last["logged_at"] < record["logged_at"]:
            return last
        before = None
        for r in read_events(root / "events.jsonl"):  # after a restart or a reordered retry
            if r.get("id") != record["id"]:
                continue
            if r.get("phase") == record["phase"] and r.get("logged_at") == record["logged_at"]:
                return before
            before = r
        return None

    def _publish(self, topic: str, payload: str | bytes, retain: bool = False):
        return self._client.publish(topic, payload, qos=self.cfg.qos, retain=retain)


def _wait(infos: list, timeout_s: float, connected: threading.Event) -> bool:
    """True once paho has every message acknowledged (QoS 0: written); False after
    ``timeout_s``, or at once while not connected (paho keeps them queued meanwhile)."""
    deadline = time.monotonic() + timeout_s
    # not is_published(): it raises for a message published while disconnected, although
    # paho keeps that one queued and sends it on reconnect; read the flag the PUBACK sets
    while not all(i._published for i in infos):
        if time.monotonic() >= deadline or not connected.is_set():
            return False
        time.sleep(0.02)
    return True
