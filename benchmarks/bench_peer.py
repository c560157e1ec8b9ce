"""lookout against a hand-written pipeline: `lookout bench peer --model BUNDLE`.

The peer is what a user would write in 40 lines (`PEER`): ``supervision.process_video``
(threaded decode and encode, audio kept) around a LiteRT interpreter on 2 threads
running the bundle's own ``model.tflite`` (fed as the file wants it: a fixed-size
file gets the frame letterboxed by cv2, an any-size file the whole frame), drawing with
supervision's BoxAnnotator. Both sides run as fresh processes, start-up included, on the
same generated 720p clip (with audio), in interleaved rounds (medians):

- clip: `lookout annotate BUNDLE clip --out out.mp4` with its defaults, and with
  ``--bundle-format tflite`` (the peer's own file), against the peer.
  Goals: defaults >= 1.3x the peer's speed, the float file alone >= 1.1x.
- 4 clips at once, a stand-in for 4 cameras (files, lossless): one
  `lookout annotate BUNDLE c1..c4 --out-dir D` against 4 peers started together.

``--files A.tflite B.tflite ...`` adds detector-only ms per 720p frame of each file
through the runtime's LiteRT backend (1 worker of 1 and of 2 threads, interleaved):
the before/after figures of issue 22 (point 1) and int8 against float.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent):  # `lookout bench` loads this file by path
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bench_media as media  # the clip and the cached model

PEER = '''
import sys
import cv2, numpy as np, supervision as sv
from ai_edge_litert.interpreter import Interpreter

model, src, dst = sys.argv[1:4]
runner = Interpreter(model_path=model, num_threads=2).get_signature_runner("serving_default")
shape = runner.get_input_details()["images"]["shape_signature"]
size = int(shape[1]) if shape[1] > 0 else 0  # 0: the file takes any size
boxes = sv.BoxAnnotator()

def callback(frame, index):
    h, w = frame.shape[:2]
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    sy = sx = 1.0
    if size:  # letterbox into the fixed input
        scale = size / max(h, w)
        nh, nw = round(h * scale), round(w * scale)
        image = np.zeros((size, size, 3), np.uint8)
        image[:nh, :nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
        sy, sx = size / nh, size / nw
    else:
        image = rgb
    out = runner(images=image[None])
    n = int(out["num_detections"][0])
    keep = out["detection_scores"][0][:n] >= 0.5
    yxyx = np.clip(out["detection_boxes"][0][:n][keep] * [sy, sx, sy, sx], 0, 1)
    detections = sv.Detections(xyxy=yxyx[:, [1, 0, 3, 2]] * [w, h, w, h],
                               confidence=out["detection_scores"][0][:n][keep],
                               class_id=out["detection_classes"][0][:n][keep].astype(int))
    return boxes.annotate(frame.copy(), detections)

sv.process_video(src, dst, callback, preserve_audio=True)
'''


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="lookout bench peer", description=__doc__.split("\n")[0])
    p.add_argument("--model", help="bundle (default: bench pipeline's cached RetinaNet)")
    p.add_argument("--frames", type=int, default=240, help="frames in the 720p clip")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    p.add_argument("--cameras", type=int, default=4, help="clips in the several-clips case "
                                                          "(0 = skip it)")
    p.add_argument("--files", nargs="*", default=[],
                   help=".tflite files to time detector-only (e.g. before and after)")
    p.add_argument("--out", default=None, help="write the figures as JSON here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    model = Path(args.model) if args.model else media.ensure_bench_model()
    r: dict = {"model": str(model), "load": os.getloadavg(), "cores": os.cpu_count()}
    print(f"model: {model}; load average {r['load'][0]:.1f} on {r['cores']} cores")
    with tempfile.TemporaryDirectory(prefix="bench_peer_") as tmp:
        work = Path(tmp)
        clip = media.make_720p_clip(work / "clip.mp4", args.frames)
        if args.files:
            r["detector_ms"] = detector_only(args.files, media.decode(clip), args.rounds)
        r["clip"] = clip_case(model, clip, work, args.rounds)
        if args.cameras:
            r["cameras"] = cameras_case(model, clip, work, args.cameras, args.rounds)
    r["load_after"] = os.getloadavg()
    if args.out:
        Path(args.out).write_text(json.dumps(r, indent=2) + "\n")
    return 0


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cpu: list[float] | None = None) -> float:
    """Wall seconds of ``cmd``; its CPU seconds go to ``cpu`` (the machine is shared:
    CPU per run moves less with the load than wall time)."""
    start, cpu0 = time.perf_counter(), children_cpu()
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    if cpu is not None:
        cpu.append(children_cpu() - cpu0)
    return time.perf_counter() - start


def lookout(*args: str) -> list[str]:
    return [sys.executable, "-m", "lookout.cli", *args]


def peer(work: Path, model: Path, clip: Path, out: Path) -> list[str]:
    script = work / "peer.py"
    if not script.is_file():
        script.write_text(PEER)
    return [sys.executable, str(script), str(model / "model.tflite"), str(clip), str(out)]


def clip_case(model: Path, clip: Path, work: Path, rounds: int) -> dict:
    runs = {"peer": peer(work, model, clip, work / "peer.mp4"),
            "lookout": lookout("annotate", str(model), str(clip), "--out", str(work / "a.mp4")),
            "lookout_tflite": lookout("annotate", str(model), str(clip), "--out",
                                      str(work / "b.mp4"), "--bundle-format", "tflite")}
    seconds: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    for n in range(rounds):
        for name, cmd in runs.items():
            seconds[name].append(timed(cmd, cpu[name]))
        print(f"clip round {n + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s (CPU {cpu[k][-1]:.1f} s)"
                                                   for k, v in seconds.items()), flush=True)
    med = {k: statistics.median(v) for k, v in seconds.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    ratio = {k: med["peer"] / med[k] for k in ("lookout", "lookout_tflite")}
    cpu_ratio = {k: med_cpu["peer"] / med_cpu[k] for k in ("lookout", "lookout_tflite")}
    print(f"clip (median of {rounds}, start-up included): peer {med['peer']:.2f} s, lookout "
          f"{med['lookout']:.2f} s ({ratio['lookout']:.2f}x the peer's speed, goal >= 1.3), "
          f"--bundle-format tflite {med['lookout_tflite']:.2f} s "
          f"({ratio['lookout_tflite']:.2f}x, goal >= 1.1); CPU seconds: peer "
          f"{med_cpu['peer']:.1f}, lookout {med_cpu['lookout']:.1f} "
          f"({cpu_ratio['lookout']:.2f}x less), tflite {med_cpu['lookout_tflite']:.1f} "
          f"({cpu_ratio['lookout_tflite']:.2f}x less)")
    return {"seconds": seconds, "median_s": med, "speed_vs_peer": ratio, "cpu_s": cpu,
            "cpu_vs_peer": cpu_ratio}


def cameras_case(model: Path, clip: Path, work: Path, n: int, rounds: int) -> dict:
    clips = []
    for i in range(n):
        clips.append(work / f"cam{i}.mp4")
        if not clips[-1].exists():
            os.link(clip, clips[-1])
    seconds: dict[str, list[float]] = {"peer": [], "lookout": []}
    cpu: dict[str, list[float]] = {"peer": [], "lookout": []}
    for k in range(rounds):
        start, cpu0 = time.perf_counter(), children_cpu()
        procs = [subprocess.Popen(peer(work, model, c, work / f"peer{i}.mp4"),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for i, c in enumerate(clips)]
        if any(p.wait() for p in procs):
            raise SystemExit("a peer process failed")
        seconds["peer"].append(time.perf_counter() - start)
        cpu["peer"].append(children_cpu() - cpu0)
        seconds["lookout"].append(timed(lookout("annotate", str(model), *map(str, clips),
                                                "--out-dir", str(work / "many")), cpu["lookout"]))
        print(f"{n} clips round {k + 1}: peer x{n} {seconds['peer'][-1]:.2f} s (CPU "
              f"{cpu['peer'][-1]:.1f} s), lookout {seconds['lookout'][-1]:.2f} s (CPU "
              f"{cpu['lookout'][-1]:.1f} s)", flush=True)
    med = {k: statistics.median(v) for k, v in seconds.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"{n} clips at once (median of {rounds}): {n} peers {med['peer']:.2f} s, one lookout "
          f"{med['lookout']:.2f} s ({med['peer'] / med['lookout']:.2f}x the peers' speed); CPU "
          f"{med_cpu['peer']:.1f} s vs {med_cpu['lookout']:.1f} s")
    return {"clips": n, "seconds": seconds, "median_s": med, "cpu_s": cpu,
            "speed_vs_peer": med["peer"] / med["lookout"]}


def detector_only(files: list[str], frames: list, rounds: int) -> dict:
    """ms per 720p frame of each file through `load_detector` (letterbox or in-graph
    resize included), one interpreter of 1 and of 2 threads, interleaved: wall time and
    this process's CPU time (all its threads; less sensitive to the machine's load)."""
    from realtime.config import DetectorConfig
    from realtime.detectors import load_detector

    frames = frames[:30]
    ms: dict[str, list[float]] = {}
    cpu_ms: dict[str, list[float]] = {}
    detectors = {}
    for f in files:
        for threads in (1, 2):
            cfg = DetectorConfig(score=0.5, workers=1, threads=threads, tile="off")
            detectors[f"{f} @{threads}t"] = load_detector(f, cfg)
    for n in range(rounds):
        for name, d in detectors.items():
            d.detect(frames[:1])
            start, cpu0 = time.perf_counter(), time.process_time()
            for frame in frames:
                d.detect([frame])
            ms.setdefault(name, []).append(1000 * (time.perf_counter() - start) / len(frames))
            cpu_ms.setdefault(name, []).append(1000 * (time.process_time() - cpu0) / len(frames))
        print(f"detector round {n + 1}: " + ", ".join(
            f"{k} {v[-1]:.1f} ms (CPU {cpu_ms[k][-1]:.1f})" for k, v in ms.items()), flush=True)
    med = {k: round(statistics.median(v), 2) for k, v in ms.items()}
    med_cpu = {k: round(statistics.median(v), 2) for k, v in cpu_ms.items()}
    for name, value in med.items():
        print(f"detector-only {name}: {value:.1f} ms per 720p frame, CPU {med_cpu[name]:.1f} ms "
              f"(median of {rounds})")
    for d in detectors.values():
        d.close()
    return {"rounds": ms, "median_ms": med, "cpu_rounds": cpu_ms, "median_cpu_ms": med_cpu}


if __name__ == "__main__":
    sys.exit(main())
