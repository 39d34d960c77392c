"""The code's layout holds: no import cycles between modules, the CRM imports no feature,
the generic calendar engine names no provider, and no module grows past ~400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parent.parent / "server"
MAX_LINES = 420


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SERVER.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The project modules ``path`` imports at run time (``TYPE_CHECKING`` blocks aside)."""
    tree = ast.parse(path.read_text())
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    )
    found: set[str] = set()
    skip: set[int] = set()
    for node in ast.walk(tree):
        if _type_checking_only(node):
            skip.update(id(child) for child in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module_name(path):
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    paths = sorted(SERVER.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return out


def test_no_import_cycles() -> None:
    # A package's __init__ re-exporting its own modules is not a cycle worth naming.
    edges = {
        m: {d for d in deps if not (m.startswith(d + ".") and d == m.rpartition(".")[0])}
        for m, deps in graph().items()
    }
    assert cycles(edges) == []


def test_the_crm_imports_no_feature() -> None:
    for module, deps in graph().items():
        if module.startswith("server.crm"):
            assert not {d for d in deps if d.startswith(("server.calendars", "server.addon"))}, (
                module
            )


@pytest.mark.parametrize("package", ["google", "microsoft"])
def test_only_a_provider_package_and_the_wiring_import_its_code(package: str) -> None:
    own = f"server.calendars.{package}"
    allowed = (own, "server.calendars.feature")
    for module, deps in graph().items():
        if module.startswith("server.calendars") and not module.startswith(allowed):
            assert not {d for d in deps if d.startswith(own)}, module


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {p: len(p.read_text().splitlines()) for p in SERVER.rglob("*.py")}
    assert {str(p.relative_to(SERVER)): n for p, n in sizes.items() if n > MAX_LINES} == {}
