"""`lookout demo`: the whole path offline on generated sample data (a thin shell over
`lookout.demo.demo.run_demo`)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="the whole path offline on generated sample data",
        description="Generate sample data, build a dataset, train, evaluate and export a "
                    "detector, annotate a sample clip and watch a doorbell clip. Finished "
                    "stages are reused when run again.")
    parser.add_argument("--out", default=None, help="output folder (default: [demo] out, demo_out)")
    parser.add_argument("--fresh", action="store_true", help="delete earlier demo outputs, start over")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: [demo] steps)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and a few steps: checks the plumbing in about a minute "
                             "(the model stays weak)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config) -> int:
    import logging

    from rich.console import Console

    from lookout.demo.demo import run_demo
    from lookout.demo.summary import summary_table

    console = Console(highlight=False)
    # The watch stage's alerts (and warnings) only (the cli logs through rich).
    if not args.verbose:
        logging.getLogger("lookout").setLevel(logging.WARNING)
    result = run_demo(config, out=args.out, fresh=args.fresh, steps=args.steps, quick=args.quick,
                      console=console)
    console.print(summary_table(result))
    bundle = result.paths.bundle
    console.print(f"the doorbell's events in a browser: [bold]lookout serve "
                  f"{result.paths.events}[/] (then open http://127.0.0.1:8080)")
    console.print(f"next: [bold]lookout annotate {bundle} YOUR_CLIP.mp4 --out annotated.mp4[/], "
                  f"or train on your own labelImg folder with [bold]lookout dataset build[/]")
    return 0
