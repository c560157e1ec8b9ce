"""The live window: the newest annotated frame with an FPS + latency banner, and keys.

GUI toolkits (Qt here, Cocoa on macOS) only work from the thread that owns the window,
so the window lives on the thread that called `realtime.live.run_live`:

- the pipeline's sink stage posts each result on a `DisplayBoard` (`BoardSink`): the
  newest result per source replaces the last one, nothing queues;
- the calling thread runs `LiveWindow.tick` in a loop (the pipeline's wait loop calls
  it): take what is new on the board, draw it, pump the window's events, act on keys.

Keys: ``p`` pause/resume the picture, ``s`` save a snapshot, ``q`` or Esc (or closing
the window) quit.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from core.errors import UserError
from realtime.frames import FrameResult
from realtime.sinks.base import Sink, StopPipeline

QUIT_KEYS = {"q", "\x1b"}
KEY_WAIT_MS = 10  # one tick pumps the window's events this long (keys, redraws)


def check_display() -> None:
    """Raise a clear `UserError` on a machine without a display."""
    if not sys.platform.startswith("linux"):
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UserError("no display found (DISPLAY is not set): this looks like a headless "
                        "machine; use --no-window to stream detections as JSONL instead")


class DisplayBoard:
    """The newest result of each source, for the thread that draws; keyed by source
    name so several live sources can share one window later."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, FrameResult] = {}
        self.posted = 0
        self.replaced = 0  # posted but never taken: the window showed a newer one instead

    def post(self, result: FrameResult) -> None:
        with self._lock:
            self.replaced += result.frame.source in self._latest
            self._latest[result.frame.source] = result
            self.posted += 1

    def take(self) -> dict[str, FrameResult]:
        """What was posted since the last call (newest per source), and clear it."""
        with self._lock:
            latest, self._latest = self._latest, {}
        return latest


class BoardSink(Sink):
    """The pipeline-side end of the window: hands each result to the board, at once."""

    def __init__(self, board: DisplayBoard) -> None:
        self.board = board

    def write(self, result: FrameResult) -> None:
        self.board.post(result)


class Display(Protocol):
    def show(self, bgr: np.ndarray) -> None: ...
    def poll_key(self) -> str | None: ...
    def closed_by_user(self) -> bool: ...
    def close(self) -> None: ...


class CvDisplay:
    """The OpenCV window itself; every call must come from the same (the main) thread."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._open = False

    def show(self, bgr: np.ndarray) -> None:
        if not self._open:
            cv2.namedWindow(self.title, cv2.WINDOW_AUTOSIZE)
            self._open = True
        cv2.imshow(self.title, bgr)

    def poll_key(self) -> str | None:
        """The key pressed in the window, if any; pumps its events for `KEY_WAIT_MS`."""
        if not self._open:
            time.sleep(KEY_WAIT_MS / 1000)
            return None
        key = cv2.waitKey(KEY_WAIT_MS)
        return None if key < 0 or key & 0xFF == 0xFF else chr(key & 0xFF).lower()

    def closed_by_user(self) -> bool:
        if not self._open:
            return False
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:  # Qt drops its window machinery with the last window
            self._open = False
            return True

    def close(self) -> None:
        if self._open:
            self._open = False
            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)  # let the toolkit process the destroy
            except cv2.error:
                pass  # already gone with its window system


class _Tile:
    """One source in the window: its newest annotated frame and its own fps and latency."""

    def __init__(self) -> None:
        self.result: FrameResult | None = None
        self.rgb: np.ndarray | None = None  # annotated, no banner
        self.fps, self.latency, self._last_t = 0.0, 0.0, None

    def update(self, result: FrameResult, draw) -> None:
        now = time.monotonic()
        if self._last_t is not None:
            dt = max(now - self._last_t, 1e-6)
            self.fps = 1 / dt if not self.fps else 0.9 * self.fps + 0.1 / dt
        self._last_t = now
        lat = result.latency
        self.latency = lat if not self.latency else 0.9 * self.latency + 0.1 * lat
        self.result, self.rgb = result, draw(result)  # boxes, ids, lines, zones, trails

    def banner(self, name: str, paused: bool) -> str:
        text = f"{self.fps:.1f} fps  {self.latency * 1000:.0f} ms" + ("  PAUSED" if paused else "")
        return f"{name}  {text}" if name else text


class LiveWindow:
    """Shows the board's newest result of each source with a banner and handles keys;
    call `tick` repeatedly from the thread that owns the window. `tick` raises
    `StopPipeline` on ``q``, Esc or a closed window (which ends every source).

    One source fills the window; several get a tile each (in the order they first
    showed a frame), each with its own FPS and latency.

    Args:
        board: where the pipeline posts results.
        title: window title.
        snapshot_dir: where ``s`` saves the shown frame (all tiles) as PNG.
        display: what shows frames and reports keys (default: an OpenCV window).
    """

    def __init__(self, board: DisplayBoard, title: str = "lookout",
                 snapshot_dir: str | Path = "snapshots", display: Display | None = None) -> None:
        from realtime.drawing import draw_banner, draw_result

        self.board = board
        self.display = display if display is not None else CvDisplay(title)
        self.draw, self.banner = draw_result, draw_banner
        self.snapshot_dir = Path(snapshot_dir)
        self.paused = False
        self.snapshots: list[Path] = []
        self.tiles: dict[str, _Tile] = {}
        self.frames_shown = 0

    @property
    def shown(self) -> FrameResult | None:
        """The newest result on screen (any source)."""
        shown = [t.result for t in self.tiles.values() if t.result is not None]
        return max(shown, key=lambda r: r.frame.timestamp) if shown else None

    @property
    def shown_rgb(self) -> np.ndarray | None:
        """The annotated picture on screen without banners (tiles laid out)."""
        if not self.tiles:
            return None
        if len(self.tiles) == 1:
            return next(iter(self.tiles.values())).rgb
        from realtime.sinks.tiles import compose

        return compose([t.rgb for t in self.tiles.values()])

    def tick(self) -> None:
        """Show what is new (unless paused), pump the window for a few ms, act on keys."""
        latest = self.board.take()
        if latest and not self.paused:
            for name, result in latest.items():
                self.tiles.setdefault(name, _Tile()).update(result, self.draw)
            self._show()
        key = self.display.poll_key()
        if self.display.closed_by_user():
            raise StopPipeline
        if key:
            self.handle_key(key)

    def handle_key(self, key: str) -> None:
        if key in QUIT_KEYS:
            raise StopPipeline
        if key == "p":
            self.paused = not self.paused
            if self.tiles:
                self._show()  # the frozen frame says PAUSED
        elif key == "s" and self.tiles:
            self.snapshot()

    def _show(self) -> None:
        if len(self.tiles) == 1:
            (tile,) = self.tiles.values()
            view = self.banner(tile.rgb.copy(), tile.banner("", self.paused))
        else:
            from realtime.sinks.tiles import compose

            view = compose([self.banner(t.rgb.copy(), t.banner(name, self.paused))
                            if t.rgb is not None else None for name, t in self.tiles.items()])
        self.display.show(cv2.cvtColor(view, cv2.COLOR_RGB2BGR))
        self.frames_shown += 1

    def snapshot(self) -> Path:
        """Save the annotated picture on screen (without banners) as PNG."""
        self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.snapshot_dir / f"snapshot_{stamp}_frame{self.shown.frame.index:06d}.png"
        if not cv2.imwrite(str(path), cv2.cvtColor(self.shown_rgb, cv2.COLOR_RGB2BGR)):
            raise UserError(f"{path}: cannot write the snapshot")
        self.snapshots.append(path)
        return path

    def close(self) -> None:
        self.display.close()
