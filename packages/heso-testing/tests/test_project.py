"""The ``heso_env`` fixture isolates each test's environment and approver keys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_seen: list[Path] = []


@pytest.mark.parametrize("run", [1, 2])
def test_heso_env_gives_each_test_its_own_approver_home(
    heso_env: None, monkeypatch: pytest.MonkeyPatch, run: int
) -> None:
    from heso.approvals.identity import new_approver

    home = Path(os.environ["HESO_APPROVER_HOME"])
    assert home.is_dir() and list(home.iterdir()) == []
    assert home not in _seen and home != Path(os.environ.get("TMPDIR", "/tmp"))
    _seen.append(home)
    monkeypatch.setenv("HESO_APPROVER_PASSPHRASE", "a test passphrase")
    new_approver("alice")  # a second run would refuse to replace a shared alice.key
    assert [p.name for p in home.iterdir()] == ["alice.key"]
    assert os.environ["HESO_KDF_PROFILE"] == "interactive"
