"""Detections as data: JSONL (one line per frame, streamed) and COCO results JSON."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TextIO

from core.fileio import atomic_write_text
from realtime.frames import FrameResult
from realtime.sinks.base import Sink, StopPipeline


def result_record(result: FrameResult) -> dict:
    """The JSONL line of one frame: boxes in pixels ``[x1, y1, x2, y2]`` (with
    ``track_id`` where tracked), and the counts where lines or zones are set."""
    frame = result.frame
    record = {
        "source": frame.source,
        "frame": frame.index,
        "timestamp": round(frame.timestamp, 4),
        "detected": result.detected,
        "detections": result.detections.to_dicts(),
    }
    if result.tracking is not None and result.tracking.counts is not None:
        record["counts"] = result.tracking.counts  # crossings so far, objects in zones now
    return record


class JsonlSink(Sink):
    """One JSON object per frame, flushed line by line (``-`` = stdout), so another
    program can follow it live and a crash loses at most the last line."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path == "-":
            self._file: TextIO = sys.stdout
        else:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.lines = 0

    def write(self, result: FrameResult) -> None:
        try:
            self._file.write(json.dumps(result_record(result)) + "\n")
            self._file.flush()
        except BrokenPipeError:  # `lookout live ... | head`: the reader left, stop quietly
            if self._file is not sys.stdout:
                raise
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - no more flush errors at exit
            raise StopPipeline from None
        self.lines += 1

    def close(self) -> None:
        if self._file is not sys.stdout and not self._file.closed:
            self._file.close()


class CocoSink(Sink):
    """COCO detection results (``[{image_id, category_id, bbox: [x, y, w, h], score}]``,
    image_id = frame index), written atomically at close: what pycocotools' ``loadRes``
    reads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict] = []
        self._closed = False

    def write(self, result: FrameResult) -> None:
        dets = result.detections
        for (x1, y1, x2, y2), score, cid in zip(dets.xyxy, dets.scores, dets.class_ids,
                                                strict=True):
            self.rows.append({
                "image_id": result.frame.index, "category_id": int(cid),
                "bbox": [round(float(v), 2) for v in (x1, y1, x2 - x1, y2 - y1)],
                "score": round(float(score), 5),
            })

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        atomic_write_text(self.path, json.dumps(self.rows))
