"""The docs and READMEs point only at what a reader has (issue 16, item 10): nothing outside
the repository (the development notes beside it), and every repository path they name exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted(
    [ROOT / "README.md", *ROOT.glob("packages/*/README.md"), *(ROOT / "docs").rglob("*.md")]
)
OUTSIDE = re.compile(r"\.\./shared|SEAMS\.md|shared/seeds|STYLE\.md")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
NAMED = re.compile(r"`((?:examples|packages|docs|tests|tools|benchmarks)/[^`\s<>*]+)`")
GENERATED = ("benchmarks/results/", "benchmarks/.peers-venv")
NOT_PATHS = ("tools/call", "tools/list")  # MCP method names


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("doc", DOCS, ids=_id)
def test_no_reference_outside_the_repository(doc):
    found = [m.group() for m in OUTSIDE.finditer(doc.read_text(encoding="utf-8"))]
    assert not found, f"{_id(doc)} points outside the repository: {found}"


@pytest.mark.parametrize("doc", DOCS, ids=_id)
def test_every_linked_or_named_path_exists(doc):
    text = doc.read_text(encoding="utf-8")
    missing = []
    for target in LINK.findall(text):
        if "://" in target or target.startswith("mailto:"):
            continue
        if not (doc.parent / target).exists():
            missing.append(target)
    for target in NAMED.findall(text):
        target = target.rstrip(".,:;)")
        if target.startswith(GENERATED) or target in NOT_PATHS or target.endswith(("_", "-")):
            continue
        path, _, test = target.partition("::")
        if not (ROOT / path).exists():
            missing.append(target)
        elif test and f"def {test.split('[')[0]}(" not in (ROOT / path).read_text("utf-8"):
            missing.append(target)
    assert not missing, f"{_id(doc)} names what does not exist: {missing}"
