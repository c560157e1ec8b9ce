"""The layers point down: lookout (command line, demo) -> training -> realtime -> core;
realtime never imports Model Garden (``official``), and only lookout draws (``rich``).

Walks every module's imports (top level and inside functions) with `ast`, so a lazy
import cannot slip past either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["core", "realtime", "training", "lookout"]  # each may import only those before it
# Model Garden belongs to training; drawing (rich) to the command line.
FORBIDDEN = {"core": {"official", "rich"}, "realtime": {"official", "rich"}, "training": {"rich"}}


def imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def violations(package: str) -> list[str]:
    allowed = set(ORDER[: ORDER.index(package) + 1])
    banned = (set(ORDER) - allowed) | FORBIDDEN.get(package, set())
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, name in imports(path):
            if name.split(".")[0] in banned:
                bad.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    return bad


@pytest.mark.parametrize("package", ORDER)
def test_package_imports_only_lower_layers(package: str) -> None:
    assert violations(package) == []


def test_the_check_catches_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from lookout.config import Config\nimport official.core\n")
    assert sorted(name for _, name in imports(module)) == ["lookout.config", "official.core"]
