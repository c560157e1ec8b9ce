"""`lookout config check [FILE]` and `lookout config show`."""

from __future__ import annotations

import argparse

from lookout.config import DEFAULT_CONFIG, describe, load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("config", help="validate or list config.toml keys")
    sub = parser.add_subparsers(dest="config_verb", required=True, metavar="ACTION")
    check = sub.add_parser("check", help="validate a config file; exit 1 on errors")
    check.add_argument("file", nargs="?", default=None, help=f"default: {DEFAULT_CONFIG}")
    check.set_defaults(func=run_check)
    show = sub.add_parser("show", help="list every key with its default and meaning")
    show.set_defaults(func=run_show)


def run_check(args: argparse.Namespace, config: object) -> int:
    path = args.file or args.config or DEFAULT_CONFIG
    load_config(path)  # raises UserError naming file, line and key
    print(f"{path}: ok")
    return 0


def run_show(args: argparse.Namespace, config: object) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table("key", "default", "meaning", title="config.toml keys")
    for key, default, text in describe():
        table.add_row(escape(key), escape(repr(default)), escape(text))
    Console().print(table)
    return 0
