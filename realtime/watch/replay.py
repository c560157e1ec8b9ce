"""`watch --replay`: recorded clips through the rules and model, scored against reviews.

The clips run as a normal watch job in file mode (every frame, as fast as the detector
goes), into a fresh events folder and with every notifier off, so a person can try a
rule change (score, zone, K-of-N) on what the cameras really saw before deploying it.

Each reviewed event (`realtime.review.store`) is then looked for among the replay's
events: in the clip named after it (``clips/ID.mp4``, the event's own clip), or in a clip
of the same file it came from, overlapping its time (``source``, ``start``..``end``,
give or take ``slack_s``). A replay event of the reviewed label there means the alert
fires. ``right`` and ``missed`` reviews are alerts that should fire, ``wrong`` ones
alerts that should not:

- precision = fired right / (fired right + fired wrong);
- recall = fired right / all right.

Reviews whose recording is not among the clips are not counted (``uncovered``); replay
events no review speaks of are counted as ``unreviewed``.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SLACK_S = 2.0  # a replayed visit may start or end this much apart from the reviewed one


@dataclass
class ReplayScore:
    """How the replayed alerts agree with the reviewed verdicts."""

    true_alerts: int = 0  # right/missed reviews that fire again
    false_alerts: int = 0  # wrong reviews that fire again
    missed: int = 0  # right/missed reviews that do not fire
    quiet: int = 0  # wrong reviews that stay quiet
    uncovered: int = 0  # reviews whose recording was not replayed
    unreviewed: int = 0  # replay events no review speaks of
    rows: list[dict] = field(default_factory=list)  # per review: name, verdict, fired

    @property
    def precision(self) -> float | None:
        fired = self.true_alerts + self.false_alerts
        return self.true_alerts / fired if fired else None

    @property
    def recall(self) -> float | None:
        wanted = self.true_alerts + self.missed
        return self.true_alerts / wanted if wanted else None

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "precision": self.precision, "recall": self.recall}


@dataclass
class ReplayResult:
    score: ReplayScore
    events: int
    events_dir: Path
    clip_seconds: float  # of video replayed
    wall_seconds: float  # it took

    @property
    def speed(self) -> float:
        """Times faster than real time."""
        return self.clip_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0


def score_replay(events: list[dict], reviews: list, clips: list[str | Path],
                 slack_s: float = SLACK_S) -> ReplayScore:
    """Compare the events (one record per event: its last phase) of replaying ``clips``
    with ``reviews``."""
    out = _Scorer(events, [Path(str(c)) for c in clips], slack_s)
    for review in reviews:
        out.add(review)
    return out.finish()


class _Scorer:
    """Accumulates `ReplayScore` one review at a time."""

    def __init__(self, events: list[dict], clips: list[Path], slack_s: float) -> None:
        self.events, self.clips, self.slack_s = events, clips, slack_s
        self.used: set[str] = set()
        self.score = ReplayScore()

    def add(self, review) -> None:
        if review.verdict not in ("right", "wrong", "missed") or not review.event:
            return
        if not any(self._recorded(clip, review) for clip in self.clips):
            self.score.uncovered += 1
            return
        fired = []
        for event in self.events:
            source = Path(str(event.get("source", "")))
            own_clip = source.stem == review.event
            if not self._recorded(source, review):
                continue
            labels = {review.label} if review.verdict != "missed" else {b.label for b in review.boxes}
            if event.get("label") in labels and (own_clip or self._overlaps(event, review)):
                fired.append(event["id"])
        self.used.update(fired)
        should = review.verdict != "wrong"
        if should and fired:
            self.score.true_alerts += 1
        elif should:
            self.score.missed += 1
        elif fired:
            self.score.false_alerts += 1
        else:
            self.score.quiet += 1
        self.score.rows.append({"review": review.name, "verdict": review.verdict,
                                "label": review.label, "fired": fired})

    @staticmethod
    def _recorded(clip: Path, review) -> bool:
        """``clip`` holds the reviewed event: its own clip (clips/ID.mp4), or the file it
        was seen in."""
        return clip.stem == review.event or (
            bool(review.source) and clip.name == Path(review.source).name)

    def _overlaps(self, event: dict, review) -> bool:
        if review.start is None:
            return False
        start, end = float(event.get("start") or 0.0), event.get("end")
        end = float(end) if end is not None else start
        r_end = review.end if review.end is not None else review.start
        return start <= r_end + self.slack_s and end >= review.start - self.slack_s

    def finish(self) -> ReplayScore:
        self.score.unreviewed = sum(1 for e in self.events if e["id"] not in self.used)
        return self.score


def quiet_config(config, events_dir: Path):
    """``config`` with the events going to ``events_dir`` and every notifier off."""
    watch = config.watch
    off = dataclasses.replace(
        watch, events_dir=str(events_dir), clip=False,
        delivery=dataclasses.replace(watch.delivery, console=False, desktop=False),
        webhook=dataclasses.replace(watch.webhook, url="", url_env=""),
        command=dataclasses.replace(watch.command, argv=[]),
        mqtt=dataclasses.replace(watch.mqtt, host=""),
        ntfy=dataclasses.replace(watch.ntfy, url=""))
    changes = {"watch": off}
    if getattr(config, "serve", None) is not None:
        changes["serve"] = dataclasses.replace(config.serve, public_url="")
    return dataclasses.replace(config, **changes)


def replay(model, clips: list[str | Path], config, truth: str | Path, *,
           rules=None, rules_where: str = "watch.rules", events_dir: str | Path | None = None,
           progress=None) -> ReplayResult:
    """Run ``clips`` through ``model`` and the rules in file mode; score against ``truth``.

    Args:
        config: the run's settings (``watch``, ``detector``, ``pipeline``, ``track``).
        truth: the review folder.
        rules: rule configs to try (default: ``config.watch.rules``).
        events_dir: where the replay's events go (default: a temporary folder, removed).
    """
    from core.errors import UserError
    from realtime.review.store import ReviewStore
    from realtime.watch.events import read_events
    from realtime.watch.runner import Camera, run_watch

    truth = Path(truth)
    reviews = [r for r in ReviewStore(truth.parent, truth).list() if r.verdict]
    if not reviews:
        raise UserError(f"{truth}: no reviewed events (verdicts) to compare with")
    missing = [c for c in clips if not Path(c).is_file()]
    if missing:
        raise UserError(f"{missing[0]}: no such clip")
    with tempfile.TemporaryDirectory(prefix="lookout-replay-") as tmp:
        folder = Path(events_dir) if events_dir else Path(tmp)
        cameras = [Camera(str(c)) for c in clips]
        started = time.monotonic()
        result = run_watch(model, None, quiet_config(config, folder), cameras=cameras,
                           rules=rules, rules_where=rules_where, mode="file", drain_s=0.0,
                           progress=progress)
        wall = time.monotonic() - started
        last: dict[str, dict] = {}
        for record in read_events(folder / "events.jsonl"):
            last[record["id"]] = record
    seconds = sum(_duration(c) for c in clips)
    return ReplayResult(score_replay(list(last.values()), reviews, clips), result.events, folder,
                        seconds, wall)


def _duration(clip) -> float:
    import cv2

    cap = cv2.VideoCapture(str(clip))
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        frames = cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0
    finally:
        cap.release()
    return frames / fps if fps > 0 else 0.0
