"""The runtime's config tables: ``[detector]``, ``[pipeline]``, ``[annotate]``, ``[live]``.

Ranges and choices are part of each field; building a table checks them (see
`core.config`), so the code that uses a value can trust it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.config import Problem, Section, doc

BUNDLE_FORMATS = ("auto", "saved_model", "frozen_graph", "tflite", "int8")
RTSP_TRANSPORTS = ("tcp", "udp")
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                "slower", "veryslow", "placebo")


@dataclass
class DetectorConfig(Section):
    table = "detector"

    device: str = doc("auto", "auto | cpu | gpu | gpu:N")
    score: float = doc(0.5, "minimum detection score kept", ge=0.0, le=1.0)
    max_det: int = doc(0, "at most this many detections per frame (0 = all the model "
                       "returns: 100, or what its training data needed)", ge=0)
    classes: list[str] = doc([], "keep only these labels ([] = all)")
    labels: str = doc("", "label_map.pbtxt for models without a bundle")
    bundle_format: str = doc("auto", "which file of a bundle runs: auto (on a CPU "
                             "model_int8.tflite if evaluated within max_ap50_drop, else "
                             "model.tflite when the bundle has one; else saved_model) | "
                             "saved_model | frozen_graph | tflite | int8", choices=BUNDLE_FORMATS)
    max_ap50_drop: float = doc(0.02, "auto runs model_int8.tflite only if the bundle's "
                               "evaluation (lookout export or eval) measured it at most this "
                               "much AP50 below model.tflite",
                               ge=0.0, le=1.0)
    workers: int = doc(0, "detector calls run side by side (.tflite: one interpreter each; "
                          "0 = one per core for .tflite, 1 for TensorFlow models)", ge=0)
    threads: int = doc(0, "CPU threads per .tflite interpreter (0 = the cores / workers)", ge=0)
    tile: str | int = doc("auto", "tiled detection for small objects in big frames: auto (at "
                          "the bundle's input size, when the frame is 2x larger and tiles won "
                          "by 0.03 AP50 in the bundle's evaluation) | off | tile size in px")

    def problems(self) -> Iterable[Problem]:
        if not re.fullmatch(r"auto|cpu|gpu(:\d+)?", self.device):
            yield "device", f"expected auto, cpu, gpu or gpu:N, got {self.device!r}"
        tile = str(self.tile).strip().lower()
        if tile not in ("auto", "off") and not (tile.isdigit() and int(tile) >= 32):
            yield "tile", f"expected auto, off or a tile size in pixels (>= 32), got {self.tile!r}"


@dataclass
class PipelineConfig(Section):
    table = "pipeline"

    batch: int = doc(4, "frames per detector call", ge=1)
    max_wait_ms: float = doc(20.0, "send a partial batch after this many ms", ge=0.0)
    stride: int = doc(1, "read every Nth frame", ge=1)
    queue_size: int = doc(8, "bound of every inter-stage queue", ge=1)
    resize: int = doc(0, "shrink frames so the longer side is at most N px before the detector "
                         "(boxes come back in original pixels; 0 = off)", ge=0)
    open_timeout_s: float = doc(10.0, "give up opening a camera or stream after this long",
                                gt=0.0)
    read_timeout_s: float = doc(5.0, "treat a live stream as dropped after this long without "
                                     "a frame", gt=0.0)
    reconnect_backoff_s: float = doc(0.5, "first wait before reconnecting a dropped live source",
                                     gt=0.0)
    reconnect_backoff_max_s: float = doc(8.0, "the wait doubles up to this", gt=0.0)
    reconnect_give_up_s: float = doc(0.0, "stop after a live source is down this long "
                                          "(0 = never)", ge=0.0)
    rtsp_transport: str = doc("tcp", "tcp | udp: how rtsp:// streams carry the video (tcp gets "
                                     "through NAT and firewalls)", choices=RTSP_TRANSPORTS)
    max_bad_frames: int = doc(50, "stop a file after this many undecodable frames in a row", ge=1)

    def problems(self) -> Iterable[Problem]:
        if self.reconnect_backoff_max_s < self.reconnect_backoff_s:
            yield "reconnect_backoff_max_s", (f"{self.reconnect_backoff_max_s} is below "
                   f"reconnect_backoff_s {self.reconnect_backoff_s}")


@dataclass
class AnnotateConfig(Section):
    table = "annotate"

    crf: int = doc(23, "H.264 quality of the annotated video (lower = better and bigger)",
                   ge=0, le=51)
    # ultrafast: measured by `lookout bench pipeline --stages` on 720p at crf 23 (2 cores,
    # loaded): 4.6 ms/frame (37 % of a 256 px detector) vs veryfast 8.7 ms (71 %), PSNR
    # 47.2 vs 43.6 dB, SSIM 0.994 vs 0.991 against the frames it was handed; the price is
    # ~3x the bytes (2.8 vs 0.9 Mbit/s). CPU left to the detector matters more here.
    preset: str = doc("ultrafast", "x264 preset (faster presets leave more CPU to the detector "
                      "and write bigger files; veryfast: ~1/3 the size for ~2x the encode CPU)",
                      choices=X264_PRESETS)
    audio: bool = doc(True, "keep the source's audio track")
    fill_gaps: bool = doc(True, "repeat the last frame over undecodable ones (keeps A/V sync)")


@dataclass
class LiveConfig(Section):
    table = "live"

    batch: int = doc(1, "frames per detector call in live mode (1 = lowest latency)", ge=1)
    window: bool = doc(True, "show a window (false = stream detections only)")
    snapshot_dir: str = doc("snapshots", "where the 's' key saves annotated frames")
