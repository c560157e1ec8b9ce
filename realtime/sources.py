"""Frame sources: video files, webcams, RTSP/HTTP streams and image folders.

`open_source(spec, cfg)` picks the kind from the spec. Every source yields `Frame`s in
RGB (the one BGR→RGB conversion happens here), honours ``stride``, reports its fps and
size, and counts frames it could not decode instead of stopping on them. Live sources
(webcams, URLs) reconnect with exponential backoff when the stream drops.
"""

from __future__ import annotations

import glob
import os
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from core.errors import UserError
from realtime.config import PipelineConfig
from realtime.frames import Frame
from realtime.inputs import IMAGE_SUFFIXES

# FFmpeg's per-packet complaints about a corrupt file would flood the terminal; we count
# the frames instead and report them once.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # no retry chatter

_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/]*@", re.IGNORECASE)
_OPEN_ENV = threading.Lock()  # OpenCV reads its FFmpeg options from the environment


def redact_url(url: str) -> str:
    """``url`` with its credentials hidden: ``rtsp://***@host/path`` (for logs, events,
    errors and window titles; the real URL is only ever handed to the decoder)."""
    return _USERINFO.sub(r"\1***@", url)


class Source(ABC):
    """Where frames come from.

    Attributes:
        name: path, URL or ``webcam:N``; copied into every `Frame`.
        live: True for cameras and streams (drop policy, reconnects, wall-clock times).
        fps: frames per second the source delivers (after stride); 0 when unknown.
        size: ``(width, height)`` of its frames; None when unknown (mixed image folders).
        expected_frames: how many frames a file says it has (after stride); None if unknown.
        decode_failures: frames that could not be decoded (skipped, not fatal).
        first_failure: index of the first such frame, for the report.
        reconnects: times a live source was reopened after dropping.
    """

    name: str
    live: bool = False
    fps: float = 0.0
    size: tuple[int, int] | None = None
    expected_frames: int | None = None

    def __init__(self, stride: int = 1) -> None:
        if stride < 1:
            raise UserError(f"pipeline.stride: must be at least 1, got {stride}")
        self.stride = stride
        self.decode_failures = 0
        self.first_failure: int | None = None
        self.reconnects = 0

    @abstractmethod
    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        """Yield frames until the source ends or ``stop`` is set."""

    def close(self) -> None:
        """Release the device or file."""

    def describe(self) -> str:
        size = f"{self.size[0]}x{self.size[1]}" if self.size else "mixed sizes"
        fps = f" @ {self.fps:.2f} fps" if self.fps else ""
        count = f", {self.expected_frames} frames" if self.expected_frames else ""
        stride = f" (stride {self.stride})" if self.stride > 1 else ""
        return f"{self.name}: {size}{fps}{count}{stride}"

    def _failed(self, index: int, count: int = 1) -> None:
        if count > 0 and self.first_failure is None:
            self.first_failure = index
        self.decode_failures += count

    def failure_report(self) -> str:
        """One line for the end-of-run summary ('' when every frame decoded)."""
        if not self.decode_failures:
            return ""
        return (f"{self.name}: {self.decode_failures} frame(s) could not be decoded and were "
                f"skipped (first at frame {self.first_failure})")


def open_source(spec: str | int, cfg: PipelineConfig | None = None) -> Source:
    """A source for ``spec``: a webcam index (``0``), a URL (``rtsp://``, ``http://``),
    an image folder or glob (``frames/*.png``), or a video file.

    Raises:
        UserError: when nothing matches or it cannot be opened.
    """
    cfg = cfg or PipelineConfig()
    text = str(spec).strip()
    if text.isdigit():
        return CaptureSource(int(text), cfg, live=True)
    if "://" in text:
        return CaptureSource(text, cfg, live=True)
    path = Path(text)
    if path.is_dir():
        files = [p for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
        return ImageSource(text, files, cfg.stride)
    if any(ch in text for ch in "*?["):
        files = [Path(p) for p in sorted(glob.glob(text)) if Path(p).suffix.lower()
                 in IMAGE_SUFFIXES]
        return ImageSource(text, files, cfg.stride)
    if not path.exists():
        raise UserError(f"{text}: no such video file, image folder, URL or webcam index")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(text, [path], cfg.stride)
    return CaptureSource(text, cfg, live=False)


class CaptureSource(Source):
    """A video file, webcam or network stream read with OpenCV (FFmpeg backend).

    Files: the frame index comes from the decoder's timestamps, so frames the decoder
    silently drops (corrupt data) show up as gaps and are counted; a file that ends
    before its stated length counts the missing tail too. Live: on a read failure the
    stream is reopened with exponential backoff until it comes back (or
    ``reconnect_give_up_s`` passes).
    """

    def __init__(self, target: str | int, cfg: PipelineConfig, live: bool) -> None:
        super().__init__(cfg.stride)
        self.target = target
        self.cfg = cfg
        self.live = live
        self.name = f"webcam:{target}" if isinstance(target, int) else redact_url(str(target))
        self.down_s = 0.0  # live: time spent reconnecting (not counted in frame timestamps)
        self._cap = self._open()
        if self._cap is None:
            raise UserError(self._open_error())
        native_fps = self._cap.get(cv2.CAP_PROP_FPS) or 0.0
        self.native_fps = native_fps if 0 < native_fps < 1000 else 0.0
        self.fps = self.native_fps / self.stride
        w, h = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.size = (w, h) if w > 0 and h > 0 else None
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.native_frames = count if not live and count > 0 else None
        self.expected_frames = -(-count // self.stride) if self.native_frames else None

    def _open_error(self) -> str:
        if isinstance(self.target, int):
            return (f"webcam {self.target}: cannot open camera (is it connected and free? "
                    f"check /dev/video{self.target})")
        if self.live:
            return f"{self.name}: cannot connect to the stream within {self.cfg.open_timeout_s:g} s"
        return f"{self.name}: cannot open as a video (unsupported format or damaged header)"

    def _open(self) -> cv2.VideoCapture | None:
        params = []
        if self.live:
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.cfg.open_timeout_s * 1000),
                      cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.cfg.read_timeout_s * 1000)]
        if isinstance(self.target, int):
            cap = cv2.VideoCapture(self.target)
        elif self.target.lower().startswith(("rtsp://", "rtsps://")):
            cap = self._open_rtsp(params)
        else:
            cap = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, params)
        if cap.isOpened():
            return cap
        cap.release()
        return None

    def _open_rtsp(self, params: list[int]) -> cv2.VideoCapture:
        """Open an RTSP URL over ``cfg.rtsp_transport`` (TCP by default: RTP over UDP is
        lost behind NAT and firewalls). A user's own OPENCV_FFMPEG_CAPTURE_OPTIONS wins."""
        transport = self.cfg.rtsp_transport  # tcp | udp: checked by PipelineConfig
        with _OPEN_ENV:
            key = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
            before = os.environ.get(key)
            if before is None:
                os.environ[key] = f"rtsp_transport;{transport}"
            try:
                return cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, params)
            finally:
                if before is None:
                    del os.environ[key]

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        if self.live:
            yield from self._live_frames(stop)
        else:
            yield from self._file_frames(stop)

    def _file_frames(self, stop: threading.Event) -> Iterator[Frame]:
        cap, expected, bad_run = self._cap, 0, 0
        while not stop.is_set():
            ok, bgr = cap.read()
            if not ok or bgr is None:
                if self.native_frames is None or expected >= self.native_frames:
                    break
                bad_run += 1  # a read error before the stated end: skip it and go on
                self._failed(expected)
                expected += 1
                if bad_run >= self.cfg.max_bad_frames:
                    break  # give up: the rest is counted as lost below
                continue
            bad_run = 0
            msec = cap.get(cv2.CAP_PROP_POS_MSEC)
            index = round(msec * self.native_fps / 1000) if self.native_fps else expected
            index = max(index, expected)  # timestamps that go backwards: trust the count
            self._failed(expected, index - expected)  # frames the decoder dropped
            expected = index + 1
            if index % self.stride:
                continue
            timestamp = msec / 1000 if self.native_fps else index / max(self.fps, 1e-9)
            yield Frame(self.name, index, timestamp, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if self.native_frames and expected < self.native_frames and not stop.is_set():
            self._failed(expected, self.native_frames - expected)  # truncated file

    def _live_frames(self, stop: threading.Event) -> Iterator[Frame]:
        start, count = time.monotonic(), 0
        while not stop.is_set():
            ok, bgr = (False, None) if self._cap is None else self._cap.read()
            if not ok or bgr is None:
                if not self._reconnect(stop):
                    return
                continue
            count += 1
            if (count - 1) % self.stride:
                continue
            # Stream time: an outage does not age the scene, so a visit that spans a
            # camera restart is still one visit.
            yield Frame(self.name, count - 1, time.monotonic() - start - self.down_s,
                        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def _reconnect(self, stop: threading.Event) -> bool:
        """Reopen with doubling waits; False when stopped or given up."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        wait, down_since = self.cfg.reconnect_backoff_s, time.monotonic()
        while not stop.wait(wait):
            self._cap = self._open()
            if self._cap is not None:
                self.reconnects += 1
                self.down_s += time.monotonic() - down_since
                return True
            give_up = self.cfg.reconnect_give_up_s
            if give_up and time.monotonic() - down_since >= give_up:
                raise UserError(f"{self.name}: stream lost and not back after {give_up:g} s")
            wait = min(wait * 2, self.cfg.reconnect_backoff_max_s)
        return False

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class ImageSource(Source):
    """Still images (a folder or a glob), in name order; unreadable files are counted."""

    def __init__(self, name: str, files: list[Path], stride: int = 1) -> None:
        super().__init__(stride)
        if not files:
            raise UserError(f"{name}: no images found ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self.name = name
        self.files = files
        self.expected_frames = -(-len(files) // stride)
        first = cv2.imread(str(files[0]), cv2.IMREAD_COLOR)
        self.size = (first.shape[1], first.shape[0]) if first is not None else None
        self.bad_files: list[str] = []

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        for index in range(0, len(self.files), self.stride):
            if stop.is_set():
                return
            path = self.files[index]
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                self._failed(index)
                self.bad_files.append(str(path))
                continue
            rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            yield Frame(str(path), index, float(index), rgb)

    def failure_report(self) -> str:
        if not self.bad_files:
            return ""
        more = f" and {len(self.bad_files) - 1} more" if len(self.bad_files) > 1 else ""
        return f"{self.bad_files[0]}{more}: not a readable image, skipped"
