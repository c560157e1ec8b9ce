"""`lookout live`: live mode on a real MJPEG stream, headless handling, bad cameras."""

from __future__ import annotations

import json

import pytest

from core.errors import UserError
from lookout.cli import main
from realtime.config import DetectorConfig, LiveConfig, PipelineConfig
from realtime.detectors import load_detector
from realtime.live import run_live, stats_line
from realtime.settings import RunSettings
from tests.fixtures.media import MjpegServer


@pytest.fixture(scope="module")
def detector(color_bundle):
    det = load_detector(color_bundle, DetectorConfig())
    yield det
    det.close()


def test_live_stream_without_window_streams_detections(detector, tmp_path):
    server = MjpegServer(fps=60).start()
    jsonl, lines_seen, pressed = tmp_path / "live.jsonl", [], []

    def ctrl_c_after_30_frames(stats):  # Ctrl+C = KeyboardInterrupt in the calling thread
        lines_seen.append(stats_line(stats))
        if stats.frames_written >= 30 and not pressed:
            pressed.append(True)
            raise KeyboardInterrupt

    try:
        settings = RunSettings(pipeline=PipelineConfig(batch=1, open_timeout_s=3),
                               live=LiveConfig())
        stats = run_live(detector, server.url, settings, window=False, jsonl=str(jsonl),
                         progress=ctrl_c_after_30_frames).stats
    finally:
        server.close()
    assert stats.stopped_by == "interrupt" and stats.mode == "live"
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(records) == stats.frames_written >= 30
    frames = [r["frame"] for r in records]
    assert frames == sorted(frames)
    assert all(sorted(d["label"] for d in r["detections"]) == ["blue", "red"] for r in records)
    assert stats.max_queue <= 8
    assert "fps" in lines_seen[0] and "latency" in lines_seen[0]


def test_headless_window_request_fails_before_loading_the_model(monkeypatch, tmp_path):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(UserError, match="no display found"):
        run_live(tmp_path / "not-even-a-model", "0", window=True)


def test_cli_missing_webcam_is_one_line(color_bundle, capsys):
    assert main(["live", str(color_bundle), "--source", "9", "--no-window"]) == 1
    err = capsys.readouterr().err
    assert "webcam 9: cannot open camera" in err and "Traceback" not in err


def test_live_tracks_and_counts_per_source(detector, tmp_path):
    from realtime.tracking.config import LineConfig, TrackConfig

    server = MjpegServer(fps=30).start()
    jsonl, counts = tmp_path / "live.jsonl", tmp_path / "counts.json"
    track = TrackConfig(lines=[LineConfig(name="mid", points=[[0.5, 0], [0.5, 1]])])

    pressed = []

    def stop_after_40_frames(stats):
        if stats.frames_written >= 40 and not pressed:
            pressed.append(True)
            raise KeyboardInterrupt

    try:
        settings = RunSettings(pipeline=PipelineConfig(batch=1, open_timeout_s=3),
                               live=LiveConfig(), track=track, counts=counts)
        run_live(detector, server.url, settings, window=False, jsonl=str(jsonl),
                 progress=stop_after_40_frames)
    finally:
        server.close()
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    ids = [d["track_id"] for r in records for d in r["detections"]]
    assert len(ids) >= 80 and sum(i is not None for i in ids) >= 0.8 * len(ids)
    assert "mid" in records[-1]["counts"]["lines"]
    assert json.loads(counts.read_text())["lines"]["mid"]["total"].keys() == {"in", "out"}
