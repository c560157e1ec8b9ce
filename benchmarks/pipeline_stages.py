"""CPU per frame of each stage of `annotate`, for `lookout bench pipeline --stages`.

Each stage is the same function the engine calls, run over the same frames one stage
after another in this process: decode (`CaptureSource`), resize (`batching.shrink`),
detector (``detect`` in batches + `scale_detections`), track (`TrackStep` with the
default `[track]`), draw (`draw_result`), encode (`Mp4Writer`: RGB→I420 and the pipe
here, x264 in its ffmpeg child) and mux (`media.mux_audio`, another ffmpeg child).
Nothing runs beside a stage, so the process's CPU time while it runs (``process_time``,
which also counts LiteRT's worker threads) plus its ffmpeg children's is its cost. The
engine's hot path carries no timers: this measures it from outside.
"""

from __future__ import annotations

import resource
import threading
import time
from pathlib import Path

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


def stage_costs(detector, clip: Path, work: Path, *, resize: int, batch: int,
                preset: str, frames: int = 0) -> dict[str, float]:
    """CPU milliseconds per frame of each stage in `STAGES` on ``clip``'s first
    ``frames`` frames (0 = all)."""
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

    keep = _Keep()
    (step,) = Tracking().step([keep], fps)
    start = _cpu()
    for frame, d in zip(decoded, dets, strict=True):
        step.write(FrameResult(frame, d))
    cpu["track"] = _cpu() - start

    # Draw and encode frame by frame, each drawn frame dropped once written, as the
    # engine does: keeping 720p drawings in a list cost ~1.2 ms/frame more in fresh pages.
    video = work / "stages.mp4"
    cpu["draw"] = cpu["encode"] = 0.0
    kids = _cpu() - time.process_time()
    with Mp4Writer(video, fps, preset=preset) as writer:  # silent: mux is its own stage
        for r in keep.results:
            t0 = time.process_time()
            rgb = draw_result(r)
            t1 = time.process_time()
            writer.write(rgb)
            cpu["draw"] += t1 - t0
            cpu["encode"] += time.process_time() - t1
    cpu["encode"] += _cpu() - time.process_time() - kids  # x264 in ffmpeg, waited at close

    start = _cpu()
    mux_audio(video, clip, work / "stages_audio.mp4", duration=n / fps)
    cpu["mux"] = _cpu() - start

    out = {k: 1000 * v / n for k, v in cpu.items()}
    out["frames"] = n
    out["boxes_per_frame"] = sum(len(d) for d in dets) / n
    return out


def report_stages(s: dict, preset: str) -> None:
    det = s["detector"]
    print(f"CPU per frame by stage ({s['frames']:.0f} frames of 1280x720, {s['boxes_per_frame']:.1f} "
          f"boxes/frame, x264 preset {preset}; share = of the detector's CPU)")
    for name in STAGES:
        print(f"  {name:<10} {s[name]:8.2f} ms/frame  {100 * s[name] / det:7.1f} %")
    rest = sum(s[k] for k in STAGES if k != "detector")
    print(f"  {'all but the detector':<20} {rest:8.2f} ms/frame  {100 * rest / det:7.1f} %")
    print(f"  track + draw         {s['track'] + s['draw']:8.2f} ms/frame  "
          f"{100 * (s['track'] + s['draw']) / det:7.1f} %  (goal < 5 %)")
