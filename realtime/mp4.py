"""The one H.264 mp4 writer: annotated videos, event clips and the demo's sample clips.

Frames go to a hidden temporary file beside the target through imageio-ffmpeg; `close`
lets ffmpeg finish it (muxing a source's audio back in when asked) and renames it into
place, so the target is either absent or a complete, playable mp4. `abort` drops it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import cv2
import numpy as np


class Mp4Writer:
    """Writes uint8 RGB frames to ``path`` (the first frame fixes the size).

    Args:
        path: the ``.mp4`` to write.
        fps: frame rate.
        crf, preset: x264 quality and speed.
        audio_from: a media file whose first audio track is muxed in on `close`, cut to
            the video's length (None = silent; a file without audio is fine).
        audio_path: an audio file ffmpeg encodes (AAC) while writing (the demo's tone).
        extra_params: more ffmpeg output options (e.g. bit-exact flags).
    """

    def __init__(self, path: str | Path, fps: float, *, crf: int = 23,
                 preset: str = "veryfast", audio_from: str | Path | None = None,
                 audio_path: str | Path | None = None, extra_params: Sequence[str] = ()) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = fps if fps > 0 else 25.0
        self.crf, self.preset = crf, preset
        self.audio_from, self.audio_path, self.extra_params = audio_from, audio_path, extra_params
        self.tmp_video = self.path.with_name(f".{self.path.name}.video.mp4")
        self.tmp_final = self.path.with_name(f".{self.path.name}.tmp.mp4")
        self.size: tuple[int, int] | None = None
        self.frames = 0
        self._writer = None
        self._yuv: np.ndarray | None = None  # one I420 buffer, refilled for every frame

    def _open(self, width: int, height: int) -> None:
        import imageio_ffmpeg

        self.size = (width, height)
        audio = {"audio_path": str(self.audio_path), "audio_codec": "aac"} if self.audio_path else {}
        self._writer = imageio_ffmpeg.write_frames(
            str(self.tmp_video), self.size, fps=self.fps, codec="libx264", pix_fmt_in="yuv420p",
            pix_fmt_out="yuv420p", quality=None, macro_block_size=1, ffmpeg_log_level="error",
            output_params=["-crf", str(self.crf), "-preset", self.preset,
                           *self.extra_params, "-f", "mp4"], **audio)
        self._writer.send(None)

    def write(self, rgb: np.ndarray) -> None:
        if self._writer is None:
            h, w = rgb.shape[:2]
            self._open(w - w % 2, h - h % 2)  # yuv420p needs even sides
        if (rgb.shape[1], rgb.shape[0]) != self.size:
            h, w = rgb.shape[:2]
            if (w - w % 2, h - h % 2) == self.size:  # odd sides: crop the last row/column
                rgb = rgb[:h - h % 2, :w - w % 2]
            else:  # an image folder of mixed sizes
                rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
        # OpenCV's SIMD RGB→I420 is cheaper than ffmpeg's swscale, and halves the pipe.
        # Into the same buffer each time: the pipe write has copied it when send returns,
        # and a fresh 1.4 MB array per 720p frame costs its page faults again.
        self._yuv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420, dst=self._yuv)
        self._writer.send(self._yuv)
        self.frames += 1

    def close(self) -> None:
        """Finish the file and rename it into place (nothing is written without frames)."""
        if self._writer is None:
            return
        writer, self._writer = self._writer, None
        try:
            writer.close()  # ffmpeg writes the moov atom: the temp file is playable now
            from realtime.media import mux_audio

            if self.audio_from and mux_audio(self.tmp_video, self.audio_from, self.tmp_final,
                                             duration=self.frames / self.fps):
                os.replace(self.tmp_final, self.path)
            else:
                os.replace(self.tmp_video, self.path)
        finally:  # also when ffmpeg failed: no hidden half-file is left beside the target
            self._remove_temps()

    def abort(self) -> None:
        """Stop and drop the temporary file; an existing ``path`` stays as it was."""
        if self._writer is not None:
            try:
                self._writer.close()
            finally:
                self._writer = None
        self._remove_temps()

    def _remove_temps(self) -> None:
        for tmp in (self.tmp_video, self.tmp_final):
            tmp.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        self.close() if exc_type is None else self.abort()
