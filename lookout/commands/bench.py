"""`lookout bench NAME [ARGS...]`: run ``benchmarks/bench_NAME.py`` (figures and ratios, one run)."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from core.errors import UserError

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench", help="run a benchmark: " + (", ".join(available()) or "none yet"),
        description="Run one of the measured benchmarks in benchmarks/. Extra arguments go to it.",
    )
    parser.add_argument("name", help="benchmark name (" + ", ".join(available()) + ")")
    parser.add_argument("bench_args", nargs=argparse.REMAINDER, help="passed to the benchmark")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: object) -> int:
    path = BENCH_DIR / f"bench_{args.name}.py"
    if not path.is_file():
        raise UserError(f"no benchmark {args.name!r}; available: {', '.join(available())}")
    spec = importlib.util.spec_from_file_location(f"bench_{args.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return int(module.main(args.bench_args) or 0)
