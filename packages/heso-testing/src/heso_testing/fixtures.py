"""pytest fixtures of heso-testing, registered when the package is installed (nothing autouse):
temporary heso projects, a fake OpenAI/Anthropic server, an OTLP/HTTP trace receiver and a
real PostgreSQL server (:mod:`heso_testing.postgres`). The socket guard is the opt-in
:mod:`heso_testing.plugin`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from heso_testing.otlp import InMemoryTraces, OtlpReceiver
from heso_testing.postgres import postgres_server, postgres_store_url, postgres_url
from heso_testing.project import Project, allow_all_project, heso_env, heso_project
from heso_testing.providers import FakeProviderServer


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


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """A running OTLP/HTTP trace receiver on 127.0.0.1 (``otlp_receiver.traces_url``), fresh
    for each test; ``otlp_receiver.spans()`` decodes what arrived (needs ``opentelemetry-proto``).
    The test fails if an export could not be decoded."""
    with OtlpReceiver() as receiver:
        yield receiver
    if receiver.errors:
        pytest.fail(f"the OTLP receiver rejected exports: {receiver.errors!r}")


@pytest.fixture
def otel_traces(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemoryTraces]:
    """The real OpenTelemetry SDK with an in-memory exporter: pass ``otel_traces.provider`` to
    ``heso.init(telemetry=...)`` and read ``otel_traces.spans()``. Lifts the test plugin's
    ``OTEL_SDK_DISABLED`` opt-out for this test only (the test configures telemetry itself)."""
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    traces = InMemoryTraces()
    yield traces
    traces.shutdown()


@pytest.fixture
def pg_project(
    heso_project: Project, postgres_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> Project:
    """A project whose store is a migrated PostgreSQL database (``HESO_STORE``), allowing
    everything."""
    heso_project.write_policy('[policy]\ndefault = "allow"\n')
    monkeypatch.setenv("HESO_STORE", postgres_store_url)
    return heso_project


__all__ = [
    "allow_all_project",
    "fake_provider",
    "heso_env",
    "heso_project",
    "otel_traces",
    "otlp_receiver",
    "pg_project",
    "postgres_server",
    "postgres_store_url",
    "postgres_url",
]
