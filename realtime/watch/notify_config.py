"""``[watch.mqtt]`` and ``[watch.ntfy]``: where doorbell alerts reach Home Assistant and phones.

Checked when built, like every table: ranges and choices in ``doc``, the rest in
``problems()``. Secrets (the MQTT password, the ntfy token) are left out of the tables'
repr, and are best given through the environment variables named by ``*_env``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from core.config import Problem, Section, doc


def _secret(text: str) -> str:
    return field(default="", repr=False, metadata={"doc": text})


def _topic_problem(value: str) -> str | None:
    if not value or any(c in value for c in "+#") or value.startswith("/") or value.endswith("/"):
        return f"{value!r} must be a topic without + or # and no leading or trailing /"
    return None


@dataclass
class MqttConfig(Section):
    table = "watch.mqtt"

    host: str = doc("", "MQTT broker host name or address ('' = off)")
    port: int = doc(1883, "broker port (8883 is the usual TLS port)", ge=1, le=65535)
    tls: bool = doc(False, "connect with TLS (the system's CA certificates unless ca_file)")
    ca_file: str = doc("", "PEM file of the CA that signed the broker's certificate ('' = system)")
    username: str = doc("", "user name ('' = anonymous)")
    password: str = _secret("password (never logged); prefer password_env")
    password_env: str = doc("LOOKOUT_MQTT_PASSWORD", "env var with the password (never logged)")
    client_id: str = doc("lookout", "MQTT client id (unique per broker: two clients with one id "
                                    "keep disconnecting each other)")
    topic_prefix: str = doc("lookout", "topics: PREFIX/events, PREFIX/<camera>/<label>, "
                                       "PREFIX/<camera>/<label>/snapshot, PREFIX/available")
    qos: int = doc(1, "MQTT quality of service of every message: 0, 1 (at least once) or 2",
                   choices=(0, 1, 2))
    discovery: bool = doc(False, "publish Home Assistant MQTT discovery configs (sensors and "
                                 "snapshot image per camera and label)")
    discovery_prefix: str = doc("homeassistant", "Home Assistant's discovery topic prefix")
    keepalive_s: int = doc(30, "MQTT keep-alive: the broker notices a dead lookout after 1.5x this",
                           ge=5)
    timeout_s: float = doc(10.0, "wait this long for the broker's acknowledgements per attempt",
                           gt=0.0)

    def problems(self) -> Iterable[Problem]:
        if "/" in self.host or self.host.count(":") == 1:  # a URL or host:port (IPv6 has more)
            yield "host", (f"{self.host!r}: a host name or address, not a URL (the port goes "
                           "in watch.mqtt.port)")
        for key in ("topic_prefix", "discovery_prefix"):
            problem = _topic_problem(getattr(self, key))
            if problem:
                yield key, problem


@dataclass
class NtfyConfig(Section):
    table = "watch.ntfy"

    url: str = doc("", "ntfy server, e.g. 'https://ntfy.sh' ('' = off)")
    topic: str = doc("", "ntfy topic the phone subscribes to (pick a hard-to-guess one)")
    token: str = _secret("access token (never logged); prefer token_env")
    token_env: str = doc("LOOKOUT_NTFY_TOKEN", "env var with the access token (never logged)")
    priority: int = doc(4, "1 (min) to 5 (urgent); 4 = high: the phone vibrates longer",
                        ge=1, le=5)
    tags: list[str] = doc(["bell"], "ntfy tags; emoji short codes show as emojis")
    click: str = doc("", "URL opened when the notification is tapped ('' = none; "
                          "with serve.public_url set, the event's page instead)")
    snapshot: bool = doc(True, "attach the snapshot JPEG (the phone shows the picture)")
    timeout_s: float = doc(15.0, "HTTP timeout per attempt", gt=0.0)

    def problems(self) -> Iterable[Problem]:
        if self.url and not self.topic:
            yield "topic", "needed when ntfy.url is set"
        if self.topic and ("/" in self.topic or not self.topic.strip()):
            yield "topic", "one topic name, without /"
