"""What the video benchmarks run on: a generated 720p clip with audio, its decoded frames,
a real RetinaNet bundle built once (`ensure_bench_model`), a paced live source, a
detector that finds nothing, and the process's RSS."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

from realtime.bundle import BundleMeta
from realtime.detections import Detections
from realtime.detectors.base import Detector
from realtime.frames import Frame
from realtime.sources import Source

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".lookout-cache" / "bench"


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class NoDetector(Detector):
    """Finds nothing, instantly: `annotate` with it measures everything but the model."""

    names, kind = {1: "nothing"}, "none"

    def detect(self, images):
        return [Detections.empty() for _ in images]


# --------------------------------------------------------------------------- inputs


class PacedSource(Source):
    """A live camera stand-in: cycles ``frames`` at ``fps`` for ``seconds``."""

    live = True

    def __init__(self, frames: list[np.ndarray], fps: float, seconds: float) -> None:
        super().__init__()
        self.name, self.images, self.fps, self.seconds = "paced", frames, fps, seconds
        self.size = (frames[0].shape[1], frames[0].shape[0])

    def frames(self, stop: threading.Event):
        start, i = time.monotonic(), 0
        while not stop.is_set() and time.monotonic() - start < self.seconds:
            if (wait := start + i / self.fps - time.monotonic()) > 0:
                time.sleep(wait)
            yield Frame(self.name, i, i / self.fps, self.images[i % len(self.images)])
            i += 1


def make_720p_clip(path: Path, n: int, fps: int = 30) -> Path:
    """A 1280x720 clip with texture, moving objects and a sine audio track."""
    return make_clip(path, n, fps)


def make_clip(path: Path, n: int, fps: int = 30, size: tuple[int, int] = (1280, 720),
              audio: bool = True) -> Path:
    """A clip with texture (8 px cells) and two moving boxes, scaled to ``size``; a sine
    audio track unless ``audio`` is False."""
    import subprocess

    import imageio_ffmpeg

    width, height = size
    s = width / 1280  # positions and sizes are laid out for 1280 px
    rng = np.random.default_rng(0)
    base = (rng.integers(60, 200, (height // 8, width // 8, 3), dtype=np.uint8)
            ).repeat(8, 0).repeat(8, 1)
    video = path.with_suffix(".silent.mp4") if audio else path
    w = imageio_ffmpeg.write_frames(str(video), (width, height), fps=fps, codec="libx264",
                                    quality=None, macro_block_size=1,
                                    output_params=["-preset", "veryfast"], ffmpeg_log_level="error")
    w.send(None)
    for i in range(n):
        img = base.copy()
        x, y = round(s * ((40 + 9 * i) % 1100)), round(s * ((60 + 4 * i) % 500))
        img[y: y + round(s * 180), x: x + round(s * 140)] = (180, 110, 60)
        x = round(s * ((900 - 7 * i) % 1100))
        img[round(s * 400):round(s * 560), x:x + round(s * 160)] = (90, 60, 160)
        w.send(img)
    w.close()
    if not audio:
        return path
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(video),
                    # a finite tone: an endless one cut by -shortest can make ffmpeg 7 exit 228
                    "-f", "lavfi", "-i", f"sine=frequency=440:duration={n / fps:.4f}",
                    "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", str(path)],
                   check=True)
    video.unlink()
    return path


def decode(clip: Path) -> list[np.ndarray]:
    import cv2

    cap, out = cv2.VideoCapture(str(clip)), []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return out


def shrink(rgb: np.ndarray, size: int) -> np.ndarray:
    from realtime.batching import shrink as fit

    return fit(rgb, size)[0]


def bundle_input(model: Path) -> tuple[str, int | None]:
    """The bundle's architecture and input size (``?`` and None for other models)."""
    meta = BundleMeta.read_if_present(model) if model.is_dir() else None
    return (meta.architecture, meta.input_size) if meta else ("?", None)


def ensure_bench_model() -> Path:
    """A real RetinaNet MobileNetV2-FPN bundle (built once; reused from the cache)."""
    bundle = CACHE / "retinanet-bundle"
    if BundleMeta.path(bundle).is_file():
        return bundle
    from training.config import DatasetConfig, TrainConfig
    from training.datasets.build import build_dataset
    from training.export import export_bundle
    from training.train import train

    print("building the benchmark model (once): fruit-nuts, RetinaNet MobileNetV2-FPN, 2 steps")
    from tests.fixtures.datasets import tutorial_data

    build_dataset(tutorial_data("fruit-nuts") / "train", CACHE / "dataset", DatasetConfig(max_size="320x240"))
    train(CACHE / "dataset", CACHE / "run", TrainConfig(steps=2, batch=2, input_size=256,
                                                         checkpoint_every=2), evaluate_at_end=False)
    try:
        export_bundle(CACHE / "run", bundle, tflite=True)
    except Exception as exc:  # noqa: BLE001 - measure without LiteRT rather than not at all
        print(f"TFLite export failed ({type(exc).__name__}: {exc}); exporting without it")
        export_bundle(CACHE / "run", bundle, tflite=False)
    return bundle
