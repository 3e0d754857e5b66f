"""The CrewAI hooks gate the arguments the tool receives (#15 item 2): the tool's
``args_schema`` validation (coercion, defaults) and its function's own defaults applied, and
the tool runs with exactly what was gated."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import heso_crewai
from heso_testing.conformance import (
    PII_DISPLAY,
    PII_RULE,
    ConformanceContext,
    ConformanceTools,
    conformance_context,
)

from .conftest import PATHS, make_crew, run_crew, scripted_llm

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ImportWarning)
    from crewai import Agent, Crew, Task
    from crewai.tools import BaseTool


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConformanceContext]:
    with conformance_context(tmp_path, monkeypatch) as context:
        heso_crewai.install("message")
        yield context


@pytest.mark.parametrize("path", PATHS)
def test_an_omitted_default_is_gated_and_blocked(ctx: ConformanceContext, path: str) -> None:
    tools = ConformanceTools()
    _, script = run_crew(path, tools.sync_tools(), [("export_report", {"fmt": "csv"})])
    assert tools.count("export_report") == 0
    (receipt,) = ctx.receipts("export_report")
    assert receipt["content"]["action"]["fields"] == {"fmt": "csv", "include_pii": True}
    assert receipt["content"]["policy"]["rule_id"] == PII_RULE
    assert PII_DISPLAY in script.observations()[0]


@pytest.mark.parametrize("path", PATHS)
def test_the_tool_receives_exactly_what_was_gated(ctx: ConformanceContext, path: str) -> None:
    tools = ConformanceTools()
    call = ("export_report", {"fmt": "csv", "include_pii": "off"})
    run_crew(path, tools.sync_tools(), [call])
    assert tools.received("export_report") == [{"fmt": "csv", "include_pii": False}]
    (receipt,) = ctx.receipts("export_report")
    assert receipt["content"]["action"]["fields"] == tools.received("export_report")[0]


class ExportArgs(BaseModel):
    fmt: str


class ExportTool(BaseTool):
    """A hand-written tool whose default lives in ``_run``, not in its args schema."""

    name: str = "export_report"
    description: str = "Export the customer report."
    args_schema: type[BaseModel] = ExportArgs
    ran: list[dict[str, Any]] = []

    def _run(self, fmt: str, include_pii: bool = True) -> str:
        self.ran.append({"fmt": fmt, "include_pii": include_pii})
        return "exported"


@pytest.mark.parametrize("path", PATHS)
def test_a_default_only_in_the_tools_run_method_counts(ctx: ConformanceContext, path: str) -> None:
    tool = ExportTool(ran=[])
    llm, _ = scripted_llm(path, [("export_report", {"fmt": "csv"})])
    agent = Agent(role="r", goal="g", backstory="b", llm=llm, tools=[tool], max_iter=3)
    task = Task(description="Export.", expected_output="a summary", agent=agent)
    Crew(agents=[agent], tasks=[task], verbose=False).kickoff()
    assert tool.ran == []
    (receipt,) = ctx.receipts("export_report")
    assert receipt["content"]["action"]["fields"] == {"fmt": "csv", "include_pii": True}


def test_input_the_schema_rejects_is_gated_as_sent(ctx: ConformanceContext) -> None:
    tools = ConformanceTools()
    crew = make_crew(tools.sync_tools(), scripted_llm("native", [("export_report", {})])[0])
    crew.kickoff()
    assert tools.count("export_report") == 0
    (receipt,) = ctx.receipts("export_report")
    assert receipt["content"]["action"]["fields"] == {}


class StrictArgs(BaseModel):
    model_config = {"extra": "forbid"}

    fmt: str
    include_pii: bool = True


class StrictExportTool(ExportTool):
    """Its schema forbids extra keys; CrewAI's ReAct path drops unknown keys before it
    validates, so the tool runs although the model's input, as sent, does not validate."""

    args_schema: type[BaseModel] = StrictArgs


@pytest.mark.parametrize("path", PATHS)
def test_an_unknown_key_does_not_skip_the_gate(ctx: ConformanceContext, path: str) -> None:
    tool = StrictExportTool(ran=[])
    call = ("export_report", {"fmt": "csv", "note": "x"})  # include_pii left out
    llm, _ = scripted_llm(path, [call])
    agent = Agent(role="r", goal="g", backstory="b", llm=llm, tools=[tool], max_iter=3)
    task = Task(description="Export.", expected_output="a summary", agent=agent)
    Crew(agents=[agent], tasks=[task], verbose=False).kickoff()
    assert tool.ran == []
    (receipt,) = ctx.receipts("export_report")
    assert receipt["content"]["action"]["fields"] == {"fmt": "csv", "include_pii": True}
    assert receipt["content"]["policy"]["rule_id"] == PII_RULE
