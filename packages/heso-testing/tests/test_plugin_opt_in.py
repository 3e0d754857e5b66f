"""Installing heso-testing gives a user's own test suite its fixtures, never the socket guard:
the guard is opt-in (``-p heso_testing.plugin``, ``addopts`` or ``pytest_plugins``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

USER_TESTS = """
import os
import socket


def test_guard(heso_project):
    guarded = "guard_sockets" in getattr(socket.socket.connect, "__qualname__", "")
    print(f"GUARDED={guarded} TELEMETRY={os.environ.get('DO_NOT_TRACK')}")
    assert (heso_project.root / "heso.toml").is_file()
"""


def run_user_suite(tmp_path: Path, *args: str, conftest: str | None = None) -> str:
    """Run pytest in a user's project of its own (no ini file of this repository applies)."""
    project = tmp_path / "user-project"
    project.mkdir()
    (project / "test_user.py").write_text(USER_TESTS)
    (project / "pytest.ini").write_text("[pytest]\n")
    if conftest is not None:
        (project / "conftest.py").write_text(conftest)
    env = {k: v for k, v in os.environ.items() if k not in ("DO_NOT_TRACK", "PYTEST_ADDOPTS")}
    env["HESO_KDF_PROFILE"] = "interactive"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_an_installed_kit_adds_fixtures_but_no_guard(tmp_path):
    assert "GUARDED=False TELEMETRY=None" in run_user_suite(tmp_path)


@pytest.mark.parametrize(
    ("args", "conftest"),
    [
        (("-p", "heso_testing.plugin"), None),
        ((), 'pytest_plugins = ["heso_testing.plugin"]\n'),
    ],
)
def test_the_guard_is_one_line_away(tmp_path, args, conftest):
    assert "GUARDED=True TELEMETRY=1" in run_user_suite(tmp_path, *args, conftest=conftest)


def test_this_repository_keeps_its_own_tests_guarded():
    import socket

    assert "guard_sockets" in socket.socket.connect.__qualname__
    assert os.environ.get("DO_NOT_TRACK") == "1"
