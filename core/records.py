"""Typed JSON records: each file format lookout writes (``run.json``, ``model.json``) is
one dataclass built on `JsonRecord`, which checks every field when the file is read and
writes it back atomically.

A record keeps the keys it does not know in ``extra`` and writes them back unchanged, so
a file written by a newer release still loads and survives a rewrite (``lookout eval``
adding its results to ``model.json``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar, Self

from core.errors import UserError
from core.fileio import atomic_write_json

_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
          dict: "an object", list: "a list"}


@dataclasses.dataclass
class JsonRecord:
    """Base of the file records. A subclass is a dataclass whose last field is
    ``extra: dict`` and that sets:

    - ``FILE``: the file name inside its folder (``run.json``);
    - ``KINDS``: field → accepted JSON types (``float`` accepts integers too); ``None``
      is accepted for every field not in ``REQUIRED``;
    - ``REQUIRED``: the fields a file must have;
    - ``ORDER``: the fields written first, in this order (the order the file has always
      had; the rest follow in declaration order).
    """

    FILE: ClassVar[str] = ""
    KINDS: ClassVar[dict[str, tuple[type, ...]]] = {}
    REQUIRED: ClassVar[tuple[str, ...]] = ()
    ORDER: ClassVar[tuple[str, ...]] = ()
    _NOT_FIELDS: ClassVar[tuple[str, ...]] = ("extra", "source", "present")

    # where it was read from (for messages) and the keys the file had; neither is written
    source: Path | None = dataclasses.field(default=None, kw_only=True, compare=False,
                                            repr=False)
    present: frozenset[str] | None = dataclasses.field(default=None, kw_only=True,
                                                       compare=False, repr=False)

    @classmethod
    def path(cls, folder: str | Path) -> Path:
        return Path(folder) / cls.FILE

    @classmethod
    def from_dict(cls, data: Any, source: str | Path) -> Self:
        """Build from parsed JSON; `UserError` ``SOURCE: KEY: problem`` on a bad field."""
        if not isinstance(data, dict):
            raise UserError(f"{source}: expected a JSON object, got {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls) if f.name not in cls._NOT_FIELDS]
        values = {}
        for name in names:
            if name not in data:
                if name in cls.REQUIRED:
                    raise UserError(f"{source}: missing {name!r}")
                continue
            values[name] = cls.convert(name, _checked(data[name], cls.KINDS.get(name, ()),
                                                      name in cls.REQUIRED, name, source),
                                       source)
        extra = {k: v for k, v in data.items() if k not in names}
        return cls(**values, extra=extra, source=Path(source), present=frozenset(data))

    @classmethod
    def convert(cls, name: str, value: Any, source: str | Path) -> Any:
        """Hook: turn a checked JSON value into the field's Python value. Here: a
        ``classes`` field (label id → name; JSON keys are strings) gets int keys."""
        if name == "classes" and value is not None:
            try:
                return {int(k): str(v) for k, v in value.items()}
            except ValueError:
                raise UserError(f"{source}: 'classes' keys must be label ids (1, 2, ...), "
                                f"got {sorted(value)}") from None
        return value

    def encode(self, name: str, value: Any) -> Any:
        """Hook: the JSON value of a field (the inverse of `convert`)."""
        if name == "classes" and value is not None:
            return {str(k): v for k, v in value.items()}
        return value

    def to_dict(self) -> dict:
        """The JSON object, fields in declaration order, unknown keys last. A record that
        was read leaves out the fields its file did not have while they keep their
        default (fields added by a later release), so reading and writing an older file
        changes nothing."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in self._NOT_FIELDS or (self.present is not None
                                              and f.name not in self.present
                                              and value == _default(f)):
                continue
            out[f.name] = self.encode(f.name, value)
        head = {k: out.pop(k) for k in self.ORDER if k in out}
        return {**head, **out, **self.extra}

    @classmethod
    def read(cls, folder: str | Path) -> Self:
        """The record of ``folder``; `UserError` naming the file when it is missing,
        not JSON, or has a bad field."""
        path = cls.path(folder)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UserError(f"{path}: not found") from None
        except OSError as exc:
            raise UserError(f"{path}: unreadable ({exc.strerror or exc})") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UserError(f"{path}: not valid JSON ({exc})") from None
        return cls.from_dict(data, path)

    @classmethod
    def read_if_present(cls, folder: str | Path) -> Self | None:
        """Like `read`, but None when the file does not exist."""
        return cls.read(folder) if cls.path(folder).is_file() else None

    def write(self, folder: str | Path) -> Path:
        """Write atomically into ``folder`` (values JSON cannot hold are written as
        strings); return the file's path."""
        path = self.path(folder)
        atomic_write_json(path, self.to_dict(), indent=2, default=str)
        return path


def _default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def _checked(value: Any, kinds: tuple[type, ...], required: bool, name: str,
             source: str | Path) -> Any:
    if value is None and not required:
        return None
    if not kinds:
        return value
    if isinstance(value, bool) and bool not in kinds:  # JSON true is not a number here
        ok = False
    else:
        ok = isinstance(value, kinds) or (float in kinds and isinstance(value, int))
    if not ok:
        want = " or ".join(_NAMES.get(k, k.__name__) for k in kinds)
        raise UserError(f"{source}: {name!r} must be {want}, got {json.dumps(value)[:60]}")
    return value
