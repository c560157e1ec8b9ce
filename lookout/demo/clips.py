"""Sample clips made by the project, deterministic by seed (same seed, same mp4 bytes).

- `make_clip`: an H.264 mp4 of the sample shapes drifting, crossing and occluding each other,
  with an audio track (a chirp and beeps), for `lookout annotate`;
- `make_doorbell_clip`: a still porch scene with sensor noise that one shape enters, stays
  in, and leaves, for `lookout watch`.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from lookout.demo.samples import (
    CLASSES,
    Shape,
    background,
    class_colour,
    finish,
    paint,
    random_shape,
)


@dataclass(frozen=True)
class ClipInfo:
    """What a generated clip holds (for tests and the demo's summary)."""

    path: Path
    width: int
    height: int
    fps: int
    frames: int
    visit: tuple[float, float] | None = None  # doorbell: (enter, leave) seconds, visitor in view
    visitor: str | None = None


def _tone_wav(path: Path, seconds: float, rate: int = 22050) -> None:
    """A rising chirp with a soft beep every second: an audio track to keep through annotate."""
    t = np.arange(int(seconds * rate)) / rate
    f0, f1 = 220.0, 880.0
    phase = 2 * math.pi * (f0 * t + (f1 - f0) * t * t / (2 * seconds))
    beep = (np.sin(2 * math.pi * 1320 * t) * ((t % 1.0) < 0.08))
    signal = 0.3 * np.sin(phase) + 0.2 * beep
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((signal * 32767).astype("<i2").tobytes())


def _write_mp4(path: Path, frames: Iterator[np.ndarray], width: int, height: int, fps: int,
               seconds: float) -> None:
    """H.264 + AAC mp4 via imageio-ffmpeg, bit-exact flags so a seed gives the same bytes."""
    from realtime.mp4 import Mp4Writer

    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.stem}."))
    try:
        wav = tmpdir / "audio.wav"
        _tone_wav(wav, seconds)
        bitexact = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
                    "-map_metadata", "-1", "-shortest"]
        with Mp4Writer(path, fps, crf=18, audio_path=wav, extra_params=bitexact) as writer:
            for frame in frames:
                writer.write(frame)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def clip_frames(seed: int = 0, width: int = 320, height: int = 240, fps: int = 15,
                seconds: float = 10.0, objects: int = 4) -> Iterator[np.ndarray]:
    """Frames of shapes drifting and bouncing over a fixed backdrop (they cross and occlude)."""
    rng = np.random.default_rng(seed)
    backdrop = background(rng, height, width)
    short = min(width, height)
    movers = []
    for i in range(objects):
        shape = random_shape(rng, width, height, short * 0.18, short * 0.35, CLASSES[i % len(CLASSES)])
        speed = rng.uniform(30, 70)  # px per second
        heading = rng.uniform(0, 2 * math.pi)
        movers.append([shape, speed * math.cos(heading), speed * math.sin(heading),
                       rng.uniform(-40, 40)])
    for _ in range(round(seconds * fps)):
        canvas = backdrop.copy()
        ids = np.zeros((height, width), np.int32)
        for k, (shape, vx, vy, spin) in enumerate(movers):
            paint(canvas, ids, shape, k + 1)
            cx, cy = shape.cx + vx / fps, shape.cy + vy / fps
            half = shape.size / 2
            if cx < half or cx > width - half:  # bounce off the walls
                vx = abs(vx) if cx < half else -abs(vx)
            if cy < half or cy > height - half:
                vy = abs(vy) if cy < half else -abs(vy)
            movers[k] = [Shape(shape.label, cx, cy, shape.size, shape.angle + spin / fps,
                               shape.aspect, shape.rgb), vx, vy, spin]
        yield finish(canvas, rng, 2.0)


def make_clip(path: str | Path, *, seed: int = 0, width: int = 320, height: int = 240,
              fps: int = 15, seconds: float = 10.0) -> ClipInfo:
    """Write the sample clip (moving shapes, audio track) to ``path`` atomically."""
    path = Path(path)
    _write_mp4(path, clip_frames(seed, width, height, fps, seconds), width, height, fps, seconds)
    return ClipInfo(path, width, height, fps, round(seconds * fps))


def doorbell_frames(seed: int = 0, width: int = 320, height: int = 240, fps: int = 10,
                    seconds: float = 12.0, visitor: str = "circle",
                    visit: tuple[float, float] = (3.0, 9.0)) -> Iterator[np.ndarray]:
    """A still porch (wall, door, floor) with sensor noise; ``visitor`` walks in, waits, walks out.

    The visitor slides in from the left during the first 1.5 s of ``visit``, stands in front
    of the door, and leaves to the right during the last 1.5 s.
    """
    rng = np.random.default_rng(seed)
    scene = np.empty((height, width, 3), np.float32)
    gy = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    scene[:] = np.array([170, 165, 155], np.float32) - 40 * gy  # wall, darker towards the floor
    floor = int(height * 0.78)
    scene[floor:] = np.array([95, 92, 88], np.float32)
    cv2.rectangle(scene, (int(width * 0.55), int(height * 0.18)), (int(width * 0.78), floor),
                  (110, 100, 92), -1)  # door
    cv2.circle(scene, (int(width * 0.6), int(height * 0.5)), 3, (60, 60, 60), -1)  # knob
    size = min(width, height) * 0.32
    colour = class_colour(rng, visitor)
    rest_x, y = width * 0.42, floor - size * 0.55
    enter, leave = visit
    for i in range(round(seconds * fps)):
        t = i / fps
        canvas = scene.copy()
        if enter <= t <= leave:
            walk = 1.5
            if t < enter + walk:
                x = -size / 2 + (rest_x + size / 2) * (t - enter) / walk
            elif t > leave - walk:
                x = rest_x + (width + size / 2 - rest_x) * (t - (leave - walk)) / walk
            else:
                x = rest_x
            shape = Shape(visitor, x, y, size, 0.0, 1.0, colour)
            paint(canvas, np.zeros((height, width), np.int32), shape, 1)
        yield finish(canvas, rng, 2.0)


def make_doorbell_clip(path: str | Path, *, seed: int = 0, width: int = 320, height: int = 240,
                       fps: int = 10, seconds: float = 12.0, visitor: str = "circle",
                       visit: tuple[float, float] = (3.0, 9.0)) -> ClipInfo:
    """Write the doorbell clip to ``path`` atomically; `ClipInfo.visit` says when to expect the event."""
    path = Path(path)
    frames = doorbell_frames(seed, width, height, fps, seconds, visitor, visit)
    _write_mp4(path, frames, width, height, fps, seconds)
    return ClipInfo(path, width, height, fps, round(seconds * fps), visit, visitor)
