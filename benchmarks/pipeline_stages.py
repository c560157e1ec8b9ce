"""CPU per frame of each stage of `annotate`, for `lookout bench pipeline --stages`.

Each stage is the same function the engine calls, run over the same frames one stage
after another in this process: decode (`CaptureSource`), resize (`batching.shrink`),
detector (``detect`` in batches + `scale_detections`), track (`TrackStep` with the
default `[track]`), draw (`draw_result` in place, as the video sink draws), encode
(`Mp4Writer`: RGB→I420 and the pipe here, x264 in its ffmpeg child) and mux
(`media.mux_audio`, another ffmpeg child). ``boxes`` > 0 hands track and draw that many
boxes per frame moving across it instead of the model's (a barely trained benchmark
model finds none on the generated clip, and their cost grows with the boxes).

`encoder_table`: the same drawn frames encoded once per x264 preset (and crf): CPU per
frame, file size, and ffmpeg's PSNR and SSIM against the I420 frames handed to the
encoder (so RGB→yuv420p's own chroma loss, the same for every setting, is left out).
Nothing runs beside a stage, so the process's CPU time while it runs (``process_time``,
which also counts LiteRT's worker threads) plus its ffmpeg children's is its cost. The
engine's hot path carries no timers: this measures it from outside.
"""

from __future__ import annotations

import resource
import threading
import time
from pathlib import Path

import numpy as np

STAGES = ("decode", "resize", "detector", "track", "draw", "encode", "mux")


def _cpu() -> float:
    """CPU seconds of this process and its waited-for children."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


class _Keep:
    """A sink that keeps what the track step hands on (the draw stage's input)."""

    def __init__(self) -> None:
        self.results: list = []

    def write(self, result) -> None:
        self.results.append(result)

    def close(self) -> None:
        pass


def synthetic_boxes(n: int, index: int, width: int, height: int, names: dict[int, str]):
    """``n`` boxes (a tenth of the frame) gliding right by 4 px a frame, classes in turn."""
    from realtime.detections import Detections

    bw, bh = width / 10, height / 10
    ids = [list(names)[k % len(names)] for k in range(n)]
    xyxy = [[(k * 2.5 * bw + 4 * index) % (width - bw), (k * 1.7 * bh) % (height - bh)]
            for k in range(n)]
    xyxy = [[x, y, x + bw, y + bh] for x, y in xyxy]
    return Detections(np.array(xyxy, np.float32).reshape(-1, 4), np.linspace(0.9, 0.6, n),
                      ids, tuple(names[i] for i in ids))


def stage_costs(detector, clip: Path, work: Path, *, resize: int, batch: int,
                preset: str, frames: int = 0, boxes: int = 0) -> dict:
    """CPU milliseconds per frame of each stage in `STAGES` on ``clip``'s first
    ``frames`` frames (0 = all); ``drawn``: the frames as the encoder got them."""
    from realtime.batching import scale_detections, shrink
    from realtime.config import PipelineConfig
    from realtime.drawing import draw_result
    from realtime.frames import FrameResult
    from realtime.media import mux_audio
    from realtime.mp4 import Mp4Writer
    from realtime.sources import open_source
    from realtime.tracking.setup import Tracking

    cpu: dict[str, float] = {}

    source = open_source(str(clip), PipelineConfig())
    fps = source.fps
    start, decoded = _cpu(), []
    for frame in source.frames(threading.Event()):
        decoded.append(frame)
        if frames and len(decoded) >= frames:
            break
    cpu["decode"] = _cpu() - start
    source.close()
    n = len(decoded)

    start = _cpu()
    small = [shrink(f.rgb, resize) for f in decoded]
    cpu["resize"] = _cpu() - start

    detector.detect([small[0][0]] * min(batch, n))  # warm this batch shape, not counted
    start, dets = _cpu(), []
    for i in range(0, n, batch):
        chunk = small[i: i + batch]
        found = detector.detect([img for img, _ in chunk])
        dets += [scale_detections(d, s) for d, (_, s) in zip(found, chunk, strict=True)]
    cpu["detector"] = _cpu() - start
    if boxes:
        dets = [synthetic_boxes(boxes, f.index, f.width, f.height, detector.names)
                for f in decoded]

    keep = _Keep()
    (step,) = Tracking().step([keep], fps)
    start = _cpu()
    for frame, d in zip(decoded, dets, strict=True):
        step.write(FrameResult(frame, d))
    cpu["track"] = _cpu() - start

    # Draw, then encode: each stage alone, as every stage above is measured. Drawn frame
    # by frame between x264's writes, the draw's CPU time rose 0.21 -> 0.67 ms/frame (2
    # vCPUs: x264 on the other one slows this one), which charged the encoder's
    # cost to the draw; the detector is not timed beside x264 either. In place, as
    # `VideoSink` in `annotate` draws: no new pages.
    start = _cpu()
    for r in keep.results:
        draw_result(r, inplace=True)
    cpu["draw"] = _cpu() - start
    video = work / "stages.mp4"
    start = _cpu()
    with Mp4Writer(video, fps, preset=preset) as writer:  # silent: mux is its own stage
        for r in keep.results:
            writer.write(r.frame.rgb)
    cpu["encode"] = _cpu() - start  # x264 in ffmpeg (a child, waited at close) included

    start = _cpu()
    mux_audio(video, clip, work / "stages_audio.mp4", duration=n / fps)
    cpu["mux"] = _cpu() - start

    out: dict = {k: 1000 * v / n for k, v in cpu.items()}
    out["frames"] = n
    out["fps"] = fps
    out["boxes_per_frame"] = sum(len(d) for d in dets) / n
    out["synthetic_boxes"] = boxes
    out["drawn"] = [f.rgb for f in decoded]  # drawn in place
    return out


def encoder_table(drawn: list[np.ndarray], fps: float, work: Path,
                  settings: list[tuple[str, int]]) -> list[dict]:
    """Per ``(preset, crf)``: encode CPU ms per frame (``Mp4Writer``, x264 in its
    child), kbit/s, and ffmpeg's PSNR (dB, Y/U/V average) and SSIM (All) of the file
    against the I420 frames the encoder was handed (``drawn`` converted as
    ``Mp4Writer`` converts them), so only the encoder's loss counts."""
    import cv2

    from realtime.mp4 import Mp4Writer

    height, width = drawn[0].shape[:2]
    reference = work / "reference.yuv"
    with open(reference, "wb") as f:
        f.writelines(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes() for rgb in drawn)
    rows = []
    for preset, crf in settings:
        video = work / f"enc-{preset}-{crf}.mp4"
        start = _cpu()
        with Mp4Writer(video, fps, crf=crf, preset=preset) as writer:
            for rgb in drawn:
                writer.write(rgb)
        ms = 1000 * (_cpu() - start) / len(drawn)
        kbits = 8 * video.stat().st_size / 1000 / (len(drawn) / fps)
        psnr = _compare(video, reference, width, height, fps, "psnr", r"average:([\d.]+|inf)")
        ssim = _compare(video, reference, width, height, fps, "ssim", r"All:([\d.]+)")
        rows.append({"preset": preset, "crf": crf, "encode_ms": ms, "kbit_s": kbits,
                     "psnr_db": psnr, "ssim": ssim})
        video.unlink()
    reference.unlink()
    return rows


def _compare(video: Path, reference: Path, width: int, height: int, fps: float,
             metric: str, pattern: str) -> float:
    """ffmpeg's ``psnr`` or ``ssim`` filter: ``video`` against raw I420 ``reference``."""
    import re
    import subprocess

    import imageio_ffmpeg

    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(video), "-f", "rawvideo",
         "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", str(fps), "-i", str(reference),
         "-lavfi", f"[0:v][1:v]{metric}", "-f", "null", "-"],
        capture_output=True, text=True, check=True)
    found = re.findall(pattern, done.stderr)
    return float(found[-1]) if found else float("nan")


def report_encoders(rows: list[dict], detector_ms: float) -> None:
    print(f"x264 settings on the same drawn frames (PSNR and SSIM against the I420 frames "
          f"handed to the encoder; the detector takes {detector_ms:.2f} ms/frame)")
    print(f"  {'preset':<10} {'crf':>3} {'encode ms/frame':>16} {'of detector':>12} "
          f"{'kbit/s':>8} {'PSNR dB':>8} {'SSIM':>7}")
    for r in rows:
        print(f"  {r['preset']:<10} {r['crf']:>3} {r['encode_ms']:16.2f} "
              f"{100 * r['encode_ms'] / detector_ms:11.1f}% {r['kbit_s']:8.0f} "
              f"{r['psnr_db']:8.2f} {r['ssim']:7.4f}")


def report_stages(s: dict, preset: str) -> None:
    det = s["detector"]
    boxes = (f"{s['boxes_per_frame']:.1f} synthetic boxes/frame for track and draw"
             if s["synthetic_boxes"] else f"{s['boxes_per_frame']:.1f} boxes/frame")
    print(f"CPU per frame by stage ({s['frames']:.0f} frames of 1280x720, {boxes}, "
          f"x264 preset {preset}; share = of the detector's CPU)")
    for name in STAGES:
        print(f"  {name:<10} {s[name]:8.2f} ms/frame  {100 * s[name] / det:7.1f} %")
    rest = sum(s[k] for k in STAGES if k != "detector")
    print(f"  {'all but the detector':<20} {rest:8.2f} ms/frame  {100 * rest / det:7.1f} %")
    print(f"  track + draw         {s['track'] + s['draw']:8.2f} ms/frame  "
          f"{100 * (s['track'] + s['draw']) / det:7.1f} %  (goal < 5 %)")
