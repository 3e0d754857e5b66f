"""Fixtures for the SDK surface tests: policies, an initialised project, real provider clients
pointed at the fake provider server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import heso
from heso_testing.project import PINNED_CLOCK, Project

SDK_POLICY = """
[policy]
default = "allow"

[[rule]]
id = "no-forbidden-model"
verb = "llm_call"
scope = "*"
conditions = [
  { field = "model", op = "eq", value = "forbidden-model", display = "model is forbidden" },
]
decision = "block"

[[rule]]
id = "review-model"
verb = "llm_call"
scope = "*"
conditions = [{ field = "model", op = "eq", value = "review-model" }]
decision = "require_approval"
approvers = ["oncall"]

[[rule]]
id = "no-rm"
verb = "tool_call"
scope = "run_shell"
conditions = [
  { field = "command", op = "starts_with", value = "rm ", display = "command removes files" },
]
decision = "block"

[[rule]]
id = "email-review"
verb = "tool_call"
scope = "send_email"
conditions = [{ field = "to", op = "ends_with", value = "@external.test" }]
decision = "require_approval"
approvers = ["oncall"]
"""
"""Allow by default; block / suspend specific models and tools (fields decide)."""


@pytest.fixture
def sdk_project(heso_project: Project) -> Project:
    """A project with :data:`SDK_POLICY`, initialised with a pinned clock."""
    heso_project.write_policy(SDK_POLICY)
    heso_project.init(clock_override=PINNED_CLOCK)
    return heso_project


@pytest.fixture
def observe_project(heso_project: Project) -> Project:
    """:data:`SDK_POLICY` in observe-only mode (``blocking=False``)."""
    heso_project.write_policy(SDK_POLICY)
    heso_project.init(clock_override=PINNED_CLOCK, blocking=False)
    return heso_project


@pytest.fixture
def oai(fake_provider: Any) -> Iterator[Any]:
    import openai

    with heso.wrap(
        openai.OpenAI(api_key="test", base_url=fake_provider.openai_base_url, max_retries=0)
    ) as client:
        yield client


@pytest.fixture
async def aoai(fake_provider: Any) -> AsyncIterator[Any]:
    import openai

    async with heso.wrap(
        openai.AsyncOpenAI(api_key="test", base_url=fake_provider.openai_base_url, max_retries=0)
    ) as client:
        yield client


@pytest.fixture
def ant(fake_provider: Any) -> Iterator[Any]:
    import anthropic

    with heso.wrap(
        anthropic.Anthropic(
            api_key="test", base_url=fake_provider.anthropic_base_url, max_retries=0
        )
    ) as client:
        yield client


@pytest.fixture
async def aant(fake_provider: Any) -> AsyncIterator[Any]:
    import anthropic

    async with heso.wrap(
        anthropic.AsyncAnthropic(
            api_key="test", base_url=fake_provider.anthropic_base_url, max_retries=0
        )
    ) as client:
        yield client
