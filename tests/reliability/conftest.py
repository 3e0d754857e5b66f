"""Shared fixtures of the reliability suites: the figures they report, and the soak switch.

Every suite records what it tried (``figures.add("tamper.tried")``); the totals are printed at
the end of the run and, with ``HESO_RELIABILITY_FIGURES=<path>``, written there as JSON.
``HESO_SOAK=1`` runs the long variant (more mutations, crash trials and fuzz cases).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SOAK = os.environ.get("HESO_SOAK", "") not in ("", "0")


class Figures:
    """Counters a suite adds to; printed in the terminal summary."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def set_max(self, name: str, value: int) -> None:
        self.counts[name] = max(self.counts[name], value)


_FIGURES = Figures()


@pytest.fixture(scope="session")
def figures() -> Figures:
    """The run's counters."""
    return _FIGURES


@pytest.fixture(scope="session")
def soak() -> bool:
    """Whether ``HESO_SOAK`` asks for the long variant."""
    return SOAK


@pytest.fixture
def clean_heso_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No inherited ``HESO_*`` variables, a fast KDF, approver keys under ``tmp_path``."""
    for name in list(os.environ):
        if name.startswith("HESO_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HESO_KDF_PROFILE", "interactive")
    monkeypatch.setenv("HESO_APPROVER_HOME", str(tmp_path / "approver-home"))
    yield
    import heso

    heso.shutdown()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    counts = _FIGURES.counts
    if not counts:
        return
    terminalreporter.section("heso reliability figures" + (" (soak)" if SOAK else ""))
    for name in sorted(counts):
        terminalreporter.write_line(f"{name:<48} {counts[name]:>10,}")
    target = os.environ.get("HESO_RELIABILITY_FIGURES")
    if target:
        Path(target).write_text(json.dumps(dict(sorted(counts.items())), indent=2) + "\n")
