"""The cameras of a watch run: `Camera` (what a user names: source, name, own rules and
motion), their names made unique, and `CameraWatch`, one camera's parts in a run."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError
from realtime.engine.stats import SourceStats
from realtime.sources import Source
from realtime.tracking.config import TrackConfig
from realtime.tracking.setup import Tracking
from realtime.watch.camera import camera_from_source
from realtime.watch.config import WatchConfig, WatchMotionConfig, WatchRuleConfig
from realtime.watch.live import LatestFrame
from realtime.watch.motion import MotionGate
from realtime.watch.recorder import EventRecorder
from realtime.watch.rules import Rule, compile_rules
from realtime.watch.sink import WatchSink

log = logging.getLogger("lookout.watch")


@dataclass
class Camera:
    """One camera of a watch run.

    Attributes:
        source: webcam index, URL or video file.
        name: carried by its events ('' = made from the source).
        rules: its own rules (None = the run's rules).
        motion: its own ``[watch.motion]`` (None = the run's).
        where: names the rules' origin in errors (``home.toml: cameras[1].rules``).
    """

    source: str
    name: str = ""
    rules: list[WatchRuleConfig] | None = None
    motion: WatchMotionConfig | None = None
    where: str = ""


def camera_name(source: str) -> str:
    """A name for a camera from its source: ``webcam0``, a URL's host (never its
    credentials), a file's stem; made safe for topics and file names."""
    text = str(source).strip()
    return f"webcam{text}" if text.isdigit() else camera_from_source(text)


def name_cameras(cameras: list[Camera]) -> list[Camera]:
    """Fill in missing names; names made from sources are made unique (``-2``, ``-3``).

    Raises:
        UserError: two cameras given the same name (their events could not be told apart).
    """
    given = [c.name for c in cameras if c.name]
    twice = sorted({n for n in given if given.count(n) > 1})
    if twice:
        raise UserError(f"cameras: the name {twice[0]!r} is used twice; every camera needs "
                        "its own name")
    taken = set(given)
    out = []
    for cam in cameras:
        if not cam.name:
            base, n = camera_name(cam.source), 1
            name = base
            while name in taken:
                n += 1
                name = f"{base}-{n}"
            taken.add(name)
            cam = dataclasses.replace(cam, name=name)
        out.append(cam)
    return out


class CameraWatch:
    """One camera of a run: its ``[watch]`` values, its rules (compiled once), its motion
    gate and counts file; its `WatchSink` once the camera is open."""

    def __init__(self, camera: Camera, rules: list[WatchRuleConfig], where: str,
                 cfg: WatchConfig, config_name: str, track: TrackConfig,
                 counts_path: Path | None) -> None:
        self.camera, self.counts_path = camera, counts_path
        self.rule_configs = list(camera.rules if camera.rules is not None else rules)
        self.where = camera.where or where
        try:  # rechecks recheck_s against these rules' end_after_s
            self.cfg = dataclasses.replace(cfg, rules=self.rule_configs,
                                           motion=camera.motion or cfg.motion)
        except UserError as exc:
            name = f"cameras[{camera.name}]: " if camera.where else ""
            raise UserError(f"{config_name}: {name}{exc}") from None
        # labels are checked once the model is loaded (`WatchRun._load_model`)
        self.rules: list[Rule] = compile_rules(self.rule_configs, None, self.where, track)
        self.motion = MotionGate(self.cfg.motion)
        self.source: Source | None = None  # opened in start() when it is the only camera
        self.sink: WatchSink | None = None
        self.latest = LatestFrame()  # its newest frame, for the page's live tile

    def outputs(self, recorder: EventRecorder, tracking: Tracking) -> Callable:
        """Builds the camera's sink once it is open (its tracker needs the fps)."""
        def build(source: Source) -> list[WatchSink]:
            self.sink = WatchSink(self.rules, self.cfg, camera=self.camera.name,
                                  recorder=recorder, gate=self.motion, tracking=tracking,
                                  fps=source.fps, counts_path=self.counts_path,
                                  latest=self.latest)
            log.info("%s: watching %s with %d rule(s)", self.camera.name, source.describe(),
                     len(self.rules))
            return [self.sink]
        return build

    def counters(self, source: SourceStats | None) -> dict:
        e = self.sink
        return {"frames": e.frames if e else 0, "detector_runs": e.detector_runs if e else 0,
                "events": e.events if e else 0, "open": len(e.open) if e else 0,
                "motion_frames": self.motion.motion_frames, "gate_frames": self.motion.frames,
                "reconnects": source.reconnects if source else 0,
                "state": source.state if source else "waiting"}
