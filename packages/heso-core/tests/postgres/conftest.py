"""Fixtures for the PostgreSQL store's tests: a migrated database and a project using it."""

from __future__ import annotations

import pytest

from heso.database import Database, migrate
from heso_testing.project import Project


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    """A fresh database with the heso schema (and the roles) applied."""
    db = Database(postgres_url)
    migrate(db)
    db.close()
    return postgres_url


@pytest.fixture
def pg_project(heso_project: Project, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project whose store is the database (``HESO_STORE``), allowing everything."""
    heso_project.write_policy('[policy]\ndefault = "allow"\n')
    monkeypatch.setenv("HESO_STORE", pg_url)
    return heso_project
