"""The adapter conformance suite through the real OpenAI Agents SDK runner."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agents import Agent, Runner, function_tool, set_tracing_disabled

from heso_openai_agents import apply_approvals, protect
from heso_openai_agents.testing import ScriptedModel
from heso_testing.conformance import AdapterConformance, ConformanceTools, RunResult

set_tracing_disabled(True)


def _agent(
    tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], mode: str, *, aio: bool
) -> tuple[Agent[Any], ScriptedModel]:
    model = ScriptedModel([[(tool_name, arguments)], "done"])
    fn_tools = [function_tool(fn) for fn in (tools.async_tools() if aio else tools.sync_tools())]
    agent = Agent(name="support", instructions="Help.", model=model, tools=fn_tools)
    return protect(agent, mode=mode), model  # type: ignore[arg-type]


def run_sync(agent: Agent[Any], input: Any) -> Any:
    """``Runner.run_sync``, then close the event loop it leaves open on purpose."""
    try:
        return Runner.run_sync(agent, input)
    finally:
        loop = asyncio.get_event_loop_policy().get_event_loop()
        loop.close()
        asyncio.set_event_loop(None)


def _result(result: Any, model: ScriptedModel, agent: Agent[Any]) -> RunResult:
    outputs = model.tool_outputs()
    if result.interruptions:
        return RunResult(paused=True, state=(agent, model, result.to_state()))
    return RunResult(tool_output=outputs[-1] if outputs else None)


class TestOpenAIAgentsConformance(AdapterConformance):
    supports_native_pause = True

    def run(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        agent, model = _agent(tools, tool_name, arguments, mode, aio=False)
        return _result(run_sync(agent, "go"), model, agent)

    async def arun(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        agent, model = _agent(tools, tool_name, arguments, mode, aio=True)
        return _result(await Runner.run(agent, "go"), model, agent)

    def resume(self, result: RunResult, *, approved: bool) -> RunResult:
        agent, model, state = result.state
        apply_approvals(state)
        return _result(run_sync(agent, state), model, agent)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-offline-test")
