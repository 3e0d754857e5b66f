"""The standard adapter cases, driven through a real Pydantic AI agent with a FunctionModel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic_ai import Agent, DeferredToolRequests
from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.run import AgentRunResult

from heso_pydantic_ai import HesoCapability, resume_results
from heso_testing.conformance import AdapterConformance, ConformanceTools, RunResult

CALL_ID = "call-1"


def one_call(tool_name: str, arguments: dict[str, Any]) -> FunctionModel:
    """A model that calls ``tool_name(**arguments)`` once, then answers."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if any(isinstance(p, ToolReturnPart | RetryPromptPart) for p in messages[-1].parts):
            return ModelResponse(parts=[TextPart("done")])
        return ModelResponse(parts=[ToolCallPart(tool_name, arguments, tool_call_id=CALL_ID)])

    return FunctionModel(respond)


def tool_text(messages: list[ModelMessage]) -> str | None:
    """What the model received for the scripted call."""
    for message in messages:
        for part in message.parts:
            if isinstance(part, ToolReturnPart) and part.tool_call_id == CALL_ID:
                return part.model_response_str()
            if isinstance(part, RetryPromptPart) and part.tool_call_id == CALL_ID:
                return part.model_response()
    return None


@dataclass
class Paused:
    agent: Agent[None, Any]
    result: AgentRunResult[Any]


def make_agent(
    tools: list[Callable[..., Any]], tool_name: str, arguments: dict[str, Any], mode: str
) -> Agent[None, Any]:
    return Agent(
        one_call(tool_name, arguments),
        tools=tools,
        capabilities=[HesoCapability(mode=mode)],  # type: ignore[arg-type]
        output_type=[str, DeferredToolRequests],
    )


def outcome(agent: Agent[None, Any], result: AgentRunResult[Any]) -> RunResult:
    if isinstance(result.output, DeferredToolRequests):
        return RunResult(paused=True, state=Paused(agent, result))
    return RunResult(tool_output=tool_text(result.all_messages()))


class TestPydanticAIConformance(AdapterConformance):
    supports_native_pause = True

    def run(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        agent = make_agent(tools.sync_tools(), tool_name, arguments, mode)
        return outcome(agent, agent.run_sync("go"))

    async def arun(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        agent = make_agent(tools.async_tools(), tool_name, arguments, mode)
        return outcome(agent, await agent.run("go"))

    def resume(self, result: RunResult, *, approved: bool) -> RunResult:
        paused: Paused = result.state
        after = paused.agent.run_sync(
            message_history=paused.result.all_messages(),
            deferred_tool_results=resume_results(paused.result.output),
        )
        return outcome(paused.agent, after)
