"""Annotated frames as image files in a folder (``frame_000123.jpg``)."""

from __future__ import annotations

from pathlib import Path

import cv2

from realtime.frames import FrameResult
from realtime.sinks.base import Sink


class ImageFolderSink(Sink):
    """Writes every frame, boxes drawn, as ``frame_{index:06d}.{ext}``."""

    def __init__(self, folder: str | Path, ext: str = "jpg") -> None:
        from realtime.drawing import draw_result

        self.draw = draw_result
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ext = ext.lstrip(".")
        self.written = 0

    def write(self, result: FrameResult) -> None:
        rgb = self.draw(result)
        path = self.folder / f"frame_{result.frame.index:06d}.{self.ext}"
        if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise OSError(f"{path}: cannot write image")
        self.written += 1
