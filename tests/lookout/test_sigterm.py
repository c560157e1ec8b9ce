"""SIGTERM (kill, docker stop, systemd) and Ctrl+C stop lookout at any moment of a run:
exit 130, every output finalized and playable, nothing half-written left, no traceback.

Each verb is stopped at random moments, by SIGTERM or SIGINT at random: while Python and
TensorFlow load, while the engine runs, while outputs are closed (the annotated mp4's
audio is muxed last). The moments are drawn from one uninterrupted run of the same verb
(when its first output appears, when it ends), so they land in every phase on a slow
machine as on a fast one. A run that ended before its signal must have ended complete.

``LOOKOUT_STOP_TRIES=N`` runs N moments per verb (default 4, train half as many: the
whole module stays within about three minutes of a 2-core CI machine; more is a stress
run), ``LOOKOUT_STOP_SEED`` repeats a failing draw (the seed is in every failure), and
``LOOKOUT_STOP_LOAD=N`` keeps N CPU-bound processes busy beside the runs (a loaded host).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import pytest

from tests.fixtures.doorbell import Visit, write_doorbell_clip
from tests.fixtures.media import make_clip
from tests.fixtures.procs import finish

ROOT = Path(__file__).resolve().parents[2]
TRIES = int(os.environ.get("LOOKOUT_STOP_TRIES", "4"))
SEED = int(os.environ.get("LOOKOUT_STOP_SEED", str(random.randrange(1 << 30))))
CLIP_FRAMES = 240
START_S = 0.5  # python + `import lookout.cli` take ~0.25 s on a quiet machine


@dataclass
class Timing:
    """One uninterrupted run: seconds from start to its first output, and to its end."""

    first: float
    end: float


def lookout(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen([sys.executable, "-m", "lookout", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def has_lines(path: Path) -> Callable[[], bool]:
    return lambda: path.is_file() and path.stat().st_size > 0


def baseline(args: list[str], cwd: Path, first_output: Callable[[], bool]) -> Timing:
    """Run to the end once, noting when ``first_output()`` first held."""
    start, first = time.monotonic(), None
    proc = lookout(*args, cwd=cwd)
    while proc.poll() is None:
        if first is None and first_output():
            first = time.monotonic() - start
        time.sleep(0.02)
    end = time.monotonic() - start
    _, err = finish(proc, 60)
    assert proc.returncode == 0, err
    return Timing(first if first is not None else end / 2, end)


def moments(timing: Timing, n: int, salt: str) -> list[tuple[float, signal.Signals]]:
    """``n`` (delay, signal) pairs: a quarter during start-up, the rest while it runs
    and closes (up to a little past the uninterrupted run's end). Not before
    `START_S`: until then the interpreter itself is starting, not lookout."""
    rng = random.Random(f"{SEED}-{salt}")
    out = []
    for i in range(n):
        low, high = (START_S, timing.first) if i % 4 == 0 else (timing.first, timing.end * 1.05)
        out.append((rng.uniform(low, high), rng.choice([signal.SIGTERM, signal.SIGINT])))
    return out


def stop_at(args: list[str], cwd: Path, delay: float, sig: signal.Signals) -> tuple[int, str]:
    """Start ``lookout ARGS``, send ``sig`` after ``delay`` s (unless it ended), wait."""
    proc = lookout(*args, cwd=cwd)
    try:
        deadline = time.monotonic() + delay
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(min(0.01, max(0.0, deadline - time.monotonic())))
        if proc.poll() is None:
            proc.send_signal(sig)
        _, err = finish(proc, 90)
    finally:
        proc.kill()
    return proc.returncode, err


def video_frames(path: Path) -> int:
    """Frames OpenCV decodes from ``path`` (a file it cannot play has none)."""
    video = cv2.VideoCapture(str(path))
    frames = 0
    while video.read()[0]:
        frames += 1
    video.release()
    return frames


def jsonl(path: Path) -> list[dict]:
    """Every line parsed: a torn last line fails here."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def leftovers(folder: Path) -> list[str]:
    """Temporary files a clean stop removes (hidden temps, ``*.tmp``, ``*_temp*``)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.name.startswith(".") or ".tmp" in p.name or "_temp" in p.name)


def ended_well(rc: int, err: str, what: str) -> None:
    assert rc in (0, 130), f"{what}: exit {rc}\n{err[-3000:]}"
    assert "Traceback" not in err, f"{what}:\n{err[-3000:]}"


@pytest.fixture(scope="module", autouse=True)
def cpu_load():
    """``LOOKOUT_STOP_LOAD`` busy processes for the module (none by default)."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(int(os.environ.get("LOOKOUT_STOP_LOAD", "0")))]
    yield
    for hog in hogs:
        hog.kill()
        hog.wait()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """Long enough that the engine runs for a while; with audio, muxed in at close."""
    return make_clip(tmp_path_factory.mktemp("stop") / "clip.mp4", n_frames=CLIP_FRAMES,
                     width=320, height=240)


@pytest.fixture(scope="module")
def fast_clip(tmp_path_factory) -> Path:
    """For live mode, which plays a file at its own rate: 5 s at 48 fps."""
    return make_clip(tmp_path_factory.mktemp("stop") / "fast.mp4", n_frames=CLIP_FRAMES,
                     width=320, height=240, fps=48.0, audio=False)


def test_annotate_stopped_anywhere_leaves_a_playable_video_matching_its_jsonl(
        color_bundle, clip, tmp_path):
    def args(out: Path) -> list[str]:
        return ["annotate", str(color_bundle), str(clip), "--out", str(out / "a.mp4"),
                "--jsonl", str(out / "a.jsonl"), "--batch", "1"]

    timing = baseline(args(tmp_path / "full"), tmp_path, has_lines(tmp_path / "full" / "a.jsonl"))
    assert video_frames(tmp_path / "full" / "a.mp4") == CLIP_FRAMES
    for k, (delay, sig) in enumerate(moments(timing, TRIES, "annotate")):
        out = tmp_path / f"try{k}"
        what = f"annotate stopped by {sig.name} at {delay:.2f} s (seed {SEED})"
        rc, err = stop_at(args(out), tmp_path, delay, sig)
        ended_well(rc, err, what)
        lines = jsonl(out / "a.jsonl")
        frames = video_frames(out / "a.mp4") if (out / "a.mp4").exists() else 0
        assert frames == len(lines), f"{what}: {frames} frames in the mp4, {len(lines)} lines"
        assert [r["frame"] for r in lines] == list(range(len(lines))), what
        if rc == 0:
            assert frames == CLIP_FRAMES, what
        assert not out.exists() or leftovers(out) == [], what


def test_live_without_window_stopped_anywhere_leaves_whole_lines(color_bundle, fast_clip,
                                                                 tmp_path):
    def args(out: Path) -> list[str]:
        return ["live", str(color_bundle), "--source", str(fast_clip), "--no-window",
                "--jsonl", str(out)]

    timing = baseline(args(tmp_path / "full.jsonl"), tmp_path, has_lines(tmp_path / "full.jsonl"))
    assert len(jsonl(tmp_path / "full.jsonl")) > 0
    for k, (delay, sig) in enumerate(moments(timing, TRIES, "live")):
        out = tmp_path / f"try{k}.jsonl"
        what = f"live stopped by {sig.name} at {delay:.2f} s (seed {SEED})"
        rc, err = stop_at(args(out), tmp_path, delay, sig)
        ended_well(rc, err, what)
        frames = [r["frame"] for r in jsonl(out)]
        assert frames == sorted(set(frames)), what  # live drops frames, never repeats one
        assert leftovers(tmp_path) == [], what


def test_watch_stopped_anywhere_leaves_readable_events_and_clips(color_bundle, tmp_path):
    clip = write_doorbell_clip(tmp_path / "door.mp4", visits=(Visit(0.5, 2.0), Visit(5.0, 2.0)),
                               seconds=9.0)

    def args(events: Path) -> list[str]:
        return ["watch", str(color_bundle), "--source", str(clip), "--alert", "red",
                "--events", str(events), "--clip", "--no-motion", "--drain", "1"]

    full = tmp_path / "full"
    timing = baseline(args(full), tmp_path, has_lines(full / "events.jsonl"))
    complete = {r["id"] for r in jsonl(full / "events.jsonl") if r["phase"] == "end"}
    assert complete
    for k, (delay, sig) in enumerate(moments(timing, TRIES, "watch")):
        events = tmp_path / f"try{k}"
        what = f"watch stopped by {sig.name} at {delay:.2f} s (seed {SEED})"
        rc, err = stop_at(args(events), tmp_path, delay, sig)
        ended_well(rc, err, what)
        records = jsonl(events / "events.jsonl")
        for record in records:
            for key in ("snapshot", "clip"):
                if record.get(key):
                    assert (events / record[key]).is_file(), f"{what}: {record[key]} missing"
            if record.get("clip"):
                assert video_frames(events / record["clip"]) > 0, f"{what}: {record['clip']}"
        news = {r["id"] for r in records if r["phase"] == "new"}
        assert news == {r["id"] for r in records if r["phase"] == "end"}, what  # all closed
        if rc == 0:  # it ended before the signal: as many events as a whole run
            assert len(news) == len(complete), f"{what}: {records}\n{err[-3000:]}"
        assert (leftovers(events) if events.exists() else []) == [], what


@pytest.mark.slow
def test_train_stopped_anywhere_keeps_a_loadable_checkpoint(tmp_path):
    tf = pytest.importorskip("tensorflow")
    from tests.training.conftest import make_voc
    from training.datasets.build import build_dataset

    data = build_dataset(make_voc(tmp_path / "voc"), tmp_path / "data").out_dir
    args = ["train", str(data), "--steps", "400", "--batch", "2", "--input-size", "128",
            "--checkpoint-every", "2", "--no-eval"]
    rng = random.Random(f"{SEED}-train")
    for k in range(max(1, TRIES // 2)):  # the costliest verb to start: half as many
        run = tmp_path / f"run{k}"
        # start-up (imports, data, model) takes ~10 s on 2 quiet cores, then a checkpoint
        # every ~2 s: about half the moments land in each
        delay, sig = rng.uniform(START_S, 20.0), rng.choice([signal.SIGTERM, signal.SIGINT])
        what = f"train stopped by {sig.name} at {delay:.2f} s (seed {SEED})"
        rc, err = stop_at([*args, "--out", str(run)], tmp_path, delay, sig)
        assert rc == 130, f"{what}: exit {rc}\n{err[-3000:]}"
        assert "Traceback" not in err, f"{what}:\n{err[-3000:]}"
        if not run.exists():
            continue
        assert leftovers(run) == [], what
        latest = tf.train.latest_checkpoint(str(run))
        if (run / "run.json").exists():  # finalized: never left saying "training"
            info = json.loads((run / "run.json").read_text())
            assert info["status"] == "interrupted", f"{what}: {info['status']}"
            assert latest and Path(latest).name == f"ckpt-{info['step']}", what
        if latest:
            assert tf.train.load_checkpoint(latest).get_variable_to_shape_map(), what


def test_an_import_cut_short_by_ctrl_c_is_an_interrupt_not_a_traceback(monkeypatch, capsys):
    """A native module's import interrupted by the signal surfaces as ImportError
    ("initialization failed", the KeyboardInterrupt as its cause): still 130, one line."""
    from lookout import cli

    def interrupted_import(argv):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise ImportError("initialization failed") from exc

    monkeypatch.setattr(cli, "_main", interrupted_import)
    assert cli.main(["live"]) == 130
    assert capsys.readouterr().err == "interrupted\n"

    def broken_import(argv):
        raise ImportError("initialization failed")

    monkeypatch.setattr(cli, "_main", broken_import)
    with pytest.raises(ImportError):  # a real failure stays one
        cli.main(["live"])
