"""pytest plugin (opt-in): refuse every non-loopback connection and set telemetry opt-outs.

Installing heso-testing does not load it. Turn it on for a test suite with
``pytest -p heso_testing.plugin``, ``addopts = ["-p", "heso_testing.plugin"]`` in
``[tool.pytest.ini_options]``, or ``pytest_plugins = ["heso_testing.plugin"]`` in the root
``conftest.py``. Every test then fails on any non-loopback connection attempt, even one a
library swallowed. The fixtures (``heso_project``, ``fake_provider``, ...) need no opt-in.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from heso_testing.netguard import guard_sockets

TELEMETRY_OPT_OUTS = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "OTEL_SDK_DISABLED": "true",
    "OPENAI_AGENTS_DISABLE_TRACING": "1",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING": "false",
    "ANONYMIZED_TELEMETRY": "false",
    "DO_NOT_TRACK": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "HF_HUB_OFFLINE": "1",
}


def pytest_configure(config: pytest.Config) -> None:
    for key, value in TELEMETRY_OPT_OUTS.items():
        os.environ.setdefault(key, value)
    config.addinivalue_line("markers", "allow_network: never used; the guard has no opt-out")


@pytest.fixture(autouse=True)
def _heso_socket_guard() -> Iterator[list[Any]]:
    """Fail the test on any non-loopback connection attempt, even one a library swallowed."""
    with guard_sockets() as refused:
        yield refused
    if refused:
        pytest.fail(f"non-loopback network access attempted: {refused!r}")
