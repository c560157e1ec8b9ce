"""`lookout batch` on Ray's local runner with the real colour bundle: images, clips and a
bad file in one run; its outputs equal what `lookout predict` and `lookout annotate` write."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import pytest

from lookout.cli import main
from realtime.batch.job import clip_stems, plan_inputs
from realtime.config import DetectorConfig, PipelineConfig
from realtime.detectors import load_detector
from realtime.predict import predict_images
from realtime.settings import RunSettings
from tests.fixtures.media import make_clip
from tests.fixtures.models import make_blob_image

pytestmark = pytest.mark.slow  # starts a local Ray instance


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Images of two sizes, an undecodable .jpg and two clips (one with audio)."""
    folder = tmp_path_factory.mktemp("inputs")
    for i in range(5):
        size = (96, 128) if i % 2 else (80, 80)
        rgb = make_blob_image(*size, red=(4 + i, 6, 30, 34), blue=(40, 40, 70, 70), disc=i == 3)
        cv2.imwrite(str(folder / f"img{i}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    make_clip(folder / "walk.mp4", 12, fps=12)
    make_clip(folder / "quiet.mp4", 10, fps=10, audio=False)
    return folder


def test_plan_splits_images_clips_and_problems(inputs: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    images, clips, problems = plan_inputs([str(inputs), str(tmp_path / "notes.txt"),
                                           str(tmp_path / "missing")])
    assert [Path(p).name for p in images] == ["broken.jpg"] + [f"img{i}.png" for i in range(5)]
    assert [Path(p).name for p in clips] == ["quiet.mp4", "walk.mp4"]
    assert [why for _, why in problems] == ["not an image or clip (unknown file type)",
                                            "no such file or folder"]
    assert clip_stems(["a/x.mp4", "b/x.mov", "detections.mp4"]) == ["x", "x_2", "detections_2"]


def test_batch_matches_predict_and_annotate(color_bundle, inputs: Path, tmp_path: Path,
                                            capsys, monkeypatch) -> None:
    monkeypatch.chdir(inputs.parent)  # relative paths, as a user types them
    rel = inputs.name
    out = tmp_path / "out"
    flags = ["--score", "0.5", "--batch", "4", "--line", "0,0.5,1,0.5"]
    code = main(["batch", str(color_bundle), rel, "--out", str(out), "--draw", *flags])
    err = capsys.readouterr().err
    assert code == 1, err  # the broken image fails the run, after everything else ran
    assert f"failed {rel}/broken.jpg: cannot decode image" in err
    assert "1 failed" in err and "Traceback" not in err

    # Images: the same records, in input order, as lookout predict's detections.json.
    cfg = DetectorConfig(score=0.5)
    detector = load_detector(color_bundle, cfg)
    try:
        predicted = predict_images(detector, [rel], tmp_path / "predict",
                                   RunSettings(pipeline=PipelineConfig(batch=4)))
        lines = [json.loads(x) for x in (out / "detections.jsonl").read_text().splitlines()]
        assert lines == predicted.records and len(lines) == 5
        assert {d["label"] for d in lines[0]["detections"]} == {"red", "blue"}
        for record in lines:  # the annotated copies are the ones predict draws
            assert (out / record["output"]).read_bytes() == \
                (tmp_path / "predict" / record["output"]).read_bytes()

    finally:
        detector.close()
    # Clips: byte for byte what `lookout annotate` writes for that clip with the same
    # flags: tracked, counted (per frame and the summary), drawn.
    for stem in ("walk", "quiet"):
        ref = tmp_path / "ref" / stem
        assert main(["annotate", str(color_bundle), f"{rel}/{stem}.mp4", "--out",
                     f"{ref}.mp4", "--jsonl", f"{ref}.jsonl", *flags]) == 0
        for suffix in (".jsonl", ".mp4", ".counts.json"):
            assert (out / f"{stem}{suffix}").read_bytes() == Path(f"{ref}{suffix}").read_bytes()
    assert '"counts"' in (out / "walk.jsonl").read_text()
    assert sorted(os.listdir(out)) == sorted(
        ["detections.jsonl", "quiet.jsonl", "quiet.mp4", "walk.jsonl", "walk.mp4",
         "quiet.counts.json", "walk.counts.json"] + [f"img{i}.png" for i in range(5)])


def test_batch_on_a_clip_writes_the_jsonl_annotate_writes_with_default_flags(
        color_bundle, inputs: Path, tmp_path: Path, monkeypatch) -> None:
    """Track ids included: both verbs get their settings from one builder."""
    monkeypatch.chdir(inputs.parent)
    clip = f"{inputs.name}/walk.mp4"
    assert main(["batch", str(color_bundle), clip, "--out", str(tmp_path / "batch")]) == 0
    assert main(["annotate", str(color_bundle), clip, "--jsonl",
                 str(tmp_path / "walk.jsonl")]) == 0
    written = (tmp_path / "batch" / "walk.jsonl").read_bytes()
    assert written == (tmp_path / "walk.jsonl").read_bytes()
    lines = [json.loads(line) for line in written.splitlines()]
    assert len(lines) == 12
    assert {d["track_id"] for d in lines[-1]["detections"]} == {1, 2}  # red and blue


def test_missing_model_and_no_inputs_are_one_line(color_bundle, tmp_path: Path, capsys) -> None:
    assert main(["batch", str(tmp_path / "nope"), str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    assert "nope: model not found" in capsys.readouterr().err
    assert main(["batch", str(color_bundle), str(tmp_path / "none*.jpg"), "--out",
                 str(tmp_path / "o")]) == 1
    assert "no images or clips to run on" in capsys.readouterr().err


def test_a_small_local_job_says_what_ray_cost(color_bundle, inputs: Path, tmp_path: Path,
                                              capsys) -> None:
    """One image: starting Ray is most of the run, and the command says so (measured)."""
    assert main(["batch", str(color_bundle), str(inputs / "img0.png"), "--out",
                 str(tmp_path / "o")]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "starting and stopping Ray took" in err and "lookout predict and lookout annotate are faster" in err


def test_a_model_no_worker_can_load_is_one_line(inputs: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "broken.tflite"
    bad.write_bytes(b"TFL3 this is no flatbuffer")
    code = main(["batch", str(bad), str(inputs / "img0.png"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1 and "error:" in err and "broken.tflite" in err, err
    assert "Traceback" not in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_runs_on_an_existing_ray_cluster_by_address(color_bundle, inputs: Path,
                                                    tmp_path: Path) -> None:
    """A real Ray head node (``ray start --head --block``, stopped by its pid), reached at
    127.0.0.1: the same command with --ray-address runs there and writes the outputs.
    Ray's token auth is off: the test's driver and head share no token file."""
    port = _free_port()
    repo = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": repo, "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_AUTH_MODE": "disabled",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    ray_cli = str(Path(sys.executable).with_name("ray"))
    # Ray's unix sockets live under the temp dir: keep its path short (108-byte limit).
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    log = tmp_path / "head.log"
    with open(log, "w") as sink:
        head = subprocess.Popen(
            [ray_cli, "start", "--head", "--block", "--port", str(port), "--num-cpus", "1",
             "--include-dashboard", "false", "--temp-dir", str(temp)], env=env, cwd=repo,
            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # the head answers once GCS listens
            assert head.poll() is None, log.read_text()[-2000:]
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(1)
        out = tmp_path / "out"
        # From a shell, as a user runs it (a fresh driver process, like on a cluster).
        run = subprocess.run(
            [sys.executable, "-m", "lookout", "batch", str(color_bundle),
             str(inputs / "img1.png"), str(inputs / "walk.mp4"), "--out", str(out),
             "--ray-address", f"127.0.0.1:{port}"], env=env, check=False,
            capture_output=True, text=True, timeout=300)
        err = run.stderr
        assert run.returncode == 0, err
        assert "Traceback" not in err
        assert "1 image(s)" in err and "1 clip(s) on 1 worker(s)" in err
        (line,) = (out / "detections.jsonl").read_text().splitlines()
        assert json.loads(line)["file"] == str(inputs / "img1.png")
        assert len((out / "walk.jsonl").read_text().splitlines()) == 12
    finally:
        if head.poll() is None:
            os.killpg(head.pid, signal.SIGTERM)  # the head cleans up the processes it started
            try:
                head.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(head.pid, signal.SIGKILL)
                head.wait()
        shutil.rmtree(temp, ignore_errors=True)
