"""Offline agents for the heso-langchain tests: a scripted fake chat model and the three ways
heso gates a LangChain/LangGraph run (callback, v1 middleware, ToolNode wrapper)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool

from heso_testing.conformance import ConformanceTools, RunResult

_ids = itertools.count()


class FakeToolModel(GenericFakeChatModel):
    """``GenericFakeChatModel`` that accepts ``bind_tools`` (agents call it) and names its
    model like a provider's chat model does (``ls_model_name``)."""

    model: str = "fake-chat-1"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> FakeToolModel:
        return self


def scripted_model(
    calls: Sequence[tuple[str, dict[str, Any]]], *, model: str = "fake-chat-1"
) -> FakeToolModel:
    """A model that asks for ``calls`` (one AI message) and then answers ``done``."""
    tool_calls = [
        {"name": name, "args": dict(args), "id": f"call_{next(_ids)}"} for name, args in calls
    ]
    return FakeToolModel(
        model=model,
        messages=iter([AIMessage(content="", tool_calls=tool_calls), AIMessage(content="done")]),
    )


def lc_tools(tools: ConformanceTools, *, asynchronous: bool = False) -> list[BaseTool]:
    """The conformance tools as LangChain tools (coroutine-only when ``asynchronous``)."""
    if asynchronous:
        return [StructuredTool.from_function(coroutine=fn) for fn in tools.async_tools()]
    return [StructuredTool.from_function(func=fn) for fn in tools.sync_tools()]


def tool_output(result: Any) -> str | None:
    """The content of the last ``ToolMessage`` of a graph result, if any."""
    messages = result.get("messages", []) if isinstance(result, dict) else []
    found = [m for m in messages if isinstance(m, ToolMessage)]
    return str(found[-1].content) if found else None


def to_result(graph: Any, config: dict[str, Any], result: Any) -> RunResult:
    if isinstance(result, dict) and result.get("__interrupt__"):
        return RunResult(paused=True, state=(graph, config), tool_output=tool_output(result))
    return RunResult(tool_output=tool_output(result))


def go(thread: str | None = None, callbacks: list[Any] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if thread is not None:
        config["configurable"] = {"thread_id": thread}
    if callbacks:
        config["callbacks"] = callbacks
    return config


START = {"messages": [HumanMessage("go")]}


def tool_node_graph(
    model: FakeToolModel,
    tools: list[BaseTool],
    *,
    checkpointer: Any = None,
    **tool_node_kwargs: Any,
) -> Any:
    """A hand-built LangGraph agent: model node, ``ToolNode(tools, **tool_node_kwargs)``."""
    from langgraph.graph import START as BEGIN
    from langgraph.graph import MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    async def acall_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    from langchain_core.runnables import RunnableLambda

    builder = StateGraph(MessagesState)
    builder.add_node("agent", RunnableLambda(call_model, afunc=acall_model))
    builder.add_node("tools", ToolNode(tools, **tool_node_kwargs))
    builder.add_edge(BEGIN, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=checkpointer)
