"""Both seams of the OpenAI Agents adapter (``needs_approval`` and the tool input guardrail)
gate the arguments the tool's function receives (#15 item 2): the call's JSON validated by
the tool's parameter model (coercion, defaults), the run context left out."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, RunContextWrapper, Runner, RunState, function_tool, set_tracing_disabled

import heso
from heso_openai_agents import apply_approvals, approvals, pending_actions, protect
from heso_openai_agents.testing import ScriptedModel
from heso_testing.conformance import (
    APPROVER_GROUP,
    ConformanceContext,
    ConformanceTools,
    conformance_context,
)

set_tracing_disabled(True)

POLICY = f"""
[policy]
default = "allow"

[[rule]]
id = "pii-needs-approval"
verb = "tool_call"
scope = "export_report"
decision = "require_approval"
approvers = ["{APPROVER_GROUP}"]
display = "reports with personal data need on-call approval"
conditions = [{{ field = "include_pii", op = "eq", value = true }}]

[[rule]]
id = "no-bulk-lookups"
verb = "tool_call"
scope = "lookup_order"
decision = "block"
display = "bulk lookups are off"
conditions = [{{ field = "limit", op = "gt", value = 10 }}]
"""

EXPORT = ("export_report", {"fmt": "csv"})


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConformanceContext]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-offline-test")
    with conformance_context(tmp_path, monkeypatch, policy=POLICY) as context:
        yield context


def make_agent(
    fns: list[Any], *turns: Any, mode: str = "raise"
) -> tuple[Agent[Any], ScriptedModel]:
    model = ScriptedModel([*turns, "done"])
    agent = Agent(name="support", model=model, tools=[function_tool(fn) for fn in fns])
    return protect(agent, mode=mode), model  # type: ignore[arg-type]


def run(agent: Agent[Any], input: Any) -> Any:
    return asyncio.run(Runner.run(agent, input))


def test_needs_approval_pauses_a_call_whose_default_the_rule_targets(ctx):
    tools = ConformanceTools()
    agent, _ = make_agent(tools.sync_tools(), [EXPORT])
    result = run(agent, "go")
    assert result.interruptions, "the call with include_pii defaulted to True did not pause"
    assert tools.count("export_report") == 0
    (receipt,) = ctx.receipts("export_report")
    assert receipt["content"]["action"]["fields"] == {"fmt": "csv", "include_pii": True}
    assert receipt["content"]["policy"]["decision"] == "require_approval"

    action_hash = receipt["content"]["action_hash"]
    ctx.approve(action_hash)
    state = result.to_state()
    assert apply_approvals(state).approved
    asyncio.run(Runner.run(agent, state))
    assert tools.received("export_report") == [{"fmt": "csv", "include_pii": True}]
    assert {r["content"]["action_hash"] for r in ctx.receipts("export_report")} == {action_hash}


def test_a_restored_state_finds_the_action_by_its_bound_arguments(ctx):
    tools = ConformanceTools()
    agent, _ = make_agent(tools.sync_tools(), [EXPORT])
    result = run(agent, "go")
    actions = pending_actions(result)
    saved = result.to_state().to_json()
    approvals.paused_calls.clear()  # what a new process remembers
    (action_hash,) = actions.values()
    ctx.approve(action_hash)
    state = asyncio.run(RunState.from_json(agent, saved))
    assert apply_approvals(state, actions=actions).approved
    asyncio.run(Runner.run(agent, state))
    assert tools.received("export_report") == [{"fmt": "csv", "include_pii": True}]


@pytest.mark.parametrize("mode", ["raise", "message"])
def test_the_guardrail_gates_coerced_values(ctx, mode):
    tools = ConformanceTools()
    agent, model = make_agent(
        tools.sync_tools(), [("lookup_order", {"order_id": "A", "limit": "50"})], mode=mode
    )
    try:
        run(agent, "go")
    except heso.BlockedError:
        assert mode == "raise"
    else:
        assert mode == "message" and "bulk lookups are off" in model.tool_outputs()[-1]
    assert tools.count("lookup_order") == 0
    (receipt,) = ctx.receipts("lookup_order")
    assert receipt["content"]["action"]["fields"] == {"order_id": "A", "limit": 50}


def test_the_run_context_is_left_out_of_the_fields(ctx):
    seen: list[dict[str, Any]] = []

    def lookup_order(wrapper: RunContextWrapper[Any], order_id: str, limit: int = 3) -> str:
        """Look up an order."""
        seen.append({"order_id": order_id, "limit": limit})
        return "shipped"

    agent, _ = make_agent([lookup_order], [("lookup_order", {"order_id": "A-1"})])
    run(agent, "go")
    assert seen == [{"order_id": "A-1", "limit": 3}]
    (receipt,) = ctx.receipts("lookup_order")
    assert receipt["content"]["action"]["fields"] == {"order_id": "A-1", "limit": 3}


def test_arguments_the_tool_rejects_are_gated_as_sent(ctx):
    tools = ConformanceTools()
    agent, _ = make_agent(tools.sync_tools(), [("lookup_order", {"limit": 2})], mode="message")
    run(agent, "go")
    assert tools.count("lookup_order") == 0
    (receipt,) = ctx.receipts("lookup_order")
    assert receipt["content"]["action"]["fields"] == {"limit": 2}
