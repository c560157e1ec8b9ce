"""Typed config tables: the field helper `doc`, checks when a table is built, TOML loading.

A table is a dataclass deriving from `Section`. Each field is declared with
``doc(default, text, ...)``, which may carry its range (``ge``, ``gt``, ``le``, ``lt``)
and its ``choices``; a table adds cross-field rules in ``problems()``. Building a table
(from Python, through `override` / `dataclasses.replace`, or from a file) runs every
check, so a config object that exists holds valid values and libraries need not clamp.

`load(Root, path)` reads a TOML file and reports every bad value at once, one per line,
as ``FILE:LINE: dotted.key: what is wrong``.
"""

from __future__ import annotations

import contextvars
import dataclasses
import re
import tomllib
import types
import typing
from collections.abc import Iterable
from dataclasses import field
from pathlib import Path
from typing import Any, ClassVar

from core.errors import UserError

Problem = tuple[str, str]  # (key relative to its table, what is wrong)


def doc(default: Any, text: str, *, ge: float | None = None, gt: float | None = None,
        le: float | None = None, lt: float | None = None,
        choices: Iterable[Any] | None = None) -> Any:
    """A dataclass field with a default, a description (``lookout config show``) and its
    allowed values: ``ge``/``gt`` (at least / above), ``le``/``lt`` (at most / below),
    ``choices`` (for a list: each item)."""
    meta: dict[str, Any] = {"doc": text}
    for name, bound in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)):
        if bound is not None:
            meta[name] = bound
    if choices is not None:
        meta["choices"] = tuple(choices)
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):
        factory = (lambda d=default: type(d)(d)) if isinstance(default, (list, dict)) else type(default)
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def check_value(value: Any, meta: typing.Mapping[str, Any]) -> str | None:
    """What is wrong with ``value`` given its field's ``doc`` metadata, or None."""
    choices = meta.get("choices")
    if choices is not None:
        for item in value if isinstance(value, list) else [value]:
            if item not in choices:
                return f"must be one of {' | '.join(map(str, choices))}, got {item!r}"
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    ge, gt, le, lt = (meta.get(k) for k in ("ge", "gt", "le", "lt"))
    low_ok = (ge is None or value >= ge) and (gt is None or value > gt)
    high_ok = (le is None or value <= le) and (lt is None or value < lt)
    if low_ok and high_ok:
        return None
    if ge is not None and le is not None:
        return f"must be between {_num(ge)} and {_num(le)}, got {value!r}"
    parts = [f"at least {_num(ge)}" if ge is not None else "",
             f"above {_num(gt)}" if gt is not None else "",
             f"at most {_num(le)}" if le is not None else "",
             f"below {_num(lt)}" if lt is not None else ""]
    return f"must be {' and '.join(p for p in parts if p)}, got {value!r}"


class ConfigError(UserError):
    """Bad values of one table: ``problems`` are ``(key, message)``, keys relative to ``table``."""

    def __init__(self, table: str, problems: list[Problem]) -> None:
        self.table = table
        self.problems = problems
        super().__init__("; ".join(f"{join(table, k)}: {m}" for k, m in problems))


_checking = contextvars.ContextVar("config_checking", default=True)


class Section:
    """Base of every config table: building one checks it (see the module docstring)."""

    table: ClassVar[str] = ""  # its dotted name in config.toml, for messages

    def __post_init__(self) -> None:
        if _checking.get():
            problems = self.own_problems()
            if problems:
                raise ConfigError(self.table, problems)

    def problems(self) -> Iterable[Problem]:
        """Cross-field rules of this table (override); ranges and choices come from `doc`."""
        return ()

    def own_problems(self) -> list[Problem]:
        """Every problem of this table's own values (nested tables check themselves)."""
        found = []
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            message = check_value(getattr(self, f.name), f.metadata)
            if message:
                found.append((f.name, message))
        found.extend(self.problems())
        return found


def join(prefix: str, key: str) -> str:
    if not prefix:
        return key
    return f"{prefix}{key}" if key.startswith("[") else f"{prefix}.{key}"


def override(section: Any, **values: Any) -> Any:
    """Copy of ``section`` with every value that is not None applied (checked again).

    Raises:
        ConfigError: a value (or a rule across values) is out of bounds.
    """
    names = {f.name for f in dataclasses.fields(section)}
    unknown = [k for k in values if k not in names]
    if unknown:
        raise ValueError(f"override: {type(section).__name__} has no field {unknown}")
    return dataclasses.replace(section, **{k: v for k, v in values.items() if v is not None})


def describe(cls: type, prefix: str = "") -> list[tuple[str, Any, str]]:
    """``(dotted key, default, doc)`` for every leaf field: the documented key list."""
    rows = []
    for f in dataclasses.fields(cls):
        dotted = join(prefix, f.name)
        hint = typing.get_type_hints(cls)[f.name]
        if dataclasses.is_dataclass(hint):
            rows.extend(describe(hint, dotted))
        else:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            rows.append((dotted, default, f.metadata.get("doc", "")))
    return rows


# --------------------------------------------------------------------------- loading


def load(root: type, path: str | Path) -> Any:
    """Read the TOML file ``path`` into the table class ``root``.

    Raises:
        UserError: the file is missing or not TOML, or lists every unknown key, wrong
            type and out-of-range value, one ``FILE:LINE: key: message`` per line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read config ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: invalid TOML: {exc}") from None
    found: list[Problem] = []
    token = _checking.set(False)  # build everything first, then check it all
    try:
        config = _build(root, data, "", found)
    finally:
        _checking.reset(token)
    _check_tree(config, "", found)
    if found:
        lines = _key_lines(text)
        rows = sorted(((_line_of(lines, key), key, m) for key, m in found),
                      key=lambda r: r[0] or 0)
        raise UserError("\n".join(f"{path}{f':{n}' if n else ''}: {key}: {m}"
                                  for n, key, m in rows))
    return config


class _Bad(Exception):
    pass


def _build(cls: type, data: Any, prefix: str, found: list[Problem]) -> Any:
    if not isinstance(data, dict):
        found.append((prefix or "(top)", f"expected a table, got {_tname(data)}"))
        return cls()
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        dotted = join(prefix, key)
        if key not in names:
            found.append((dotted, f"unknown key (known: {', '.join(sorted(names))})"))
            continue
        try:
            kwargs[key] = _coerce(hints[key], value, dotted, found)
        except _Bad as bad:
            found.append(bad.args)
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, dotted: str, found: list[Problem]) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, dotted, found)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        for option in options[:-1]:  # the first type that fits, e.g. int | str
            try:
                return _coerce(option, value, dotted, found)
            except _Bad:
                pass
        return _coerce(options[-1], value, dotted, found)
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        if not isinstance(value, list):
            raise _Bad(dotted, f"expected a list, got {_tname(value)}")
        return [_coerce(item, v, f"{dotted}[{i}]", found) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise _Bad(dotted, f"expected a table, got {_tname(value)}")
        return dict(value)
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float) and isinstance(value, bool):
        raise _Bad(dotted, f"expected {hint.__name__}, got bool")
    if isinstance(hint, type) and not isinstance(value, hint):
        raise _Bad(dotted, f"expected {hint.__name__}, got {_tname(value)} {value!r}")
    return value


def _tname(value: Any) -> str:
    return {dict: "table", list: "list", str: "string"}.get(type(value), type(value).__name__)


def _check_tree(node: Any, prefix: str, found: list[Problem]) -> None:
    """Every table's own problems, with keys made absolute, depth first."""
    if isinstance(node, Section):
        found.extend((join(prefix, k), m) for k, m in node.own_problems())
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if dataclasses.is_dataclass(value):
            _check_tree(value, join(prefix, f.name), found)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if dataclasses.is_dataclass(item):
                    _check_tree(item, f"{join(prefix, f.name)}[{i}]", found)


def _key_lines(text: str) -> dict[str, int]:
    """``{dotted key: line}`` of the table headers and keys written in ``text``."""
    lines: dict[str, int] = {}
    table, seen = "", {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if m := re.match(r"\[\[\s*([\w.-]+)\s*\]\]", line):
            index = seen[m[1]] = seen.get(m[1], -1) + 1
            table = f"{m[1]}[{index}]"
            lines.setdefault(m[1], number)
        elif m := re.match(r"\[\s*([\w.-]+)\s*\]", line):
            table = m[1]
        elif m := re.match(r"([\w.-]+)\s*=", line):
            lines.setdefault(join(table, m[1]), number)
            continue
        else:
            continue
        lines.setdefault(table, number)
    return lines


def _line_of(lines: dict[str, int], dotted: str) -> int | None:
    """The line of ``dotted``, else of the nearest enclosing key or table written."""
    while dotted:
        if dotted in lines:
            return lines[dotted]
        dotted = re.sub(r"(\[\d+\]|\.?[^.\[]+)$", "", dotted)
    return None
