"""Fixtures for the PostgreSQL store's tests: a project using a migrated database."""

from __future__ import annotations

import pytest

from heso_testing.project import Project


@pytest.fixture
def pg_project(
    heso_project: Project, postgres_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> Project:
    """A project whose store is the database (``HESO_STORE``), allowing everything."""
    heso_project.write_policy('[policy]\ndefault = "allow"\n')
    monkeypatch.setenv("HESO_STORE", postgres_store_url)
    return heso_project
