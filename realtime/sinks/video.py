"""Annotated H.264 mp4 via imageio-ffmpeg, with the source's audio muxed back in.

Frames go to a hidden temporary mp4 next to the output; `close` (always called by the
pipeline, also on Ctrl+C and errors) lets ffmpeg finish that file, muxes the source's
audio track back in with the ffmpeg binary, and renames the result into place. So the
output is either absent or a complete, playable mp4, however the run ended.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np

from realtime.frames import FrameResult
from realtime.media import mux_audio
from realtime.sinks.base import Sink


class VideoSink(Sink):
    """Draws the detections on every frame and encodes them.

    Args:
        path: the ``.mp4`` to write.
        fps: output frame rate (the source's, divided by the stride).
        audio_from: a media file whose first audio track to keep (None = silent).
        stride: the source's stride, to tell a gap from a frame that was never read.
        fill_gaps: repeat the last frame over undecodable ones so picture and sound stay
            in sync.
        crf, preset: x264 quality and speed.
    """

    def __init__(self, path: str | Path, fps: float, audio_from: str | Path | None = None,
                 stride: int = 1, fill_gaps: bool = True, crf: int = 23,
                 preset: str = "veryfast") -> None:
        from realtime.drawing import draw_detections

        self.draw = draw_detections
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp_video = self.path.with_name(f".{self.path.name}.video.mp4")
        self.tmp_final = self.path.with_name(f".{self.path.name}.tmp.mp4")
        self.fps = fps if fps > 0 else 25.0
        self.audio_from = audio_from
        self.stride, self.fill_gaps = stride, fill_gaps
        self.crf, self.preset = crf, preset
        self.frames = 0
        self.size: tuple[int, int] | None = None
        self._writer = None
        self._last: tuple[int, np.ndarray] | None = None
        self._closed = False

    def _open(self, width: int, height: int) -> None:
        self.size = (width, height)
        self._writer = imageio_ffmpeg.write_frames(
            str(self.tmp_video), self.size, fps=self.fps, codec="libx264",
            pix_fmt_in="yuv420p", pix_fmt_out="yuv420p", quality=None, macro_block_size=1, ffmpeg_log_level="error",
            output_params=["-crf", str(self.crf), "-preset", self.preset, "-f", "mp4"],
        )
        self._writer.send(None)

    def write(self, result: FrameResult) -> None:
        frame = result.frame
        rgb = self.draw(frame.rgb, result.detections)
        h, w = rgb.shape[:2]
        rgb = np.ascontiguousarray(rgb[: h - h % 2, : w - w % 2])  # yuv420p needs even sides
        if self._writer is None:
            self._open(rgb.shape[1], rgb.shape[0])
        if self.fill_gaps and self._last is not None:
            last_index, last_rgb = self._last
            for _ in range((frame.index - last_index) // self.stride - 1):
                self._send(last_rgb)
        self._send(rgb)
        self._last = (frame.index, rgb)

    def _send(self, rgb: np.ndarray) -> None:
        if (rgb.shape[1], rgb.shape[0]) != self.size:  # an image folder of mixed sizes
            rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
        # OpenCV's SIMD RGB→I420 is cheaper than ffmpeg's swscale, and halves the pipe.
        self._writer.send(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420))
        self.frames += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is None:
            return
        self._writer.close()  # ffmpeg writes the moov atom: the temp file is playable now
        self._writer = None
        try:
            if self.audio_from and mux_audio(self.tmp_video, self.audio_from, self.tmp_final,
                                                 duration=self.frames / self.fps):
                os.replace(self.tmp_final, self.path)
                self.tmp_video.unlink()
            else:
                os.replace(self.tmp_video, self.path)
        finally:
            for tmp in (self.tmp_video, self.tmp_final):
                tmp.unlink(missing_ok=True)
