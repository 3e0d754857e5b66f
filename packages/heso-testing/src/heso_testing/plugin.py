"""pytest plugin: the socket guard for every test, telemetry opt-outs, and heso fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from heso_testing.netguard import guard_sockets
from heso_testing.providers import FakeProviderServer

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


@pytest.fixture
def fake_provider() -> Iterator[FakeProviderServer]:
    """A running fake OpenAI/Anthropic server on 127.0.0.1, fresh for each test.

    Point clients at ``fake_provider.openai_base_url`` / ``fake_provider.anthropic_base_url``
    and read ``fake_provider.count(path)``. The test fails if the server itself hit a bug.
    """
    with FakeProviderServer() as server:
        yield server
    if server.errors:
        pytest.fail(f"fake provider raised while handling requests: {server.errors!r}")
