"""Shared fixtures of the reliability suites: the figures they report, the soak switch, and
the store a campaign runs against (``store``: the file store, or PostgreSQL on the session's
server).

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
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from heso.keys import SigningKey
    from heso.ledger.store import LedgerReader, LedgerStore

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


STORES = ("file", "postgresql")


class Store:
    """The store a campaign runs against, read only through the store-independent ledger API
    (:func:`heso.stores.open_ledger`). On ``postgresql`` each project gets a fresh, migrated
    database of the session's server (:meth:`use`); ``file`` keeps ``heso-local-data/``."""

    def __init__(self, kind: str, server: Any = None) -> None:
        self.kind = kind
        self.server = server
        self.urls: dict[Path, str] = {}

    @property
    def postgresql(self) -> bool:
        return self.kind == "postgresql"

    def use(self, root: Path) -> str | None:
        """The ``HESO_STORE`` value of the project at ``root`` (``None``: the file store),
        creating its database on first use."""
        if not self.postgresql:
            return None
        if root not in self.urls:
            from heso.database import Database, migrate

            url = self.server.new_database()
            db = Database(url)
            try:
                migrate(db)
            finally:
                db.close()
            self.urls[root] = url
        return self.urls[root]

    def env(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point ``HESO_STORE`` at the project's store for this test (children inherit it)."""
        url = self.use(root)
        if url is None:
            monkeypatch.delenv("HESO_STORE", raising=False)
        else:
            monkeypatch.setenv("HESO_STORE", url)

    def spec(self, root: Path) -> Any:
        from heso import stores
        from heso.project import data_dir

        url = self.use(root)
        if url is None:
            return stores.StoreSpec(stores.FILE, data_dir(root))
        return stores.StoreSpec(stores.POSTGRESQL, data_dir(root), url, "test")

    def reader(self, root: Path) -> LedgerReader:
        """The project's ledger, opened to read."""
        from heso import stores

        return stores.open_ledger(self.spec(root))

    def writer(self, root: Path, key: SigningKey) -> LedgerStore:
        """The project's ledger, opened to append with the operator ``key``."""
        from heso import stores

        return stores.open_ledger(self.spec(root), key=key)


@pytest.fixture
def store(request: pytest.FixtureRequest) -> Store:
    """The store under test: parametrize with ``indirect=["store"]`` over :data:`STORES`."""
    kind = getattr(request, "param", "file")
    if kind == "postgresql":
        return Store(kind, request.getfixturevalue("postgres_server"))
    assert kind == "file", kind
    return Store(kind)


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
