"""The import graph has no cycles: none within ``heso`` (heso-core), none between an adapter
package and the core, none within an adapter; and no module imports another module's
underscore names.

Every ``import`` that runs counts, wherever it sits (module level or inside a function): a
loop hidden in a function is still a loop a reader has to untangle. Imports under ``if
TYPE_CHECKING:`` never run and name types only; they are not counted. Importing a submodule
runs its parent packages' ``__init__`` too; those implicit edges are not counted (every module
would form a loop with its package), only the imports written.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(
    p for p in (ROOT / "packages").glob("heso-*/src") if p.parent.name != "heso-testing"
)


@dataclass(frozen=True)
class Import:
    module: str
    """The importing module."""
    target: str
    """The module imported (a package's ``__init__`` when a name is taken from it)."""
    name: str | None
    """The name taken from ``target`` (``from target import name``), if any."""
    line: int


def modules(sources: list[Path] = SOURCES) -> dict[str, Path]:
    """Every module of the packages under ``sources``, by dotted name."""
    found: dict[str, Path] = {}
    for src in sources:
        for path in sorted(src.rglob("*.py")):
            parts = list(path.relative_to(src).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[Import]:
    """The imports ``name`` (at ``path``) writes of modules in ``known``."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    yield Import(name, alias.name, None, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:
                    yield Import(name, sub, None, node.lineno)
                elif base in known:
                    yield Import(name, base, alias.name, node.lineno)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` except what ``if TYPE_CHECKING:`` guards (its ``else`` runs)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))


def graph(known: dict[str, Path]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in known}
    for name, path in known.items():
        for imp in imports(name, path, known):
            if imp.target != name:
                edges[name].add(imp.target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def describe(component: list[str], edges: dict[str, set[str]]) -> str:
    members = set(component)
    arrows = [f"{a} -> {b}" for a in component for b in sorted(edges[a] & members)]
    return "; ".join(arrows)


def test_the_sources_are_found() -> None:
    known = modules()
    assert {"heso", "heso.capture", "heso.approvals.gated", "heso.keys.files"} <= set(known)
    assert {"heso_langchain", "heso_openai_agents.guardrail", "heso_mcp"} <= set(known)


def test_no_import_cycle_in_the_core_or_between_an_adapter_and_the_core() -> None:
    edges = graph(modules())
    found = [describe(c, edges) for c in cycles(edges)]
    assert found == [], "import cycles:\n" + "\n".join(found)


def test_no_module_imports_another_modules_underscore_names() -> None:
    known = modules()
    found = []
    for name, path in known.items():
        for imp in imports(name, path, known):
            if imp.name is not None and imp.name.startswith("_") and not imp.name.startswith("__"):
                found.append(f"{path.relative_to(ROOT)}:{imp.line}: {imp.target}.{imp.name}")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        bound = {
            alias.asname or alias.name: f"{node.module}.{alias.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
            for alias in node.names
            if f"{node.module}.{alias.name}" in known
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in bound
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                found.append(
                    f"{path.relative_to(ROOT)}:{node.lineno}: {bound[node.value.id]}.{node.attr}"
                )
    assert found == [], "underscore names used across modules:\n" + "\n".join(found)


# -- the checker itself -----------------------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    src = tmp_path / "src"
    for rel, text in files.items():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return modules([src])


@pytest.mark.parametrize(
    "b_source",
    [
        "from pkg import a\n",  # module level
        "def f():\n    from pkg.a import thing\n",  # hidden in a function
        "def f():\n    from . import a\n",  # relative
    ],
)
def test_a_cycle_is_found_however_the_import_is_written(tmp_path: Path, b_source: str) -> None:
    known = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg import b\nthing = 1\n",
            "pkg/b.py": b_source,
        },
    )
    assert cycles(graph(known)) == [["pkg.a", "pkg.b"]]


def test_imports_for_type_checking_only_are_not_counted(tmp_path: Path) -> None:
    known = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg import b\n",
            "pkg/b.py": "import typing\nif typing.TYPE_CHECKING:\n    from pkg.a import A\n"
            "else:\n    import pkg.c\n",
            "pkg/c.py": "",
        },
    )
    assert graph(known)["pkg.b"] == {"pkg.c"}
    assert cycles(graph(known)) == []


def test_a_chain_without_a_loop_passes(tmp_path: Path) -> None:
    known = _tree(
        tmp_path,
        {
            "core/__init__.py": "from core.errors import E\n",
            "core/errors.py": "class E(Exception): ...\n",
            "core/gate.py": "from core import E\nfrom core.errors import E as F\n",
            "adapter/__init__.py": "import core.gate\nfrom core import E\n",
        },
    )
    edges = graph(known)
    assert edges["adapter"] == {"core", "core.gate"}
    assert cycles(edges) == []
