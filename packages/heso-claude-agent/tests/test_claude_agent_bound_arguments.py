"""The Claude gate decides on the input the tool's handler receives (#15 item 2): a parameter
the model left out gets its SDK MCP tool schema's default, and the handler is handed exactly
that input; through the real bundled Claude Code CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from heso_claude_agent import HesoGate
from heso_testing.conformance import (
    PII_DISPLAY,
    PII_RULE,
    ConformanceContext,
    ConformanceTools,
    conformance_context,
)

from .conftest import Seam, drive

SEAMS: list[Seam] = ["hook", "can_use_tool", "both"]


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConformanceContext]:
    with conformance_context(tmp_path, monkeypatch) as context:
        yield context


@pytest.mark.parametrize("seam", SEAMS)
async def test_an_omitted_default_is_gated_and_blocked(ctx: ConformanceContext, seam: Seam) -> None:
    tools = ConformanceTools()
    session = await drive(
        tools.async_tools(),
        ("export_report", {"fmt": "csv"}),
        gate=HesoGate(mode="message"),
        seam=seam,
    )
    assert session.raised is None, session.raised
    assert tools.count("export_report") == 0
    (receipt,) = ctx.receipts("export_report")
    assert receipt["content"]["action"]["fields"] == {"fmt": "csv", "include_pii": True}
    assert receipt["content"]["policy"]["rule_id"] == PII_RULE
    assert PII_DISPLAY in (session.tool_output or "")


@pytest.mark.parametrize("seam", SEAMS)
async def test_the_handler_receives_the_gated_input(ctx: ConformanceContext, seam: Seam) -> None:
    tools = ConformanceTools()
    received: list[dict[str, object]] = []
    gate = HesoGate(mode="message")
    session = await drive(
        tools.async_tools(),
        ("lookup_order", {"order_id": "A-1"}),
        gate=gate,
        seam=seam,
        on_call=received.append,
    )
    assert session.raised is None, session.raised
    assert received == [{"order_id": "A-1", "limit": 3}], "the handler did not get the default"
    (receipt,) = ctx.receipts("lookup_order")
    assert receipt["content"]["action"]["fields"] == received[0]
