"""The `lookout` command: one verb per module in `lookout.commands`.

A verb module defines ``register(subparsers)``, which adds its parser and sets
``func=run``; ``run(args, config)`` is a thin shell over a library call and imports
heavy things (TensorFlow) only inside, so ``lookout --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

from core.errors import UserError
from lookout import __version__, noise
from lookout.config import load_config

# What only the full install has (pyproject's `full` extra); the runtime install runs
# .tflite bundles without them. FULL_VERBS always need it; the others (predict on a
# SavedModel, `dataset build`) find out when they import one of these.
FULL_INSTALL_ONLY = {"tensorflow", "tf_keras", "official", "pycocotools", "matplotlib"}
FULL_VERBS = {"train", "eval", "export", "retrain", "demo"}

# In the order a user meets them.
VERBS = [
    "config", "frames", "label", "dataset", "train", "eval", "export", "predict",
    "annotate", "live", "watch", "serve", "batch", "retrain", "bench", "demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lookout",
        description="Train a detector on your own images, then run it on live video.",
    )
    parser.add_argument("--version", action="version", version=f"lookout {__version__}")
    parser.add_argument("--config", default=None,
                        help="config file (default: ./config.toml when present)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging and the libraries' own messages (TensorFlow, Qt...)")
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
    for sub in subparsers.choices.values():  # `lookout VERB ... -v` works too
        sub.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="debug logging and the libraries' own messages")
    return parser


def setup_logging(verbose: bool) -> None:
    """lookout's own log lines through rich on stderr; other packages' only with -v."""
    import logging

    from rich.console import Console
    from rich.logging import RichHandler

    handler = RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=False)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(message)s", datefmt="[%X]", handlers=[handler])
    logging.getLogger("lookout").setLevel(logging.DEBUG if verbose else logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Run one verb. Called without ``argv`` it is the program itself: for the verbs that
    run video (``fast_exit`` set by their parser) it then ends the process as soon as
    their outputs are closed: TensorFlow's interpreter teardown takes over a second, and
    a user who pressed q should not wait for it. Training verbs exit normally."""
    if argv is None:  # first: a SIGTERM while the verbs' modules load is a Ctrl+C too
        _stacks_on_sigusr1()
        _sigterm_like_ctrl_c()
    try:
        return _main(argv)
    except Exception as exc:
        if not _caused_by_interrupt(exc):
            raise
        print("interrupted", file=sys.stderr)  # e.g. Ctrl+C inside a native module's
        return 130                              # import: "ImportError: initialization failed"
    except KeyboardInterrupt:  # before the verb started, or after it ended
        print("interrupted", file=sys.stderr)
        return 130


def _caused_by_interrupt(exc: BaseException | None) -> bool:
    """Whether a KeyboardInterrupt is in ``exc``'s chain of causes."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    noise.set_environment(args.verbose)  # before any verb imports TensorFlow or cv2
    noise.quiet_python(args.verbose)
    setup_logging(args.verbose)
    native = noise.NativeStderrFilter().start() if not args.verbose else None
    try:
        code = _run(args, parser)
    finally:
        if native is not None:
            native.stop()
    if argv is None and getattr(args, "fast_exit", False):
        _exit_now(code)
    return code


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        if args.verb in FULL_VERBS and importlib.util.find_spec("tensorflow") is None:
            raise ModuleNotFoundError("No module named 'tensorflow'", name="tensorflow")
        config = load_config(args.config)
        return int(args.func(args, config) or 0)
    except UserError as exc:
        from rich.console import Console
        from rich.markup import escape

        console = Console(stderr=True, highlight=False)
        for line in str(exc).splitlines():  # a config file may have several bad values
            console.print(f"[bold red]error:[/] {escape(line)}", markup=True, soft_wrap=True)
        return exc.exit_code
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in FULL_INSTALL_ONLY:
            raise
        print(f"error: lookout {args.verb} needs the full install ({exc.name} is missing): "
              f"pip install 'lookout[full]'; this install runs .tflite models only",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _stacks_on_sigusr1() -> None:
    """``kill -USR1 PID`` prints every thread's stack to the terminal: how to see where a
    run that does not end is waiting. Written to a copy of fd 2, so it bypasses the
    native-noise filter and works while the interpreter is stuck."""
    import faulthandler
    import signal

    if hasattr(signal, "SIGUSR1"):
        try:
            out = os.fdopen(os.dup(2), "w")
        except OSError:  # no stderr at all (a service without one)
            return
        faulthandler.register(signal.SIGUSR1, file=out, all_threads=True)


def _sigterm_like_ctrl_c() -> None:
    """SIGTERM (``kill``, ``docker stop``, systemd) stops a run the way Ctrl+C does, so
    videos are finalized, training saves a checkpoint and temporary files are removed,
    instead of the process dying mid-write. ``watch`` installs its own, gentler handler.
    Python's own SIGINT handler, so the video engine recognises it and, while it runs,
    turns both into a stop request (see `realtime.engine.signals`)."""
    import signal

    signal.signal(signal.SIGTERM, signal.default_int_handler)


def _exit_now(code: int) -> None:
    """Exit without the slow interpreter teardown; every output is closed by now."""
    import atexit
    import logging

    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
