"""``[watch.mqtt]`` and ``[watch.ntfy]``: where doorbell alerts reach Home Assistant and phones.

Secrets (the MQTT password, the ntfy token) are left out of the dataclasses' repr, and
are best given through the environment variables named by ``*_env``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lookout.config import doc
from lookout.errors import UserError


def _secret(text: str) -> str:
    return field(default="", repr=False, metadata={"doc": text})


@dataclass
class MqttConfig:
    host: str = doc("", "MQTT broker host name or address ('' = off)")
    port: int = doc(1883, "broker port (8883 is the usual TLS port)")
    tls: bool = doc(False, "connect with TLS (the system's CA certificates unless ca_file)")
    ca_file: str = doc("", "PEM file of the CA that signed the broker's certificate ('' = system)")
    username: str = doc("", "user name ('' = anonymous)")
    password: str = _secret("password (never logged); prefer password_env")
    password_env: str = doc("LOOKOUT_MQTT_PASSWORD", "env var with the password (never logged)")
    client_id: str = doc("lookout", "MQTT client id (unique per broker: two clients with one id "
                                    "keep disconnecting each other)")
    topic_prefix: str = doc("lookout", "topics: PREFIX/events, PREFIX/<camera>/<label>, "
                                       "PREFIX/<camera>/<label>/snapshot, PREFIX/available")
    qos: int = doc(1, "MQTT quality of service of every message: 0, 1 (at least once) or 2")
    discovery: bool = doc(False, "publish Home Assistant MQTT discovery configs (sensors and "
                                 "snapshot image per camera and label)")
    discovery_prefix: str = doc("homeassistant", "Home Assistant's discovery topic prefix")
    keepalive_s: int = doc(30, "MQTT keep-alive: the broker notices a dead lookout after 1.5x this")
    timeout_s: float = doc(10.0, "wait this long for the broker's acknowledgements per attempt")


@dataclass
class NtfyConfig:
    url: str = doc("", "ntfy server, e.g. 'https://ntfy.sh' ('' = off)")
    topic: str = doc("", "ntfy topic the phone subscribes to (pick a hard-to-guess one)")
    token: str = _secret("access token (never logged); prefer token_env")
    token_env: str = doc("LOOKOUT_NTFY_TOKEN", "env var with the access token (never logged)")
    priority: int = doc(4, "1 (min) to 5 (urgent); 4 = high: the phone vibrates longer")
    tags: list[str] = doc(["bell"], "ntfy tags; emoji short codes show as emojis")
    click: str = doc("", "URL opened when the notification is tapped ('' = none)")
    snapshot: bool = doc(True, "attach the snapshot JPEG (the phone shows the picture)")
    timeout_s: float = doc(15.0, "HTTP timeout per attempt")


def check_notify_config(mqtt: MqttConfig, ntfy: NtfyConfig, where: str = "config.toml") -> None:
    """Raise `UserError` ``WHERE: watch.KEY: problem`` for the first bad value."""
    def bad(key: str, message: str) -> UserError:
        return UserError(f"{where}: watch.{key}: {message}")

    if "/" in mqtt.host or mqtt.host.count(":") == 1:  # a URL or host:port (IPv6 has more)
        raise bad("mqtt.host", f"{mqtt.host!r}: a host name or address, not a URL "
                               "(the port goes in watch.mqtt.port)")
    if not 1 <= mqtt.port <= 65535:
        raise bad("mqtt.port", f"{mqtt.port} is not in [1, 65535]")
    if mqtt.qos not in (0, 1, 2):
        raise bad("mqtt.qos", f"{mqtt.qos} is not 0, 1 or 2")
    for key, value in (("mqtt.topic_prefix", mqtt.topic_prefix),
                       ("mqtt.discovery_prefix", mqtt.discovery_prefix)):
        if not value or any(c in value for c in "+#") or value.startswith("/") \
                or value.endswith("/"):
            raise bad(key, f"{value!r} must be a topic without + or # and no leading or "
                           "trailing /")
    if mqtt.keepalive_s < 5:
        raise bad("mqtt.keepalive_s", f"{mqtt.keepalive_s} must be at least 5")
    for key, value in (("mqtt.timeout_s", mqtt.timeout_s), ("ntfy.timeout_s", ntfy.timeout_s)):
        if value <= 0:
            raise bad(key, f"{value} must be > 0")
    if not 1 <= ntfy.priority <= 5:
        raise bad("ntfy.priority", f"{ntfy.priority} is not in [1, 5]")
    if ntfy.url and not ntfy.topic:
        raise bad("ntfy.topic", "needed when ntfy.url is set")
    if ntfy.topic and ("/" in ntfy.topic or not ntfy.topic.strip()):
        raise bad("ntfy.topic", "one topic name, without /")
