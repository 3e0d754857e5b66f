"""heso-claude-agent beyond the standard cases, through the real bundled Claude Code CLI."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from claude_agent_sdk import (
    ClaudeAgentOptions,
    HookContext,
    HookInput,
    HookJSONOutput,
    PermissionResultAllow,
    ToolPermissionContext,
)

import heso
from heso.approvals import reentry
from heso.errors import BlockedError
from heso_claude_agent import HesoGate, split_tool_name
from heso_testing.conformance import (
    APPROVAL_DISPLAY,
    APPROVAL_RULE,
    BLOCK_DISPLAY,
    BLOCK_RULE,
    CONFORMANCE_POLICY,
    ConformanceContext,
    ConformanceTools,
    conformance_context,
    find_exception,
)

from .conftest import SERVER, drive

LOOKUP = ("lookup_order", {"order_id": "A-1", "limit": 2})
ROCKET = ("launch_rocket", {"target": "moon"})
REFUSAL = f"heso: blocked by rule {BLOCK_RULE}: {BLOCK_DISPLAY}"


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConformanceContext]:
    with conformance_context(tmp_path, monkeypatch) as context:
        yield context


@pytest.fixture
def tools() -> ConformanceTools:
    return ConformanceTools()


def receipt_of(ctx: ConformanceContext, tool: str) -> dict[str, Any]:
    (receipt,) = ctx.receipts(tool)
    return dict(receipt["content"])


@pytest.mark.parametrize(
    ("name", "servers", "expected"),
    [
        ("mcp__files__read_file", (), ("files", "read_file")),
        ("mcp__crm__eu__lookup", ("crm__eu",), ("crm__eu", "lookup")),
        ("mcp__crm__eu__lookup", (), ("crm", "eu__lookup")),
        ("mcp__files__read__file", ("files",), ("files", "read__file")),
        ("Bash", ("files",), (None, "Bash")),
        ("mcp__nothing", (), (None, "mcp__nothing")),
    ],
)
def test_split_tool_name(name: str, servers: tuple[str, ...], expected: tuple[Any, str]) -> None:
    assert split_tool_name(name, servers) == expected


async def test_wiring_mistakes_are_refused() -> None:
    gate = HesoGate()
    assert gate.hook_matcher().on_failure == "block"
    options = gate.apply(ClaudeAgentOptions())
    with pytest.raises(ValueError, match="already carry"):
        gate.apply(options)
    with pytest.raises(ValueError, match="not gated by this HesoGate"):
        await gate.query(prompt="go", options=ClaudeAgentOptions()).__anext__()
    with pytest.raises(ValueError, match="mode"):
        HesoGate(mode="warn")  # type: ignore[arg-type]


async def test_message_mode_the_model_reads_the_rule_and_carries_on(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    session = await drive(
        tools.async_tools(), ROCKET, LOOKUP, gate=HesoGate(mode="message"), seam="hook"
    )
    assert session.raised is None, session.raised
    assert session.api.tool_results[0]["is_error"] is True
    assert REFUSAL in (session.output(0) or "")
    assert "order A-1: shipped" in (session.output(1) or "")
    assert tools.calls == [("lookup_order", {"order_id": "A-1", "limit": 2})]
    assert ctx.decisions("launch_rocket") == ["block"] and ctx.decisions("lookup_order") == [
        "allow"
    ]
    assert session.result is not None and session.result.result == "done"


async def test_raise_mode_stops_the_run_at_the_refusal(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    session = await drive(tools.async_tools(), ROCKET, LOOKUP, gate=HesoGate(), seam="hook")
    err = find_exception(session.raised, BlockedError)
    assert isinstance(err, BlockedError) and err.rule_id == BLOCK_RULE
    assert tools.calls == []
    assert len([r for r in session.api.requests if r.get("tools")]) == 1, (
        "the model was asked again after the refusal: the run did not stop"
    )
    ctx.assert_receipts(launch_rocket=1, lookup_order=0)


@pytest.mark.parametrize("call", [LOOKUP, ROCKET], ids=["allowed", "blocked"])
async def test_hook_and_can_use_tool_together_capture_once(
    ctx: ConformanceContext, tools: ConformanceTools, call: tuple[str, dict[str, Any]]
) -> None:
    session = await drive(tools.async_tools(), call, gate=HesoGate(mode="message"), seam="both")
    assert session.raised is None, session.raised
    ctx.assert_receipts(**{call[0]: 1})
    assert tools.count(call[0]) == (call == LOOKUP)
    if call == ROCKET:
        assert REFUSAL in (session.tool_output or "")


async def test_can_use_tool_recaptures_input_the_hook_did_not_see(ctx: ConformanceContext) -> None:
    gate = HesoGate(mode="message")
    hook_input: Any = {
        "hook_event_name": "PreToolUse",
        "tool_name": "mcp__shop__lookup_order",
        "tool_input": {"order_id": "A-1"},
        "tool_use_id": "toolu_1",
    }
    assert await gate.pre_tool_use(hook_input, "toolu_1", {"signal": None}) == {}
    rewritten = {"order_id": "A-2"}  # e.g. another hook's updatedInput
    context = ToolPermissionContext(tool_use_id="toolu_1")
    allowed = await gate.can_use_tool("mcp__shop__lookup_order", rewritten, context)
    assert isinstance(allowed, PermissionResultAllow)
    fields = [r["content"]["action"]["fields"] for r in ctx.receipts("lookup_order")]
    assert fields == [{"order_id": "A-1"}, {"order_id": "A-2"}]


async def test_a_crashing_hook_blocks_the_call(tools: ConformanceTools) -> None:
    class Crashing(HesoGate):
        async def pre_tool_use(
            self, input_data: HookInput, tool_use_id: str | None, context: HookContext
        ) -> HookJSONOutput:
            raise RuntimeError("the gate crashed outside heso's own try")

    session = await drive(tools.async_tools(), LOOKUP, gate=Crashing(mode="message"))
    assert tools.calls == [], "a crashing PreToolUse hook let the body run (fail open)"
    assert 'onFailure is "block"' in (session.tool_output or "")


async def test_receipts_name_the_tool_not_the_server(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    gate = HesoGate(mode="message", server_field="mcp_server")
    await drive(tools.async_tools(), LOOKUP, gate=gate, server="crm__eu")
    action = receipt_of(ctx, "lookup_order")["action"]
    assert action["fields"] == {"order_id": "A-1", "limit": 2, "mcp_server": "crm__eu"}

    ctx.mark()
    full = HesoGate(mode="message", tool_names="full")
    await drive(tools.async_tools(), LOOKUP, gate=full, seam="can_use_tool")
    assert receipt_of(ctx, f"mcp__{SERVER}__lookup_order")["action"]["fields"] == LOOKUP[1]


async def test_an_approved_call_fires_once_when_the_model_calls_again(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    call = ("escalate_ticket", {"ticket_id": "T-7", "note": "customer is down"})
    first = await drive(tools.async_tools(), call, gate=HesoGate(mode="message"))
    assert f"needs approval by rule {APPROVAL_RULE}: {APPROVAL_DISPLAY}" in (
        first.tool_output or ""
    )
    (action_hash,) = ctx.pending()
    ctx.approve(action_hash)

    again = await drive(tools.async_tools(), call, gate=HesoGate(mode="message"))
    assert again.raised is None and (again.tool_output or "").startswith("escalated T-7")
    assert tools.calls == [("escalate_ticket", call[1])]
    assert {r["content"]["action_hash"] for r in ctx.receipts("escalate_ticket")} == {action_hash}
    assert ctx.pending() == {}
    found = reentry.lookup(action_hash)  # PostToolUse recorded that the tool ran
    assert found is not None and found.status == "completed"
    ctx.assert_chain_valid()


async def test_claude_codes_own_tools_are_gated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: ConformanceTools
) -> None:
    policy = CONFORMANCE_POLICY + (
        '\n[[rule]]\nid = "no-shell"\nverb = "tool_call"\nscope = "Bash"\n'
        'decision = "block"\ndisplay = "no shell commands"\n'
    )
    marker = tmp_path / "pwned"

    def with_bash(options: ClaudeAgentOptions, home: str) -> ClaudeAgentOptions:
        return replace(options, tools=["Bash"], allowed_tools=[*options.allowed_tools, "Bash"])

    with conformance_context(tmp_path, monkeypatch, policy=policy) as ctx:
        bash = ("Bash", {"command": f"touch {marker}", "description": "make a file"})
        session = await drive(
            tools.async_tools(), bash, gate=HesoGate(mode="message"), configure=with_bash
        )
        assert not marker.exists(), "the blocked Bash command ran"
        assert "heso: blocked by rule no-shell: no shell commands" in (session.tool_output or "")
        assert receipt_of(ctx, "Bash")["action"]["fields"] == bash[1]


async def test_the_query_shortcut_against_the_bare_sdk(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    assert heso.claude_agent.HesoGate is HesoGate
    bare = await drive(tools.async_tools(), ROCKET, gate=None)
    assert bare.raised is None and tools.count("launch_rocket") == 1, "control: ungated, it runs"
    assert ctx.receipts() == []

    tools.calls.clear()
    gated = await drive(tools.async_tools(), ROCKET, gate=None, shortcut="raise")
    assert tools.calls == [] and isinstance(gated.raised, BlockedError)
    ctx.assert_receipts(launch_rocket=1)
