"""`lookout retrain BUNDLE --review DIR`: reviewed frames → candidate → compared → promoted or kept.

A thin shell over `training.retrain.retrain`; flags override ``[retrain]``.
"""

from __future__ import annotations

import argparse
import sys

from lookout.config import Config, override


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "retrain", help="train a candidate on the reviewed events; promote it if it is better",
        description="Build a dataset from the bundle's training data plus the review folder "
                    "(each reviewed frame in train or test by a hash of its name), train from "
                    "the bundle's own run, evaluate candidate and current model on the same "
                    "test split and on the reviewed frames, and promote the candidate (the "
                    "current bundle kept as BUNDLE.prev) only when it is not worse on the test "
                    "split beyond --margin and better on the reviewed frames.")
    p.add_argument("bundle", help="the model bundle watch runs (models/NAME)")
    p.add_argument("--review", default=None,
                   help="review folder (default: [review] dir, else EVENTS_DIR/review)")
    p.add_argument("--data", default=None,
                   help="the original training data, any source `dataset build` reads "
                        "(default: the dataset of the bundle's training run)")
    p.add_argument("--work", default=None,
                   help="folder for the dataset, run and retrain.json "
                        "(default: runs/BUNDLE-retrain-STAMP)")
    p.add_argument("--time", default=None,
                   help="training time of the candidate, e.g. 20m (the clock ends it; "
                        "--steps caps it)")
    p.add_argument("--steps", type=int, default=None,
                   help="training steps of the candidate (default 300; with --time and no "
                        "--steps: as many as the time allows)")
    p.add_argument("--batch", type=int, default=None, help="training batch (default: the run's)")
    p.add_argument("--margin", type=float, default=None,
                   help="largest test-split AP50 loss still promoted (default 0.02)")
    p.add_argument("--score", type=float, default=None,
                   help="detection score at which reviewed frames are judged (default 0.5)")
    p.add_argument("--progress-json", action="store_true",
                   help="instead of bars and a table: one JSON line per progress report and "
                        "a last {\"result\": ...} line on stdout (what the page's retrain "
                        "button reads)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from lookout.progress import Bars
    from training.retrain import retrain

    steps = args.steps if args.steps is not None or not args.time else 0
    cfg = override(config.retrain, time=args.time, steps=steps, margin=args.margin,
                   score=args.score)
    review = args.review or config.review.folder(config.watch.events_dir)
    changes = {"batch": args.batch} if args.batch else {}
    if args.progress_json:
        return _run_json(args, cfg, review, changes)
    out = Console(file=sys.stdout, highlight=False)
    with Bars(out) as bars:
        def notify(text: str, warning: bool) -> None:
            bars.progress.console.print(f"[yellow]warning:[/] {escape(text)}" if warning
                                        else escape(text), soft_wrap=True, highlight=False)

        result = retrain(args.bundle, review, data=args.data, work_dir=args.work, cfg=cfg,
                         train_changes=changes, on_progress=bars, notify=notify)
    table = Table(title=f"{result.bundle}: current and candidate", title_justify="left")
    table.add_column("")
    table.add_column("current", justify="right")
    table.add_column("candidate", justify="right")
    cur, new = result.current, result.new
    for key in ("AP", "AP50"):
        table.add_row(f"test {key} ({result.test_images} images)",
                      f"{cur.test.get(key, 0.0):.3f}", f"{new.test.get(key, 0.0):.3f}")
    table.add_row("wrong alerts still firing",
                  f"{cur.reviews.still_firing}/{cur.reviews.wrong}",
                  f"{new.reviews.still_firing}/{new.reviews.wrong}")
    table.add_row("reviewed objects found", f"{cur.reviews.found}/{cur.reviews.objects}",
                  f"{new.reviews.found}/{new.reviews.objects}")
    out.print(table)
    for reason in result.reasons:
        out.print(f"  {escape(reason)}", soft_wrap=True)
    if result.promoted:
        out.print(f"promoted the candidate into {result.bundle} (the previous model is in "
                  f"{result.previous}; a running watch switches to it)", soft_wrap=True)
    else:
        out.print(f"kept the current model in {result.bundle}; the candidate is "
                  f"{result.candidate}", soft_wrap=True)
    out.print(f"record: {result.work_dir / 'retrain.json'}", soft_wrap=True)
    return 0


def _run_json(args: argparse.Namespace, cfg, review, changes: dict) -> int:
    """``--progress-json``: machine-readable progress for the page (errors stay one
    ``error:`` line on stderr, as for every verb)."""
    import json

    from core.progress import Progress
    from training.retrain import retrain

    def emit(item: dict) -> None:
        print(json.dumps(item), flush=True)

    def on_progress(p: Progress) -> None:
        emit({"task": p.task, "done": p.done, "total": p.total, "note": p.note})

    def notify(text: str, warning: bool) -> None:
        emit({"task": "note", "done": 0, "total": None, "note": text})

    result = retrain(args.bundle, review, data=args.data, work_dir=args.work, cfg=cfg,
                     train_changes=changes, on_progress=on_progress, notify=notify)
    emit({"result": result.as_dict()})
    return 0
