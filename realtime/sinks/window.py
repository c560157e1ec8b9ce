"""The live window: annotated frames with an FPS + latency overlay, and keys.

Keys: ``p`` pause/resume the picture, ``s`` save a snapshot, ``q`` (or Esc, or closing
the window) quit. They come from pynput (a global keyboard listener) where a display
and pynput work, and from the window's own ``cv2.waitKey`` in every case.
"""

from __future__ import annotations

import os
import queue
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from lookout.errors import UserError
from realtime.frames import FrameResult
from realtime.sinks.base import Sink, StopPipeline

QUIT_KEYS = {"q", "\x1b"}


def check_display() -> None:
    """Raise a clear `UserError` on a machine without a display."""
    if not sys.platform.startswith("linux"):
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UserError("no display found (DISPLAY is not set): this looks like a headless "
                        "machine; use --no-window to stream detections as JSONL instead")


def start_key_listener(keys: queue.SimpleQueue) -> object | None:
    """A pynput keyboard listener feeding ``keys``; None where pynput cannot run."""
    try:
        from pynput import keyboard
    except Exception:  # noqa: BLE001 - no X server, no backend: cv2.waitKey still works
        return None

    def on_press(key) -> None:
        char = getattr(key, "char", None)
        if char:
            keys.put(char.lower())
        elif key == keyboard.Key.esc:
            keys.put("\x1b")

    try:
        listener = keyboard.Listener(on_press=on_press)
        listener.start()
    except Exception:  # noqa: BLE001
        return None
    return listener


class CvDisplay:
    """The OpenCV window itself (created lazily, by the thread that draws)."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._open = False

    def show(self, bgr: np.ndarray) -> None:
        if not self._open:
            cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
            self._open = True
        cv2.imshow(self.title, bgr)

    def poll_key(self) -> str | None:
        """The key pressed in the window since the last call (pumps its events too)."""
        key = cv2.waitKey(1) & 0xFF
        return None if key == 0xFF else chr(key).lower()

    def closed_by_user(self) -> bool:
        return self._open and cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1

    def close(self) -> None:
        if self._open:
            self._open = False
            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)
            except cv2.error:
                pass  # already gone with its window system


class WindowSink(Sink):
    """Shows every result (while not paused) with an FPS + latency banner.

    Args:
        title: window title.
        snapshot_dir: where ``s`` saves the shown frame as PNG.
        use_pynput: listen for keys globally through pynput too.
        display: what shows frames and reports window keys (default: an OpenCV window).
    """

    def __init__(self, title: str = "lookout", snapshot_dir: str | Path = "snapshots",
                 use_pynput: bool = True, display: CvDisplay | None = None) -> None:
        from realtime.drawing import draw_banner, draw_detections

        if display is None:
            check_display()
            display = CvDisplay(title)
        self.display = display
        self.draw, self.banner = draw_detections, draw_banner
        self.snapshot_dir = Path(snapshot_dir)
        self.keys: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.listener = start_key_listener(self.keys) if use_pynput else None
        self.paused = False
        self.snapshots: list[Path] = []
        self.shown: np.ndarray | None = None  # the annotated frame on screen (RGB)
        self._fps, self._latency, self._last_t = 0.0, 0.0, None

    def write(self, result: FrameResult) -> None:
        self._measure(result)
        if not self.paused:
            self.shown = self.draw(result.frame.rgb, result.detections)
            self._show()
        key = self.display.poll_key()
        if key:
            self.keys.put(key)
        if self.display.closed_by_user():
            raise StopPipeline
        self.handle_keys(result)

    def _show(self) -> None:
        text = f"{self._fps:.1f} fps  {self._latency * 1000:.0f} ms" + ("  PAUSED" if self.paused else "")
        view = self.banner(self.shown.copy(), text)
        self.display.show(cv2.cvtColor(view, cv2.COLOR_RGB2BGR))

    def handle_keys(self, result: FrameResult) -> None:
        """Act on every key pressed since the last frame."""
        while True:
            try:
                key = self.keys.get_nowait()
            except queue.Empty:
                return
            if key in QUIT_KEYS:
                raise StopPipeline
            if key == "p":
                self.paused = not self.paused
                if self.shown is not None:
                    self._show()  # the frozen frame says PAUSED
            elif key == "s" and self.shown is not None:
                self.snapshot(result)

    def snapshot(self, result: FrameResult) -> Path:
        """Save the annotated frame on screen (without the banner) as PNG."""
        self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.snapshot_dir / f"snapshot_{stamp}_frame{result.frame.index:06d}.png"
        if not cv2.imwrite(str(path), cv2.cvtColor(self.shown, cv2.COLOR_RGB2BGR)):
            raise OSError(f"{path}: cannot write snapshot")
        self.snapshots.append(path)
        return path

    def _measure(self, result: FrameResult) -> None:
        now = time.monotonic()
        if self._last_t is not None:
            dt = max(now - self._last_t, 1e-6)
            self._fps = 1 / dt if not self._fps else 0.9 * self._fps + 0.1 / dt
        self._last_t = now
        lat = result.latency
        self._latency = lat if not self._latency else 0.9 * self._latency + 0.1 * lat

    def close(self) -> None:
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        self.display.close()
