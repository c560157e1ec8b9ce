"""Time to first result: `lookout bench startup [--model BUNDLE] [--runtime-venv DIR]`.

Runs ``lookout predict BUNDLE photo.jpg`` as a new user would (a fresh process, from
the command's start to its exit with the one result written) with each file of the
bundle: ``model.tflite`` (what ``auto`` runs on a CPU), ``model_int8.tflite`` if there
is one, and the SavedModel; plus ``import tensorflow`` alone, for scale. Goal: the
.tflite bundle's first result in <= 1.5 s. Each figure is the median of ``--repeats``.

Also prints the size on disk of this Python environment (the full install) and, with
``--runtime-venv``, of a runtime-only one (``pip install lookout`` without [full]).
"""

from __future__ import annotations

import argparse
import os
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

FILES = {"tflite": "model.tflite", "int8": "model_int8.tflite", "saved_model": "saved_model"}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="lookout bench startup", description=__doc__.split("\n")[0])
    p.add_argument("--model", help="bundle (default: the pipeline benchmark's RetinaNet)")
    p.add_argument("--repeats", type=int, default=3, help="runs per figure (median)")
    p.add_argument("--runtime-venv", help="a runtime-only virtualenv to size (and run from)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import cv2
    import numpy as np

    args = parse(argv)
    if args.model:
        model = Path(args.model)
    else:
        from bench_media import ensure_bench_model

        model = ensure_bench_model()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(HERE.parent)}
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench_startup_") as tmp:
        photo = Path(tmp) / "photo.jpg"
        rng = np.random.default_rng(0)
        cv2.imwrite(str(photo), rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8))
        lookout = [sys.executable, "-m", "lookout.cli"]
        figures["python -c pass"] = timed([sys.executable, "-c", "pass"], env, args.repeats)
        figures["import tensorflow"] = timed([sys.executable, "-c", "import tensorflow"], env,
                                             args.repeats)
        for fmt, file in FILES.items():
            if not (model / file).exists():
                continue
            cmd = [*lookout, "predict", str(model), str(photo), "--out", f"{tmp}/out-{fmt}",
                   "--bundle-format", "auto" if fmt == "tflite" else fmt]
            figures[f"predict, {file}" + (" (auto)" if fmt == "tflite" else "")] = timed(
                cmd, env, args.repeats)
        if args.runtime_venv:
            cmd = [str(Path(args.runtime_venv) / "bin" / "lookout"), "predict", str(model),
                   str(photo), "--out", f"{tmp}/out-rt"]
            figures["predict, model.tflite, runtime-only install"] = timed(
                cmd, {**os.environ}, args.repeats)
    print(f"model: {model}")
    width = max(map(len, figures))
    for name, seconds in figures.items():
        print(f"  {name:<{width}}  {seconds:6.2f} s")
    tfl = next(v for k, v in figures.items() if k.startswith("predict, model.tflite"))
    saved = figures.get("predict, saved_model")
    if saved:
        print(f"first result: model.tflite {tfl:.2f} s vs SavedModel {saved:.2f} s "
              f"({saved / tfl:.1f}x sooner; goal <= 1.5 s)")
    full = du(Path(sys.prefix))
    print(f"install size: full (this environment, {sys.prefix}) {full / 1e6:.0f} MB")
    if args.runtime_venv:
        runtime = du(Path(args.runtime_venv))
        print(f"install size: runtime-only ({args.runtime_venv}) {runtime / 1e6:.0f} MB "
              f"({runtime / full:.0%} of the full one)")
    return 0


def timed(cmd: list[str], env: dict, repeats: int) -> float:
    """Median wall seconds of ``cmd`` from start to exit (it must succeed)."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        runs.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return statistics.median(runs)


def du(path: Path) -> int:
    """Bytes on disk under ``path`` (blocks actually used, as ``du`` counts them)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total


if __name__ == "__main__":
    sys.exit(main())
