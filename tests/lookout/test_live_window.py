"""`lookout live` with a real window: Xvfb, the real OpenCV (Qt) window, keys via xdotool.

Each test runs the command as a user does (a subprocess with DISPLAY set) on a generated
clip with the tiny colour model, and checks what a user would see: the exit code, that
it ends by itself, the snapshot file, and the window's pixels (boxes around the red and
blue squares). Every wait is for a condition (frames written, a picture that changes or
stops changing), never a fixed pause; how long quitting takes is printed (``-s``), not
asserted: on a loaded machine a wall-clock limit says more about the load than the code.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from realtime.drawing import class_color
from tests.fixtures.media import make_clip
from tests.fixtures.procs import finish
from tests.fixtures.xdisplay import XDisplay

ROOT = Path(__file__).resolve().parents[2]
TITLE = "lookout: "
FRAMES_APART = 6  # half a second of the 12 fps clip: the picture moves between them


@pytest.fixture(scope="module")
def xdisplay(xvfb, xdotool, imagemagick):
    """An Xvfb display (the three tool fixtures skip without them, fail under CI)."""
    display = XDisplay().start()
    yield display
    display.close()


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """60 s at 12 fps: outlives every test that ends the run itself."""
    return make_clip(tmp_path_factory.mktemp("clips") / "long.mp4", n_frames=720, width=320,
                     height=240, audio=False)


def start_live(xdisplay, bundle, clip, tmp_path, *extra: str) -> subprocess.Popen:
    env = xdisplay.env(PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "lookout", "live", str(bundle), "--source", str(clip),
           "--snapshot-dir", str(tmp_path / "snaps"), "--jsonl", str(tmp_path / "live.jsonl"),
           *extra]
    return subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def written(jsonl: Path) -> int:
    return len(jsonl.read_text().splitlines()) if jsonl.exists() else 0


def wait_for_frames(proc, jsonl: Path, n: int = 5, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if written(jsonl) >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} frames within {timeout} s")


def screenshots_apart(xdisplay, window, proc, jsonl: Path, path: Path):
    """Screenshots taken `FRAMES_APART` written frames apart, forever (the caller stops)."""
    for i in itertools.count():
        yield xdisplay.screenshot(window, path.with_name(f"{path.stem}{i}.png"))
        wait_for_frames(proc, jsonl, written(jsonl) + FRAMES_APART)


def until(shots, want, what: str, tries: int = 20):
    """The first screenshot for which ``want(previous, shot)`` holds."""
    previous = next(shots)
    for _ in range(tries):
        shot = next(shots)
        if want(previous, shot):
            return shot
        previous = shot
    raise AssertionError(f"the window never {what} ({tries} screenshots)")


def ended_within(proc, t0: float, timeout: float = 30) -> tuple[float, str]:
    """Seconds from ``t0`` until ``proc`` ended, and its stderr."""
    _, err = finish(proc, timeout)
    return time.monotonic() - t0, err


def box_ring_share(rgb: np.ndarray, blob: np.ndarray, color: tuple[int, int, int]) -> float:
    """Share of the pixels in a 3-px ring around ``blob``'s bounding box that have
    ``color`` (the class colour the box is drawn in)."""
    ys, xs = np.nonzero(blob)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    ring = np.zeros(blob.shape, bool)
    ring[max(0, y0 - 3): y1 + 3, max(0, x0 - 3): x1 + 3] = True
    ring[y0:y1, x0:x1] = False
    near = np.abs(rgb.astype(int) - np.array(color)).sum(axis=2) < 60
    return float(near[ring].mean())


def squares(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = rgb.astype(int)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    return (r > 150) & (g < 80) & (b < 80), (b > 150) & (r < 80) & (g < 80)


def test_keys_snapshot_pause_and_q(xdisplay, color_bundle, long_clip, tmp_path):
    proc = start_live(xdisplay, color_bundle, long_clip, tmp_path)
    try:
        window = xdisplay.find_window(TITLE, proc=proc)
        wait_for_frames(proc, tmp_path / "live.jsonl")

        shot = xdisplay.screenshot(window, tmp_path / "window.png")
        red, blue = squares(shot)
        assert red.sum() > 100 and blue.sum() > 100  # the clip is on screen
        assert box_ring_share(shot, red, class_color(1)) > 0.3  # boxes drawn around both
        assert box_ring_share(shot, blue, class_color(2)) > 0.3

        xdisplay.key(window, "s")
        deadline = time.monotonic() + 10
        while not list((tmp_path / "snaps").glob("snapshot_*.png")) and time.monotonic() < deadline:
            time.sleep(0.05)
        snaps = list((tmp_path / "snaps").glob("snapshot_*.png"))
        assert len(snaps) == 1

        # The keys act on the window's next tick: wait for their effect, judged over
        # frames the engine wrote meanwhile (the detector goes on while the picture waits).
        jsonl = tmp_path / "live.jsonl"
        shots = screenshots_apart(xdisplay, window, proc, jsonl, tmp_path / "moving.png")
        until(shots, lambda a, b: not np.array_equal(a, b), "moved")  # it plays
        xdisplay.key(window, "p")  # paused: the picture stops moving
        shots = screenshots_apart(xdisplay, window, proc, jsonl, tmp_path / "paused.png")
        frozen = until(shots, np.array_equal, "stopped moving")
        for _ in range(2):  # and stays put while frames go on
            assert np.array_equal(frozen, next(shots))
        xdisplay.key(window, "p")  # resumed: it moves again
        shots = screenshots_apart(xdisplay, window, proc, jsonl, tmp_path / "resumed.png")
        until(shots, lambda a, b: not np.array_equal(frozen, b), "moved again")

        t0 = time.monotonic()
        xdisplay.key(window, "q")
        seconds, err = ended_within(proc, t0)
    finally:
        proc.kill()
    print(f"\nq -> exit: {seconds:.2f} s")
    assert proc.returncode == 0, err
    lines = (tmp_path / "live.jsonl").read_text().splitlines()
    assert lines and all(json.loads(line)["source"] == str(long_clip) for line in lines)
    assert f"snapshot {snaps[0]}" in err.replace("\n", "")
    # default verbosity: lookout's lines only, no library noise (the engine line names
    # "LiteRT/XNNPACK" itself; LiteRT's own line is "Created ... XNNPACK delegate")
    assert "QFontDatabase" not in err and "cuInit" not in err, err
    assert "XNNPACK delegate" not in err, err


@pytest.mark.parametrize("how", ["escape", "close-window", "ctrl-c"])
def test_other_ways_to_quit(xdisplay, color_bundle, long_clip, tmp_path, how):
    proc = start_live(xdisplay, color_bundle, long_clip, tmp_path)
    try:
        window = xdisplay.find_window(TITLE, proc=proc)
        wait_for_frames(proc, tmp_path / "live.jsonl")
        t0 = time.monotonic()
        if how == "escape":
            xdisplay.key(window, "Escape")
        elif how == "close-window":
            xdisplay.close_window(window)
        else:
            proc.send_signal(signal.SIGINT)
        seconds, err = ended_within(proc, t0)
    finally:
        proc.kill()
    print(f"\n{how} -> exit: {seconds:.2f} s")
    assert proc.returncode == (130 if how == "ctrl-c" else 0), err
    assert "Traceback" not in err, err
    json.loads((tmp_path / "live.jsonl").read_text().splitlines()[-1])  # complete lines


def test_end_of_clip_ends_the_run_and_closes_the_window(xdisplay, color_bundle, tmp_path):
    clip = make_clip(tmp_path / "short.mp4", n_frames=36, fps=12, audio=False)
    jsonl = tmp_path / "live.jsonl"
    proc = start_live(xdisplay, color_bundle, clip, tmp_path)
    try:
        window = xdisplay.find_window(TITLE, proc=proc)
        last_size, last_change = -1, time.monotonic()
        while proc.poll() is None:  # the time the last result was written
            size = jsonl.stat().st_size if jsonl.exists() else 0
            if size != last_size:
                last_size, last_change = size, time.monotonic()
            time.sleep(0.02)
        seconds, err = ended_within(proc, last_change)
    finally:
        proc.kill()
    print(f"\nend of clip -> exit: {seconds:.2f} s")
    assert proc.returncode == 0, err
    assert len(jsonl.read_text().splitlines()) >= 30  # played to its end (a few may drop)
    assert window and not xdisplay.xdotool("search", "--onlyvisible", "--name", TITLE)


def test_window_shows_track_ids_and_a_counting_line(xdisplay, color_bundle, long_clip, tmp_path):
    proc = start_live(xdisplay, color_bundle, long_clip, tmp_path, "--line", "0.5,0,0.5,1",
                      "--trails", "--counts", str(tmp_path / "counts.json"))
    try:
        window = xdisplay.find_window(TITLE, proc=proc)
        wait_for_frames(proc, tmp_path / "live.jsonl", n=20)
        shot = xdisplay.screenshot(window, tmp_path / "window.png")
        xdisplay.key(window, "q")
        _, err = ended_within(proc, time.monotonic())
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    h, w = shot.shape[:2]
    white = (shot[:, w // 2 - 2: w // 2 + 3] > 200).all(axis=2).any(axis=1)
    assert white[h // 4: -h // 8].mean() > 0.6  # the counting line down the middle
    records = [json.loads(line) for line in (tmp_path / "live.jsonl").read_text().splitlines()]
    assert any(d["track_id"] is not None for r in records for d in r["detections"])
    assert "line1" in records[-1]["counts"]["lines"]
    assert json.loads((tmp_path / "counts.json").read_text())["lines"]["line1"]["total"]
