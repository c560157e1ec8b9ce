"""`lookout serve EVENTS_DIR [--bind [HOST:]PORT]`: the page over an events folder
(a thin shell over `realtime.serve.server.PageServer`)."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="a web page over an events folder: events, snapshots, clips, API",
        description="Serve a page (and a JSON API) over the events folder that lookout watch "
                    "writes, beside a running watch or after it; read-only. Listens on "
                    "127.0.0.1 unless --bind says otherwise; any other address needs a "
                    "password ($LOOKOUT_SERVE_PASSWORD or serve.password_hash).")
    parser.add_argument("events_dir", nargs="?", metavar="EVENTS_DIR",
                        help="the events folder (default: watch.events_dir)")
    parser.add_argument("--bind", metavar="[HOST:]PORT",
                        help="where to listen (serve.bind; default 127.0.0.1:8080)")
    parser.add_argument("--model", metavar="BUNDLE",
                        help="the bundle the events came from: its labels in the review editor, "
                             "and the Reviews page's retrain button retrains it")
    parser.add_argument("--review", metavar="DIR",
                        help="review folder (default: [review] dir, else EVENTS_DIR/review)")
    parser.add_argument("--hash-password", action="store_true",
                        help="read a password (twice, not echoed) and print its hash for "
                             "serve.password_hash, then exit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config) -> int:
    from core.errors import UserError
    from lookout.config import override
    from realtime.serve.security import hash_password
    from realtime.serve.server import PageServer

    if args.hash_password:
        first = getpass.getpass("password: ")
        if not first or getpass.getpass("again: ") != first:
            raise UserError("--hash-password: empty, or the two passwords differ")
        print(hash_password(first))
        return 0
    cfg = override(config.serve, bind=args.bind)
    events_dir = args.events_dir or config.watch.events_dir
    if args.model and not (Path(args.model) / "model.json").is_file():
        raise UserError(f"{args.model}: not a model bundle (no model.json); --model takes the "
                        "bundle folder watch runs (models/NAME)")
    server = PageServer(events_dir, cfg, model=args.model,
                        review_dir=args.review or config.review.folder(events_dir),
                        config_file=args.config).start()
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
