"""Read and write TF OD API label maps (``label_map.pbtxt``).

Format: ``item { id: 1 name: 'raccoon' }``, ids from 1 (0 is background).
Parsed by hand so the runtime does not need object_detection's protos.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.errors import UserError
from core.fileio import atomic_write_text

_TOKEN = re.compile(
    r"""\s*(?:(?P<comment>\#[^\n]*)|(?P<open>\{)|(?P<close>\})|(?P<key>[A-Za-z_]+)\s*:?\s*(?=\{)|"""
    r"""(?P<field>[A-Za-z_]+)\s*:\s*(?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s{}]+))"""
)


def read_label_map(path: str | Path) -> dict[int, str]:
    """Return ``{id: name}`` from a ``.pbtxt`` label map.

    Raises:
        UserError: naming the file and line of the first problem.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: label map not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read label map ({exc})") from None

    names: dict[int, str] = {}
    pos, depth, item, item_line = 0, 0, None, 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        line = text.count("\n", 0, pos + len(text[pos:]) - len(text[pos:].lstrip())) + 1
        if not match:
            raise UserError(f"{path}:{line}: cannot parse label map near {text[pos:pos + 20]!r}")
        pos = match.end()
        if match["comment"]:
            continue
        if match["key"]:
            if match["key"] == "item" and depth == 0:
                item, item_line = {}, line
        elif match["open"]:
            depth += 1
        elif match["close"]:
            depth -= 1
            if depth < 0:
                raise UserError(f"{path}:{line}: unbalanced '}}' in label map")
            if depth == 0 and item is not None:
                _add_item(path, item_line, item, names)
                item = None
        elif match["field"] and item is not None and depth == 1:
            value = match["value"]
            if value[0] in "'\"":
                value = value[1:-1].encode().decode("unicode_escape")
            item[match["field"]] = value
    if depth != 0:
        raise UserError(f"{path}: unbalanced braces in label map")
    if not names:
        raise UserError(f"{path}: label map has no items")
    return dict(sorted(names.items()))


def _add_item(path: Path, line: int, item: dict, names: dict[int, str]) -> None:
    if "id" not in item:
        raise UserError(f"{path}:{line}: label map item has no id")
    try:
        label_id = int(item["id"])
    except ValueError:
        raise UserError(f"{path}:{line}: label map id {item['id']!r} is not an integer") from None
    if label_id < 1:
        raise UserError(f"{path}:{line}: label map id {label_id} must be >= 1 (0 is background)")
    name = item.get("display_name") or item.get("name")
    if not name:
        raise UserError(f"{path}:{line}: label map item {label_id} has no name")
    if label_id in names:
        raise UserError(f"{path}:{line}: label map id {label_id} appears twice")
    names[label_id] = item.get("name") or name


def format_label_map(names: dict[int, str]) -> str:
    out = []
    for label_id, name in sorted(names.items()):
        escaped = name.replace("\\", "\\\\").replace("'", "\\'")
        out.append(f"item {{\n  id: {label_id}\n  name: '{escaped}'\n}}\n")
    return "\n".join(out)


def write_label_map(names: dict[int, str], path: str | Path) -> None:
    """Write atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, format_label_map(names))
