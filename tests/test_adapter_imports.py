"""Adapters use one door into the core: from ``heso`` an adapter package imports only its
public top-level names (``heso.__all__``) and :mod:`heso.adapters`; and the core names no
adapter (they are found through the ``heso.adapters`` entry points)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import heso

ROOT = Path(__file__).resolve().parents[1]
ADAPTER_SOURCES = sorted(
    p
    for p in (ROOT / "packages").glob("heso-*/src")
    if p.parent.name not in ("heso-core", "heso-testing")
)
DOOR = "heso.adapters"


def _allowed_name(name: str) -> bool:
    return name in heso.__all__ or name == "adapters"


def violations(source: str, filename: str = "<adapter>") -> Iterator[str]:
    """Every use of ``heso`` in ``source`` beyond its public names and :mod:`heso.adapters`."""
    tree = ast.parse(source, filename)
    heso_names: set[str] = set()  # local names bound to the `heso` package itself
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "heso":
                    heso_names.add(alias.asname or "heso")
                elif alias.name.startswith("heso.") and alias.name != DOOR:
                    yield f"{where}: import {alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "heso":
                for alias in node.names:
                    if not _allowed_name(alias.name):
                        yield f"{where}: from heso import {alias.name}"
            elif node.module.startswith("heso.") and node.module != DOOR:
                yield f"{where}: from {node.module} import ..."
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            target = node.args[0] if node.args else None
            if (
                called == "import_module"
                and isinstance(target, ast.Constant)
                and isinstance(target.value, str)
                and target.value.startswith("heso.")
                and target.value != DOOR
            ):
                yield f"{where}: import_module({target.value!r})"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in heso_names
            and not _allowed_name(node.attr)
        ):
            yield f"{filename}:{node.lineno}: heso.{node.attr}"


def test_every_adapter_package_is_checked() -> None:
    names = {p.parent.name for p in ADAPTER_SOURCES}
    assert {"heso-langchain", "heso-mcp", "heso-crewai", "heso-openai-agents"} <= names
    assert {"heso-claude-agent", "heso-pydantic-ai"} <= names


@pytest.mark.parametrize("src", ADAPTER_SOURCES, ids=lambda p: p.parent.name)
def test_adapters_import_only_the_public_names_and_the_door(src: Path) -> None:
    found = [
        v
        for path in sorted(src.rglob("*.py"))
        for v in violations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert found == [], "adapters may use only heso's public names and heso.adapters:\n" + (
        "\n".join(found)
    )


@pytest.mark.parametrize(
    "source",
    [
        "from heso.capture import gate",
        "from heso.approvals.reentry import admit",
        "import heso.config",
        "from heso import config",
        "import heso\nheso.capture.gate('tool_call', 'x')",
        "import heso as h\nh.approvals.reentry",
        "import importlib\nimportlib.import_module('heso.refusals')",
    ],
)
def test_the_check_catches_a_reach_into_the_core(source: str) -> None:
    assert list(violations(source))


def test_the_check_lets_the_door_and_public_names_through() -> None:
    source = (
        "import heso\nimport heso.adapters\nfrom heso import BlockedError, adapters, step\n"
        "from heso.adapters import admit\nheso.BlockedError\nheso.adapters.gate\n"
    )
    assert list(violations(source)) == []


def test_the_core_names_no_adapter() -> None:
    init = (ROOT / "packages/heso-core/src/heso/__init__.py").read_text(encoding="utf-8")
    for adapter in ADAPTER_SOURCES:
        dist = adapter.parent.name
        module = dist.replace("-", "_")
        assert dist not in init and module not in init, f"heso/__init__.py names {dist}"
