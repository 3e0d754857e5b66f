"""Every LangChain seam gates the arguments the tool's function receives: langchain-core's
validation, coercion and defaults applied, the arguments it injects left out (#15 item 2)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from heso_langchain_fakes import START, go, scripted_model, tool_node_graph
from langchain.agents import create_agent
from langchain.tools import ToolRuntime
from langchain_core.tools import BaseTool, InjectedToolCallId, StructuredTool, tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.prebuilt import InjectedState
from pydantic import BaseModel

import heso
from heso_langchain import HesoCallbackHandler, HesoMiddleware, ToolCallGate
from heso_testing.conformance import (
    PII_DISPLAY,
    PII_RULE,
    ConformanceContext,
    ConformanceTools,
    conformance_context,
)

_threads = itertools.count()


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConformanceContext]:
    with conformance_context(tmp_path, monkeypatch) as context:
        yield context


@pytest.fixture
def tools() -> ConformanceTools:
    return ConformanceTools()


def _export_receipt(ctx: ConformanceContext) -> dict[str, Any]:
    (receipt,) = ctx.receipts("export_report")
    return receipt


def test_callback_invoke_with_an_omitted_default_is_blocked(ctx, tools):
    """The issue's case: ``export_report.invoke({"fmt": "csv"})`` would run with
    ``include_pii=True``; the receipt records that, and the rule blocks it."""
    export_report = StructuredTool.from_function(func=tools.export_report)
    with pytest.raises(heso.BlockedError, match=PII_DISPLAY):
        export_report.invoke({"fmt": "csv"}, config=go(callbacks=[HesoCallbackHandler()]))
    assert tools.count("export_report") == 0
    receipt = _export_receipt(ctx)
    assert receipt["content"]["action"]["fields"] == {"fmt": "csv", "include_pii": True}
    assert receipt["content"]["policy"]["rule_id"] == PII_RULE


async def test_callback_ainvoke_of_a_coroutine_tool_with_an_omitted_default_is_blocked(ctx, tools):
    export_report = StructuredTool.from_function(coroutine=tools.a_export_report)
    with pytest.raises(heso.BlockedError, match=PII_DISPLAY):
        await export_report.ainvoke({"fmt": "csv"}, config=go(callbacks=[HesoCallbackHandler()]))
    assert tools.count("export_report") == 0
    assert _export_receipt(ctx)["content"]["action"]["fields"]["include_pii"] is True


class ExportArgs(BaseModel):
    fmt: str


class ExportTool(BaseTool):
    """A hand-written tool whose default lives in ``_run``, not in its args schema."""

    name: str = "export_report"
    description: str = "Export the customer report."
    args_schema: type[BaseModel] = ExportArgs
    ran: list[dict[str, Any]] = []

    def _run(self, fmt: str, include_pii: bool = True, run_manager: Any = None) -> str:
        self.ran.append({"fmt": fmt, "include_pii": include_pii})
        return "exported"


def test_callback_binds_a_base_tool_subclass_to_its_run_method(ctx):
    export_report = ExportTool(ran=[])
    with pytest.raises(heso.BlockedError, match=PII_DISPLAY):
        export_report.invoke({"fmt": "csv"}, config=go(callbacks=[HesoCallbackHandler()]))
    assert export_report.ran == []
    assert _export_receipt(ctx)["content"]["action"]["fields"] == {
        "fmt": "csv",
        "include_pii": True,
    }


def test_callback_gates_coerced_values(ctx, tools):
    export_report = StructuredTool.from_function(func=tools.export_report)
    config = go(callbacks=[HesoCallbackHandler()])
    with pytest.raises(heso.BlockedError, match=PII_DISPLAY):
        export_report.invoke({"fmt": "csv", "include_pii": "yes"}, config=config)
    assert tools.count("export_report") == 0
    assert export_report.invoke({"fmt": "csv", "include_pii": "off"}, config=config)
    assert tools.received("export_report") == [{"fmt": "csv", "include_pii": False}]
    allowed = ctx.receipts("export_report")[-1]
    assert allowed["content"]["action"]["fields"] == {"fmt": "csv", "include_pii": False}


def test_callback_gates_input_the_tool_rejects_as_sent(ctx, tools):
    export_report = StructuredTool.from_function(func=tools.export_report)
    with pytest.raises(Exception, match="validation error"):
        export_report.invoke({"include_pii": False}, config=go(callbacks=[HesoCallbackHandler()]))
    assert tools.count("export_report") == 0
    assert _export_receipt(ctx)["content"]["action"]["fields"] == {"include_pii": False}


def _injected_tools(ran: list[dict[str, Any]]) -> list[BaseTool]:
    @tool
    def export_report(
        fmt: str,
        state: Annotated[dict, InjectedState],
        call_id: Annotated[str, InjectedToolCallId],
        include_pii: bool = True,
    ) -> str:
        """Export the customer report."""
        ran.append({"fmt": fmt, "include_pii": include_pii, "call_id": call_id})
        return "exported"

    @tool
    def lookup_order(order_id: str, runtime: ToolRuntime, limit: int = 3) -> str:
        """Look up an order."""
        ran.append({"order_id": order_id, "limit": limit, "runtime": runtime is not None})
        return f"order {order_id}"

    return [export_report, lookup_order]


SEAMS = ["callback", "middleware", "tool_node"]


def _run_seam(seam: str, tools: list[BaseTool], call: tuple[str, dict[str, Any]]) -> Any:
    model = scripted_model([call])
    if seam == "callback":
        agent = create_agent(model, tools)
        return agent.invoke(START, go(callbacks=[HesoCallbackHandler(mode="message")]))
    if seam == "middleware":
        agent = create_agent(
            model,
            tools,
            middleware=[HesoMiddleware(mode="message")],
            checkpointer=InMemorySaver(),
        )
        return agent.invoke(START, go(thread=f"b{next(_threads)}"))
    gate = ToolCallGate(mode="message")
    graph = tool_node_graph(
        model,
        tools,
        checkpointer=InMemorySaver(),
        wrap_tool_call=gate.wrap_tool_call,
        awrap_tool_call=gate.awrap_tool_call,
    )
    return graph.invoke(START, go(thread=f"b{next(_threads)}"))


@pytest.mark.parametrize("seam", SEAMS)
def test_injected_arguments_are_left_out_and_defaults_applied(ctx, seam):
    ran: list[dict[str, Any]] = []
    _run_seam(seam, _injected_tools(ran), ("export_report", {"fmt": "csv"}))
    assert ran == [], f"{seam}: the tool ran with {ran}"
    receipt = _export_receipt(ctx)
    assert receipt["content"]["action"]["fields"] == {"fmt": "csv", "include_pii": True}

    ctx.mark()
    _run_seam(seam, _injected_tools(ran), ("lookup_order", {"order_id": "A-1"}))
    assert ran == [{"order_id": "A-1", "limit": 3, "runtime": True}]
    (receipt,) = ctx.receipts("lookup_order")
    assert receipt["content"]["action"]["fields"] == {"order_id": "A-1", "limit": 3}
