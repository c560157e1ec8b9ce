"""The `lookout` command: one verb per module in `lookout.commands`.

A verb module defines ``register(subparsers)``, which adds its parser and sets
``func=run``; ``run(args, config)`` is a thin shell over a library call and imports
heavy things (TensorFlow) only inside, so ``lookout --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from lookout import __version__
from lookout.config import load_config
from lookout.errors import UserError

# In the order a user meets them.
VERBS = [
    "config", "dataset", "train", "eval", "export", "predict",
    "annotate", "live", "watch", "bench", "demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lookout",
        description="Train a detector on your own images, then run it on live video.",
    )
    parser.add_argument("--version", action="version", version=f"lookout {__version__}")
    parser.add_argument("--config", default=None,
                        help="config file (default: ./config.toml when present)")
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb in VERBS:
        name = f"lookout.commands.{verb}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # verb not built yet
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ chatter out
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        config = load_config(args.config)
        return int(args.func(args, config) or 0)
    except UserError as exc:
        from rich.console import Console

        Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {exc}", markup=True,
                                                    soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
