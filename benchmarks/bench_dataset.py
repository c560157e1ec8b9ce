"""`lookout bench dataset`: build speed (images/s) and peak memory of `build_dataset`.

Builds the raccoon set, then generated sets SCALE/4 and SCALE times larger (raccoon's
pictures, each copy stamped with its own number so none is a duplicate, same VOC boxes),
each in a child process whose peak RSS is read from ``os.wait4``. Memory is flat when
the larger build peaks no higher than the smaller one; a child that only imports
TensorFlow and the toolchain gives the baseline that they alone cost.

    python benchmarks/bench_dataset.py [--scale 20] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
import tensorflow  # imported before the clock starts, and in the baseline too
from training.config import DatasetConfig
from training.datasets.build import build_dataset
src, out = sys.argv[1], sys.argv[2]
if src == "-":
    print(json.dumps({"images": 0, "seconds": 0.0})); sys.exit()
start = time.perf_counter()
result = build_dataset(src, out, DatasetConfig(skip_bad=True))
print(json.dumps({"images": result.report.images, "seconds": time.perf_counter() - start,
                  "shards": sum(len(v) for v in result.records.values())}))
"""


def measure(src: str, out: Path) -> dict:
    """Run one build in a child; its own figures plus its peak RSS in MiB."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, src, str(out)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    stdout = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"build of {src} failed (exit {child.returncode})")
    figures = json.loads(stdout.strip().splitlines()[-1])
    figures["peak_mib"] = usage.ru_maxrss / 1024  # KiB on Linux
    return figures


def generate(scale: int, dest: Path) -> int:
    """``scale`` stamped copies of every raccoon picture, VOC XML beside each; returns the count."""
    import cv2
    from lxml import etree
    from rich.progress import track

    from tests.fixtures.datasets import tutorial_data

    raccoon = tutorial_data("raccoon")
    xmls = sorted((raccoon / "annotations").glob("*.xml"))
    dest.mkdir(parents=True, exist_ok=True)
    count = 0
    for copy in track(range(scale), description=f"generating {scale}x raccoon"):
        for xml in xmls:
            tree = etree.parse(str(xml))
            name = tree.findtext("filename")
            pixels = cv2.imread(str(raccoon / "images" / name))
            stem = f"{Path(name).stem}-c{copy}"
            # the copy number first, so even a narrow picture's stamp differs between copies
            cv2.putText(pixels, f"{copy} {stem}", (5, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                        (0, 255, 255), 2)
            cv2.imwrite(str(dest / f"{stem}.jpg"), pixels, [cv2.IMWRITE_JPEG_QUALITY, 90])
            tree.find("filename").text = f"{stem}.jpg"
            tree.write(str(dest / f"{stem}.xml"))
            count += 1
    return count


def subset(big: Path, dest: Path, copies: int) -> Path:
    """The first ``copies`` copies of the generated set, as links (no extra disk)."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in big.iterdir():
        copy = int(path.stem.rsplit("-c", 1)[1])
        if copy < copies and not (dest / path.name).exists():
            os.symlink(path, dest / path.name)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lookout bench dataset", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=20, help="size of the generated set, x raccoon")
    parser.add_argument("--keep", default=None, help="work in this folder and keep it")
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    console = Console()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_dataset."))
    try:
        big = work / f"raccoon-x{args.scale}"
        start = time.perf_counter()
        generated = generate(args.scale, big) if not big.is_dir() else len(list(big.glob("*.xml")))
        console.print(f"generated {generated} images in {time.perf_counter() - start:.0f} s")
        quarter = max(1, args.scale // 4)
        mid = subset(big, work / f"raccoon-x{quarter}", quarter)
        rows = [("imports only (baseline)", measure("-", work / "none"))]
        from tests.fixtures.datasets import tutorial_data

        rows.append(("raccoon", measure(str(tutorial_data("raccoon")), work / "out-raccoon")))
        rows.append((f"raccoon x{quarter} (generated)", measure(str(mid), work / "out-mid")))
        rows.append((f"raccoon x{args.scale} (generated)", measure(str(big), work / "out-big")))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    table = Table("build", "images", "seconds", "images/s", "peak RSS MiB", "above baseline MiB",
                  title="lookout dataset build: speed and memory (one child process per build)")
    base = rows[0][1]["peak_mib"]
    for name, f in rows:
        rate = f"{f['images'] / f['seconds']:.1f}" if f["seconds"] else "-"
        table.add_row(name, str(f["images"]), f"{f['seconds']:.1f}", rate, f"{f['peak_mib']:.0f}",
                      f"{f['peak_mib'] - base:.0f}")
    console.print(table)
    small, large = rows[1][1], rows[-1][1]
    console.print(f"images: x{large['images'] / small['images']:.1f}; "
                  f"peak RSS: x{large['peak_mib'] / small['peak_mib']:.2f} "
                  f"(above baseline: x{(large['peak_mib'] - base) / max(small['peak_mib'] - base, 1):.2f}); "
                  f"speed: x{(large['images'] / large['seconds']) / (small['images'] / small['seconds']):.2f}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
