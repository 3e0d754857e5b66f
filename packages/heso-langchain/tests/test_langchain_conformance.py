"""The adapter conformance suite, once per LangChain seam, through the real frameworks."""

from __future__ import annotations

import itertools
from typing import Any

from heso_langchain_fakes import START, go, lc_tools, scripted_model, to_result, tool_node_graph
from langchain.agents import create_agent
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from heso_langchain import HesoCallbackHandler, HesoMiddleware, ToolCallGate
from heso_testing.conformance import AdapterConformance, ConformanceTools, RunResult

_threads = itertools.count()


class _GraphSeam(AdapterConformance):
    """Drive one scripted run of a graph built by :meth:`build`."""

    def build(
        self,
        tools: ConformanceTools,
        call: tuple[str, dict[str, Any]],
        mode: str,
        asynchronous: bool,
    ) -> tuple[Any, dict[str, Any]]:
        raise NotImplementedError

    def run(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        graph, config = self.build(tools, (tool_name, arguments), mode, False)
        return to_result(graph, config, graph.invoke(START, config))

    async def arun(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        graph, config = self.build(tools, (tool_name, arguments), mode, True)
        return to_result(graph, config, await graph.ainvoke(START, config))

    def resume(self, result: RunResult, *, approved: bool) -> RunResult:
        graph, config = result.state
        answer = Command(resume="approve" if approved else "deny")
        return to_result(graph, config, graph.invoke(answer, config))


class TestCallbackHandlerConformance(_GraphSeam):
    """``HesoCallbackHandler`` in the run's config of a ``create_agent`` agent."""

    def build(self, tools, call, mode, asynchronous):
        agent = create_agent(scripted_model([call]), lc_tools(tools, asynchronous=asynchronous))
        return agent, go(callbacks=[HesoCallbackHandler(mode=mode)])


class TestMiddlewareConformance(_GraphSeam):
    """``HesoMiddleware`` in ``create_agent`` with a checkpointer (approvals pause)."""

    supports_native_pause = True

    def build(self, tools, call, mode, asynchronous):
        agent = create_agent(
            scripted_model([call]),
            lc_tools(tools, asynchronous=asynchronous),
            middleware=[HesoMiddleware(mode=mode)],
            checkpointer=InMemorySaver(),
        )
        return agent, go(thread=f"t{next(_threads)}")


class TestToolNodeConformance(_GraphSeam):
    """``heso.langgraph`` wrappers on a ``ToolNode`` of a hand-built graph with a
    checkpointer (approvals pause)."""

    supports_native_pause = True

    def build(self, tools, call, mode, asynchronous):
        gate = ToolCallGate(mode=mode)
        graph = tool_node_graph(
            scripted_model([call]),
            lc_tools(tools, asynchronous=asynchronous),
            checkpointer=InMemorySaver(),
            wrap_tool_call=gate.wrap_tool_call,
            awrap_tool_call=gate.awrap_tool_call,
        )
        return graph, go(thread=f"t{next(_threads)}")
