"""Home Assistant MQTT discovery: retained configs that make each camera's labels show up
as entities, with no YAML on the Home Assistant side.

Per camera (one HA device, "lookout <camera>") and label:
- ``binary_sensor``: the label is in view (``occupancy``), from ``PREFIX/<camera>/<label>``;
- ``sensor``: how many are in view, from the same topic;
- ``image``: the best snapshot, from ``PREFIX/<camera>/<label>/snapshot`` (JPEG bytes).
All go unavailable when ``PREFIX/available`` says ``offline``. Entity ids are
``binary_sensor.lookout_<camera>_<label>_present`` and alike (PREFIX first).
"""

from __future__ import annotations

import json

from realtime.watch.camera import slug


def discovery_messages(prefix: str, discovery_prefix: str, camera: str,
                       label: str) -> list[tuple[str, str]]:
    """``(topic, JSON payload)`` of the three entity configs of one camera and label."""
    node = f"{slug(prefix)}_{camera}"
    state = f"{prefix}/{camera}/{label}"
    common = {
        "availability_topic": f"{prefix}/available",
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": {"identifiers": [node], "name": f"lookout {camera}",
                   "manufacturer": "lookout", "model": "lookout watch"},
        "origin": {"name": "lookout"},
    }
    entities = {
        "binary_sensor": ("present", {
            "name": f"{label} present", "state_topic": state, "device_class": "occupancy",
            "value_template": "{{ 'ON' if (value | int(0)) > 0 else 'OFF' }}"}),
        "sensor": ("count", {
            "name": f"{label} count", "state_topic": state, "state_class": "measurement",
            "icon": "mdi:counter"}),
        "image": ("snapshot", {
            "name": f"{label} snapshot", "image_topic": f"{state}/snapshot",
            "content_type": "image/jpeg"}),
    }
    out = []
    for component, (what, config) in entities.items():
        object_id = f"{label}_{what}"
        # default_entity_id (Home Assistant 2025.10+; object_id, its predecessor, is gone)
        payload = {**config, "unique_id": f"{node}_{object_id}",
                   "default_entity_id": f"{component}.{node}_{object_id}", **common}
        out.append((f"{discovery_prefix}/{component}/{node}/{object_id}/config",
                    json.dumps(payload, sort_keys=True)))
    return out
