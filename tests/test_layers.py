"""The layers point down: lookout (command line, demo) -> training -> realtime -> core;
realtime never imports Model Garden (``official``), and only lookout draws (``rich``);
no module imports itself through others (no import circle).

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


def imports(path: Path, submodules: bool = False) -> list[tuple[int, str]]:
    """``(line, module)`` of every absolute import; with ``submodules`` ``from a import b``
    gives ``a.b`` instead of ``a`` (whether or not ``b`` is a module: `module_graph` sorts
    it out)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if submodules:
                found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
            else:
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


def module_graph(root: Path, packages: list[str]) -> dict[str, set[str]]:
    """Module → the project modules it imports (``from a import b`` counts as ``a.b``
    when that is a module, else as ``a``)."""
    paths = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for module, path in paths.items():
        targets = set()
        for _, name in imports(path, submodules=True):
            while name and name not in paths:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle ``[a, b, ..., a]``, or [] when there is none (depth-first)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_no_import_circles() -> None:
    cycle = find_cycle(module_graph(ROOT, ORDER))
    assert not cycle, "import circle: " + " -> ".join(cycle)


def test_the_check_catches_an_import_circle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg import b\n")
    (package / "b.py").write_text("import pkg.c\n")
    (package / "c.py").write_text("def f():\n    from pkg.a import thing\n")
    (package / "d.py").write_text("from pkg import a\nfrom pkg.b import x\n")
    graph = module_graph(tmp_path, ["pkg"])
    assert graph["pkg.d"] == {"pkg.a", "pkg.b"}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    (package / "c.py").write_text("def f():\n    import json\n")
    assert find_cycle(module_graph(tmp_path, ["pkg"])) == []
