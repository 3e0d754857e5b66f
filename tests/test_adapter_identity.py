"""Capture identity across adapters: the same logical call through every surface mints
receipt content byte-identical to the core's reference capture (:mod:`heso_testing.reference`)
and to ``@heso.tool``'s: ``lookup_order(order_id="A-1", limit=2)``, and
``lookup_order(order_id="A-1")``, whose receipt records the default ``limit=3`` the function
receives, whichever framework filled it in.

To add an adapter: write a ``via_<surface>(arguments)`` that makes exactly the call
``lookup_order(**arguments)`` once through the real framework (offline, fake model) and
register it in :data:`SURFACES`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from heso_testing.project import PINNED_CLOCK, Project
from heso_testing.reference import (
    LogicalCall,
    assert_same_content,
    content_bytes,
    reference_content,
)

CALLS: dict[str, tuple[dict[str, Any], LogicalCall]] = {
    "explicit": (
        {"order_id": "A-1", "limit": 2},
        LogicalCall("tool_call", "lookup_order", {"order_id": "A-1", "limit": 2}),
    ),
    "defaulted": (
        {"order_id": "A-1"},
        LogicalCall("tool_call", "lookup_order", {"order_id": "A-1", "limit": 3}),
    ),
}
"""What the model sends, and the logical call the function receives."""


def lookup_order(order_id: str, limit: int = 3) -> str:
    """Look up an order by its id."""
    return f"order {order_id}: shipped ({limit} events)"


def via_heso_tool(arguments: dict[str, Any]) -> None:
    import heso

    heso.tool(lookup_order)(**arguments)


# -- LangChain / LangGraph -------------------------------------------------------------------


def _fake_model(arguments: dict[str, Any]) -> Any:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    class FakeToolModel(GenericFakeChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

    call = {"name": "lookup_order", "args": dict(arguments), "id": "call_1"}
    return FakeToolModel(messages=iter([AIMessage("", tool_calls=[call]), AIMessage("done")]))


def via_langchain_callback(arguments: dict[str, Any]) -> None:
    from langchain.agents import create_agent

    import heso

    agent = create_agent(_fake_model(arguments), [lookup_order])
    agent.invoke({"messages": [("user", "go")]}, {"callbacks": [heso.HesoCallbackHandler()]})


def via_langchain_middleware(arguments: dict[str, Any]) -> None:
    from langchain.agents import create_agent
    from langgraph.checkpoint.memory import InMemorySaver

    from heso_langchain import HesoMiddleware

    agent = create_agent(
        _fake_model(arguments),
        [lookup_order],
        middleware=[HesoMiddleware()],
        checkpointer=InMemorySaver(),
    )
    agent.invoke({"messages": [("user", "go")]}, {"configurable": {"thread_id": "identity"}})


def via_langgraph_tool_node(arguments: dict[str, Any]) -> None:
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    import heso

    model = _fake_model(arguments)
    builder = StateGraph(MessagesState)
    builder.add_node("agent", lambda state: {"messages": [model.invoke(state["messages"])]})
    builder.add_node(
        "tools",
        ToolNode(
            [lookup_order],
            wrap_tool_call=heso.langgraph.wrap_tool_call,
            awrap_tool_call=heso.langgraph.awrap_tool_call,
        ),
    )
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    builder.compile().invoke({"messages": [("user", "go")]})


# -- MCP -------------------------------------------------------------------------------------


def _mcp_call(server: Any, arguments: dict[str, Any], *, gate_client: bool) -> None:
    import anyio
    from mcp.shared.memory import create_connected_server_and_client_session

    import heso

    async def call() -> None:
        async with create_connected_server_and_client_session(server) as session:
            if gate_client:
                heso.mcp.wrap_call_tool(session)
            assert not (await session.call_tool("lookup_order", dict(arguments))).isError

    server.add_tool(lookup_order)
    anyio.run(call)


def via_mcp_client(arguments: dict[str, Any]) -> None:
    from mcp.server.fastmcp import FastMCP

    _mcp_call(FastMCP("identity"), arguments, gate_client=True)


def via_mcp_server(arguments: dict[str, Any]) -> None:
    import heso

    _mcp_call(heso.mcp.HesoFastMCP("identity"), arguments, gate_client=False)


# -- Claude Agent SDK ------------------------------------------------------------------------


def via_claude_agent(arguments: dict[str, Any]) -> None:
    """The real bundled Claude Code CLI against a scripted Messages API on 127.0.0.1, calling
    ``lookup_order`` of an in-process SDK MCP server (``mcp__shop__lookup_order``), whose
    schema declares ``limit``'s default."""
    import tempfile

    import anyio
    from claude_agent_sdk import ClaudeAgentOptions, create_sdk_mcp_server, tool

    import heso
    from heso_testing.claude_fake_api import FakeClaudeAPI, ToolUse

    schema = {
        "type": "object",
        "properties": {
            "order_id": {"type": "string"},
            "limit": {"type": "integer", "default": 3},
        },
        "required": ["order_id"],
    }

    @tool("lookup_order", "Look up an order by its id.", schema)
    async def lookup(args: dict[str, Any]) -> dict[str, Any]:
        return {"content": [{"type": "text", "text": lookup_order(**args)}]}

    async def run() -> None:
        async for _ in heso.claude_agent.query(prompt="go", options=options):
            pass

    call = ToolUse("mcp__shop__lookup_order", dict(arguments))
    with tempfile.TemporaryDirectory() as home, FakeClaudeAPI(call) as api:
        options = ClaudeAgentOptions(
            mcp_servers={"shop": create_sdk_mcp_server("shop", tools=[lookup])},
            allowed_tools=["mcp__shop__lookup_order"],
            env=api.env(home),
            model="claude-sonnet-4-5",
            tools=[],
            cwd=home,
        )
        anyio.run(run)
        assert (api.tool_result_text(call.id) or "").startswith("order A-1: shipped")


# -- OpenAI Agents SDK, Pydantic AI, CrewAI --------------------------------------------------


def via_openai_agents(arguments: dict[str, Any]) -> None:
    import asyncio

    from agents import Agent, Runner, function_tool, set_tracing_disabled

    import heso
    from heso_openai_agents.testing import ScriptedModel

    set_tracing_disabled(True)
    model = ScriptedModel([[("lookup_order", dict(arguments))], "done"])
    agent = Agent(name="identity", model=model, tools=[function_tool(lookup_order)])
    heso.openai_agents.protect(agent)
    asyncio.run(Runner.run(agent, "go"))


def via_pydantic_ai(arguments: dict[str, Any]) -> None:
    import asyncio

    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
    from pydantic_ai.models.function import FunctionModel

    import heso

    def model(messages: list[Any], info: Any) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("lookup_order", dict(arguments))])
        return ModelResponse(parts=[TextPart("done")])

    agent = Agent(
        FunctionModel(model), tools=[lookup_order], capabilities=[heso.pydantic_ai.HesoCapability()]
    )
    asyncio.run(agent.run("go"))  # run_sync would leave its event loop open


def via_crewai(arguments: dict[str, Any]) -> None:
    """A real ``Crew`` on the native tool-calling path, driven by a one-call scripted model."""
    import json
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImportWarning)
        from crewai import Agent, Crew, Task
        from crewai.llms.base_llm import BaseLLM
        from crewai.tools import tool

    import heso

    turns: list[Any] = [
        [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "lookup_order", "arguments": json.dumps(arguments)},
            }
        ],
        "done",
    ]

    class OneCall(BaseLLM):
        def call(self, messages: Any, *args: Any, **kwargs: Any) -> Any:
            return turns.pop(0) if turns else "done"

        def supports_function_calling(self) -> bool:
            return True

        def supports_stop_words(self) -> bool:
            return False

        def get_context_window_size(self) -> int:
            return 32768

    agent = Agent(
        role="support",
        goal="help",
        backstory="offline",
        llm=OneCall(model="one-call"),
        tools=[tool("lookup_order")(lookup_order)],
        max_iter=3,
        verbose=False,
    )
    task = Task(description="Look up A-1.", expected_output="a summary", agent=agent)
    with heso.crewai.scoped():
        Crew(agents=[agent], tasks=[task], verbose=False).kickoff()


SURFACES: dict[str, Callable[[dict[str, Any]], None]] = {
    "heso.tool": via_heso_tool,
    "langchain.callback": via_langchain_callback,
    "langchain.middleware": via_langchain_middleware,
    "langgraph.tool_node": via_langgraph_tool_node,
    "mcp.client": via_mcp_client,
    "mcp.server": via_mcp_server,
    "claude_agent.hook": via_claude_agent,
    "openai_agents.guardrail": via_openai_agents,
    "pydantic_ai.capability": via_pydantic_ai,
    "crewai.hook": via_crewai,
}


@pytest.fixture(autouse=True)
def _offline_home(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """CrewAI writes under ~/.local/share and ~/.config: keep it in the test's directory."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def project(allow_all_project: Project) -> Project:
    allow_all_project.init(clock_override=PINNED_CLOCK)
    return allow_all_project


def _minted(project: Project) -> list[dict[str, Any]]:
    return [
        r
        for r in project.receipts()
        if r["content"]["action"]["verb"] == "tool_call"
        and r["content"]["action"]["tool_name"] == "lookup_order"
    ]


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("surface", list(SURFACES))
def test_each_surface_matches_the_core_reference(project: Project, surface: str, call: str) -> None:
    arguments, logical = CALLS[call]
    SURFACES[surface](arguments)
    (minted,) = _minted(project)
    assert_same_content(minted, reference_content(logical))


@pytest.mark.parametrize("call", list(CALLS))
def test_every_surface_mints_the_same_bytes(project: Project, call: str) -> None:
    arguments, _ = CALLS[call]
    for run in SURFACES.values():
        run(arguments)
    minted = _minted(project)
    assert len(minted) == len(SURFACES)
    assert len({content_bytes(r) for r in minted}) == 1
