"""Annotated H.264 mp4, with the source's audio muxed back in.

Frames are drawn here and encoded by `realtime.mp4.Mp4Writer`; `close` (always called by
the pipeline, also on Ctrl+C and errors) finishes the file, so the output is either
absent or a complete, playable mp4, however the run ended.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from realtime.frames import FrameResult
from realtime.mp4 import Mp4Writer
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
        inplace: draw on the frame itself instead of a copy of it (a 720p frame's copy
            costs more than drawing its boxes). Only for the last sink to see the frame:
            `realtime.annotate.build_sinks` puts the video after every other output.
    """

    def __init__(self, path: str | Path, fps: float, audio_from: str | Path | None = None,
                 stride: int = 1, fill_gaps: bool = True, crf: int = 23,
                 preset: str = "veryfast", inplace: bool = False) -> None:
        from realtime.drawing import draw_detections, draw_result

        self.draw, self.draw_result = draw_detections, draw_result
        self.path = Path(path)
        self.writer = Mp4Writer(self.path, fps, crf=crf, preset=preset, audio_from=audio_from)
        self.fps = self.writer.fps
        self.stride, self.fill_gaps, self.inplace = stride, fill_gaps, inplace
        self._last: tuple[int, np.ndarray] | None = None
        self._closed = False

    @property
    def frames(self) -> int:
        return self.writer.frames

    @property
    def size(self) -> tuple[int, int] | None:
        return self.writer.size

    def write(self, result: FrameResult) -> None:
        frame = result.frame
        rgb = self.draw_result(result, inplace=self.inplace)
        if self.fill_gaps and self._last is not None:
            last_index, last_rgb = self._last
            for _ in range((frame.index - last_index) // self.stride - 1):
                self.writer.write(last_rgb)
        self.writer.write(rgb)
        self._last = (frame.index, rgb)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.writer.close()
