"""pytest fixtures for a temporary heso project with a fresh operator key and policy."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PINNED_CLOCK = "2026-01-02T03:04:05Z"

ALLOW_ALL_POLICY = """
[policy]
default = "allow"
"""


@dataclass
class Project:
    """A scaffolded project in a temporary directory."""

    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "heso-local-data"

    @property
    def policy_path(self) -> Path:
        return self.root / "heso.toml"

    def write_policy(self, text: str) -> None:
        """Replace ``heso.toml`` (dedented)."""
        self.policy_path.write_text(textwrap.dedent(text), encoding="utf-8")

    def init(self, **kwargs: Any) -> Any:
        """``heso.init`` for this project."""
        import heso

        return heso.init(project_root=self.root, **kwargs)

    def receipts(self) -> list[dict[str, Any]]:
        """Every receipt in the chain (in whichever store the project uses), in order."""
        from heso import stores
        from heso.canonical import loads_strict
        from heso.errors import HesoConfigError
        from heso.toml_source import TomlSource

        try:
            spec = stores.setting(TomlSource.read(self.policy_path), self.root)
        except HesoConfigError:  # a test's deliberately broken heso.toml: the files are read
            spec = stores.StoreSpec(stores.FILE, self.data_dir)
        ledger = stores.open_ledger(spec)
        return [loads_strict(line)["receipt"] for _, line in ledger.entries()]


def make_project(root: Path, policy: str | None = None) -> Project:
    """Scaffold a project at ``root`` (fast KDF, dev passphrase) with an optional policy."""
    from heso.project import init_project

    os.environ.setdefault("HESO_KDF_PROFILE", "interactive")
    init_project(root)
    project = Project(root)
    if policy is not None:
        project.write_policy(policy)
    return project


@pytest.fixture
def heso_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A clean heso environment: no inherited ``HESO_*`` variables, a fast KDF, and approver
    keys in a fresh directory of this test's own (never the user's, nor another test's)."""
    for name in list(os.environ):
        if name.startswith("HESO_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HESO_KDF_PROFILE", "interactive")
    monkeypatch.setenv("HESO_APPROVER_HOME", str(tmp_path_factory.mktemp("approver-home")))


@pytest.fixture
def heso_project(tmp_path: Path, heso_env: None) -> Iterator[Project]:
    """A scaffolded project (starter policy) in ``tmp_path``; heso is shut down afterwards."""
    project = make_project(tmp_path / "project")
    try:
        yield project
    finally:
        import heso

        heso.shutdown()


@pytest.fixture
def allow_all_project(heso_project: Project) -> Project:
    """A project whose policy allows everything (floors still apply)."""
    heso_project.write_policy(ALLOW_ALL_POLICY)
    return heso_project
