"""Grab frames from a video to label: every N seconds or frames, optionally only new scenes.

``extract_frames`` writes JPEGs named ``<clip stem>_<HH-MM-SS.mmm>.jpg`` (the frame's
timestamp in the clip), which sort in time order and tell where each frame came from.
With ``scene`` a frame is kept only when it differs enough from the last kept one, so a
still camera does not give a hundred copies of the same picture to label.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from core.errors import UserError
from core.fileio import atomic_write_bytes
from core.progress import OnProgress
from core.progress import report as report_progress

# mean grey-level change (fraction of 255) of a 64x36 thumbnail: averaging keeps sensor
# noise well below it, while an object covering a tenth of the view moves it by ~0.05
DEFAULT_SCENE = 0.04
_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")


@dataclass(frozen=True)
class Every:
    """A sampling interval: ``seconds`` (time) or ``frames`` (count), exactly one set."""

    seconds: float | None = None
    frames: int | None = None

    @classmethod
    def parse(cls, text: str) -> Every:
        """``"2s"``, ``"500ms"``, ``"1m"`` (time) or ``"30"`` (every 30th frame)."""
        m = _EVERY.match(str(text))
        if not m or float(m[1]) <= 0:
            raise UserError(f"--every {text!r}: give a duration like 2s, 500ms, 1m or a frame "
                            "count like 30 (positive)")
        if m[2] is None:
            if not m[1].isdigit():
                raise UserError(f"--every {text!r}: a frame count is a whole number "
                                "(add 's' for seconds)")
            return cls(frames=int(m[1]))
        scale = {"ms": 0.001, "s": 1.0, "m": 60.0}[m[2]]
        return cls(seconds=float(m[1]) * scale)


@dataclass
class FramesReport:
    """What `extract_frames` did."""

    out_dir: Path
    read: int = 0
    written: list[Path] = field(default_factory=list)
    skipped_similar: int = 0
    fps: float = 0.0


def frame_name(stem: str, seconds: float) -> str:
    """``clip_00-01-02.500.jpg`` for 62.5 s into ``clip``."""
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{stem}_{h:02d}-{m:02d}-{s:02d}.{ms:03d}.jpg"


def scene_change(a: np.ndarray, b: np.ndarray) -> float:
    """How different two small grey thumbnails are: mean absolute change in [0, 1]."""
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16)))) / 255.0


def _thumbnail(bgr: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, (64, 36), interpolation=cv2.INTER_AREA)


def extract_frames(video: str | Path, out_dir: str | Path, every: Every, *,
                   scene: float | None = None, quality: int = 95,
                   on_progress: OnProgress | None = None) -> FramesReport:
    """Write the sampled frames of ``video`` into ``out_dir`` as JPEGs.

    Args:
        every: keep a frame every ``seconds`` of video time, or every ``frames`` frames
            (the first frame is always a candidate).
        scene: when set, keep a candidate only if it differs from the last kept frame
            by at least this much (`scene_change`, 0..1).
        quality: JPEG quality.
        on_progress: gets ``frames`` reports: frames read of the clip's frame count.

    Raises:
        UserError: the video cannot be opened or holds no frame.
    """
    video = Path(video)
    if not video.is_file():
        raise UserError(f"{video}: no such video file")
    if scene is not None and not 0 <= scene <= 1:
        raise UserError(f"--scene {scene}: a change threshold between 0 and 1")
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise UserError(f"{video}: cannot open it as a video (corrupt or not a video)")
    fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
    fps = fps if math.isfinite(fps) and 0 < fps < 1000 else 25.0  # some files report none
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = FramesReport(out_dir, fps=fps)
    next_time = 0.0
    last_kept: np.ndarray | None = None
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            index = report.read
            report.read += 1
            seconds = index / fps  # frame index / fps: exact for constant-rate clips
            if every.frames is not None:
                candidate = index % every.frames == 0
            else:
                half = 0.5 / fps  # a frame stands for [t - half, t + half)
                candidate = seconds + half >= next_time
                while next_time <= seconds + half:
                    next_time += every.seconds
            if candidate and scene is not None:
                thumb = _thumbnail(bgr)
                if last_kept is not None and scene_change(thumb, last_kept) < scene:
                    report.skipped_similar += 1
                    candidate = False
                else:
                    last_kept = thumb
            if candidate:
                path = out_dir / frame_name(video.stem, seconds)
                ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
                if not ok:
                    raise UserError(f"{video}: frame {index}: cannot encode it as JPEG")
                atomic_write_bytes(path, data.tobytes())
                report.written.append(path)
            report_progress(on_progress, "frames", report.read, total)
    finally:
        capture.release()
    if report.read == 0:
        raise UserError(f"{video}: no frame could be decoded (corrupt or not a video)")
    return report
