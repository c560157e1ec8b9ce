"""Checks of the ``[watch]`` values that the typed loader cannot see: ranges, and values
that only make sense together (a re-check slower than ``end_after_s`` would end the
event of a person standing still). Each problem is a one-line `UserError`."""

from __future__ import annotations

from lookout.config import WatchConfig
from lookout.errors import UserError
from realtime.watch.rules import Rule


def check_watch_config(cfg: WatchConfig, rules: list[Rule], where: str = "config.toml") -> None:
    """Raise `UserError` ``WHERE: watch.KEY: problem`` for the first bad value."""
    def bad(key: str, message: str) -> UserError:
        return UserError(f"{where}: watch.{key}: {message}")

    m, d = cfg.motion, cfg.delivery
    ranges = [
        ("motion.width", m.width, 8, 4096), ("motion.pixel_threshold", m.pixel_threshold, 1, 254),
        ("motion.min_fraction", m.min_fraction, 0.0, 1.0),
        ("motion.background_alpha", m.background_alpha, 1e-4, 1.0),
        ("snapshot_keep", cfg.snapshot_keep, 1, 10**9), ("edge_margin", cfg.edge_margin, 0, 10**4),
    ]
    for key, value, lo, hi in ranges:
        if not lo <= value <= hi:
            raise bad(key, f"{value} is not in [{lo:g}, {hi:g}]")
    positive = [("motion.recheck_s", m.recheck_s), ("delivery.retry_base_s", d.retry_base_s),
                ("snapshot_max_age_days", cfg.snapshot_max_age_days),
                ("health_every_s", cfg.health_every_s), ("clip_max_s", cfg.clip_max_s)]
    for key, value in positive:
        if value <= 0:
            raise bad(key, f"{value} must be > 0")
    for key, value in [("motion.idle_recheck_s", m.idle_recheck_s), ("pre_roll_s", cfg.pre_roll_s),
                       ("delivery.give_up_after_s", d.give_up_after_s)]:
        if value < 0:
            raise bad(key, f"{value} must be >= 0")
    if d.retry_max_s < d.retry_base_s:
        raise bad("delivery.retry_max_s", f"{d.retry_max_s} is below retry_base_s {d.retry_base_s}")
    for phase in d.on:
        if phase not in ("new", "end"):
            raise bad("delivery.on", f"{phase!r} is not a phase (use new and/or end)")
    shortest = min((r.end_after_s for r in rules), default=None)
    if m.enabled and shortest is not None and m.recheck_s >= shortest:
        raise bad("motion.recheck_s", f"{m.recheck_s} must be shorter than every rule's "
                  f"end_after_s ({shortest:g}), or a visitor standing still would be lost")
