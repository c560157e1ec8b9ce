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
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM") == "offscreen":
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


class WindowSink(Sink):
    """Shows every result (while not paused) in an OpenCV window.

    Args:
        title: window title.
        snapshot_dir: where ``s`` saves the shown frame as PNG.
        use_pynput: listen for keys globally through pynput too.
    """

    def __init__(self, title: str = "lookout", snapshot_dir: str | Path = "snapshots",
                 use_pynput: bool = True) -> None:
        from realtime.drawing import draw_detections

        check_display()
        self.draw = draw_detections
        self.title = title
        self.snapshot_dir = Path(snapshot_dir)
        self.keys: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.listener = start_key_listener(self.keys) if use_pynput else None
        self.paused = False
        self.snapshots: list[Path] = []
        self.shown: np.ndarray | None = None  # the annotated frame on screen (RGB)
        self._fps, self._latency, self._last_t = 0.0, 0.0, None
        self._open = False  # created on the first frame, by the thread that draws


    def write(self, result: FrameResult) -> None:
        self._measure(result)
        if not self._open:
            cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
            self._open = True
        if not self.paused:
            self.shown = self.draw(result.frame.rgb, result.detections)
            view = cv2.cvtColor(self.shown, cv2.COLOR_RGB2BGR)
            self._overlay(view, result)
            cv2.imshow(self.title, view)
        key = cv2.waitKey(1) & 0xFF
        if key != 0xFF:
            self.keys.put(chr(key).lower())
        if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            raise StopPipeline  # the user closed the window
        self.handle_keys(result)

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
            elif key == "s" and self.shown is not None:
                self.snapshot(result)

    def snapshot(self, result: FrameResult) -> Path:
        self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.snapshot_dir / f"snapshot_{stamp}_frame{result.frame.index:06d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(self.shown, cv2.COLOR_RGB2BGR))
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

    def _overlay(self, bgr: np.ndarray, result: FrameResult) -> None:
        text = f"{self._fps:5.1f} fps  {self._latency * 1000:4.0f} ms"
        if self.paused:
            text += "  PAUSED"
        scale = max(0.4, bgr.shape[0] / 720)
        thick = max(1, round(2 * scale))
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        cv2.rectangle(bgr, (0, 0), (tw + 12, th + base + 12), (0, 0, 0), -1)
        cv2.putText(bgr, text, (6, th + 6), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                    thick, cv2.LINE_AA)

    def close(self) -> None:
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        if self._open:
            self._open = False
            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)
            except cv2.error:
                pass  # already gone with its window system
