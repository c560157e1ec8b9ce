"""Watch mode's config tables: ``[watch]`` with its motion, delivery and notifier tables
and the ``[[watch.rules]]`` list. Ranges, choices and the rules that tie values together
(a re-check slower than ``end_after_s`` would lose a visitor standing still) are checked
when a table is built."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.config import Problem, Section, doc
from realtime.watch.notify_config import MqttConfig, NtfyConfig

PHASES = ("new", "end")


@dataclass
class WatchRuleConfig(Section):
    """One ``[[watch.rules]]`` entry: which objects make an event."""

    table = "watch.rules"

    name: str = doc("", "rule name used in events and logs ('' = the labels joined)")
    labels: list[str] = doc([], "labels this rule alerts on (must exist in the model)")
    min_score: float = doc(0.5, "a detection counts only at this score or above", ge=0.0, le=1.0)
    median_score: float = doc(0.6, "the tracked object's median score must reach this to alert",
                              ge=0.0, le=1.0)
    min_area: float = doc(0.0, "smallest box: <= 1 is a fraction of the frame, > 1 pixels",
                          ge=0.0)
    max_area: float = doc(1.0, "largest box: <= 1 is a fraction of the frame, > 1 pixels",
                          gt=0.0)
    zones: list[list[list[float]]] = doc([], "polygons [[x, y], ...] (all <= 1: fractions, "
                                         "else pixels); in zone = box bottom-centre inside "
                                         "([] = whole frame)")
    confirm_k: int = doc(3, "confirm an object seen in K ...", ge=1)
    confirm_n: int = doc(5, "... of the last N detector runs", ge=1)
    end_after_s: float = doc(5.0, "end the event after the object is unseen this long", gt=0.0)
    cooldown_s: float = doc(30.0, "no new event for this rule this long after the last one ended",
                            ge=0.0)
    zone: str = doc("", "only objects inside this [[track.zones]] zone ('' = anywhere)")
    crossing: str = doc("", "only objects that crossed a [[track.lines]] line: 'NAME:in' or "
                            "'NAME:out' ('' = no crossing needed)")

    def problems(self) -> Iterable[Problem]:
        if self.confirm_k > self.confirm_n:
            yield "confirm_k", f"need confirm_k ({self.confirm_k}) <= confirm_n ({self.confirm_n})"
        if (self.min_area <= 1) == (self.max_area <= 1) and self.min_area > self.max_area:
            yield "min_area", f"{self.min_area} > max_area {self.max_area}"
        line, _, direction = self.crossing.rpartition(":")
        if self.crossing and (not line or direction not in ("in", "out")):
            yield "crossing", f"{self.crossing!r}: expected 'LINE:in' or 'LINE:out'"


@dataclass
class WatchMotionConfig(Section):
    table = "watch.motion"

    enabled: bool = doc(True, "run the detector only on motion (plus periodic re-checks)")
    width: int = doc(160, "downscale frames to this width for motion detection", ge=8, le=4096)
    pixel_threshold: int = doc(25, "grey-level change (0-255) that counts as a moving pixel",
                               ge=1, le=254)
    min_fraction: float = doc(0.002, "share of moving pixels that counts as motion",
                              ge=0.0, le=1.0)
    background_alpha: float = doc(0.05, "how fast the background follows the scene (0-1)",
                                  ge=1e-4, le=1.0)
    recheck_s: float = doc(1.0, "while objects are present, run the detector at least this often",
                           gt=0.0)
    idle_recheck_s: float = doc(0.0, "with nothing present, still run it this often (0 = never; "
                                     "> 0 also checks the first frame, for objects already there)",
                                ge=0.0)


@dataclass
class WatchWebhookConfig(Section):
    table = "watch.webhook"

    url: str = doc("", "POST events here ('' = off); or set the env var named by url_env")
    url_env: str = doc("LOOKOUT_WEBHOOK_URL", "environment variable holding the URL")
    secret: str = doc("", "HMAC-SHA256 signing secret (never logged); prefer secret_env")
    secret_env: str = doc("LOOKOUT_WEBHOOK_SECRET", "env var with the HMAC secret (never logged)")
    snapshot: bool = doc(True, "include the snapshot JPEG (base64) in the JSON body")
    timeout_s: float = doc(10.0, "HTTP timeout per attempt", gt=0.0)


@dataclass
class WatchCommandConfig(Section):
    table = "watch.command"

    argv: list[str] = doc([], "program and arguments run per event, no shell ([] = off); "
                          "event fields arrive as LOOKOUT_* environment variables")
    timeout_s: float = doc(30.0, "kill the command after this many seconds (counts as failed)",
                           gt=0.0)


@dataclass
class WatchDeliveryConfig(Section):
    table = "watch.delivery"

    on: list[str] = doc(["new"], "event phases that notify: new and/or end", choices=PHASES)
    desktop: bool = doc(False, "desktop notification via notify-send (where it exists)")
    console: bool = doc(True, "print each notified event on the console")
    retry_base_s: float = doc(2.0, "first retry delay; doubles per failed attempt", gt=0.0)
    retry_max_s: float = doc(300.0, "longest retry delay")
    give_up_after_s: float = doc(0.0, "mark a delivery failed after this long (0 = never)",
                                 ge=0.0)

    def problems(self) -> Iterable[Problem]:
        if self.retry_max_s < self.retry_base_s:
            yield "retry_max_s", f"{self.retry_max_s} is below retry_base_s {self.retry_base_s}"


@dataclass
class WatchConfig(Section):
    table = "watch"

    events_dir: str = doc("events", "events.jsonl, snapshots/, clips/ and the delivery spool")
    snapshot_keep: int = doc(1000, "keep at most this many events' snapshots", ge=1)
    snapshot_max_age_days: float = doc(30.0, "delete snapshots and clips older than this", gt=0.0)
    edge_margin: int = doc(2, "a box within this many pixels of the edge counts as cut",
                           ge=0, le=10**4)
    clip: bool = doc(False, "save a short mp4 per event")
    pre_roll_s: float = doc(2.0, "seconds of video before the event in its clip", ge=0.0)
    clip_max_s: float = doc(20.0, "longest clip", gt=0.0)
    health_every_s: float = doc(60.0, "log a health line this often", gt=0.0)
    motion: WatchMotionConfig = doc(WatchMotionConfig(), "[watch.motion]: motion gating")
    delivery: WatchDeliveryConfig = doc(WatchDeliveryConfig(), "[watch.delivery]: notifiers")
    webhook: WatchWebhookConfig = doc(WatchWebhookConfig(), "[watch.webhook]")
    command: WatchCommandConfig = doc(WatchCommandConfig(), "[watch.command]")
    mqtt: MqttConfig = doc(MqttConfig(), "[watch.mqtt]: Home Assistant / MQTT")
    ntfy: NtfyConfig = doc(NtfyConfig(), "[watch.ntfy]: phone push with the snapshot")
    rules: list[WatchRuleConfig] = doc([], "what makes an event: one table per rule (see config.toml)")

    def problems(self) -> Iterable[Problem]:
        for i, rule in enumerate(self.rules):
            if not rule.labels:
                yield f"rules[{i}].labels", "needs at least one label"
        # with no rule, every label alerts with the rule defaults
        shortest = min((r.end_after_s for r in self.rules), default=WatchRuleConfig.end_after_s)
        if self.motion.enabled and self.motion.recheck_s >= shortest:
            yield "motion.recheck_s", (f"{self.motion.recheck_s} must be shorter than every "
                   f"rule's end_after_s ({shortest:g}), or a visitor standing still would be lost")


@dataclass
class CameraConfig(Section):
    """One ``[[cameras]]`` entry of ``lookout watch`` (several cameras, one model)."""

    table = "cameras"

    name: str = doc("", "carried by every event, snapshot name, webhook body and command "
                        "environment ('' = made from the source: a URL's host, a file's stem)")
    source: str = doc("", "webcam index, rtsp:// or http:// URL, or video file")
    rules: list[WatchRuleConfig] | None = doc(None, "[[cameras.rules]]: this camera's rules, "
                                                    "instead of [[watch.rules]]")
    motion: WatchMotionConfig | None = doc(None, "[cameras.motion]: this camera's motion "
                                                 "gating, instead of [watch.motion]")

    def problems(self) -> Iterable[Problem]:
        if not str(self.source).strip():
            yield "source", "missing (a webcam index, URL or video file)"
        for i, rule in enumerate(self.rules or []):
            if not rule.labels:
                yield f"rules[{i}].labels", "needs at least one label"
