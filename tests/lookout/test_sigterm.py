"""SIGTERM (kill, docker stop, systemd) stops lookout as Ctrl+C does: outputs finalized,
nothing half-written left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2

from tests.fixtures.media import make_clip

ROOT = Path(__file__).resolve().parents[2]


def test_sigterm_mid_annotate_leaves_a_playable_video(color_bundle, tmp_path):
    clip = make_clip(tmp_path / "long.mp4", n_frames=1500, width=320, height=240, audio=False)
    out, jsonl = tmp_path / "out" / "annotated.mp4", tmp_path / "out" / "annotated.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lookout", "annotate", str(color_bundle), str(clip), "--out",
         str(out), "--jsonl", str(jsonl), "--batch", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if jsonl.exists() and len(jsonl.read_text().splitlines()) >= 30:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()  # still running: 1500 frames
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err  # as after Ctrl+C, not -15
    assert "Traceback" not in err, err
    video = cv2.VideoCapture(str(out))
    frames = 0
    while video.read()[0]:
        frames += 1
    video.release()
    assert 30 <= frames < 1500  # a finalized mp4 of what was done before the stop
    assert sorted(p.name for p in out.parent.iterdir()) == ["annotated.jsonl", "annotated.mp4"]
