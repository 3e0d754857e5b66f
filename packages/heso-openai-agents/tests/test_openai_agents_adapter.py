"""heso-openai-agents through the real ``Runner`` with a scripted model: refusal shapes, the
order of the seams, native approvals (resume, replay, other processes), attaching."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agents import (
    Agent,
    RunConfig,
    RunContextWrapper,
    RunHooks,
    Runner,
    RunState,
    function_tool,
    handoff,
    set_tracing_disabled,
)
from agents.exceptions import ToolInputGuardrailTripwireTriggered, UserError
from agents.run_config import ToolExecutionConfig
from agents.tool_guardrails import ToolGuardrailFunctionOutput, tool_input_guardrail

import heso
from heso_openai_agents import (
    HesoGate,
    ToolBlocked,
    ToolSuspended,
    apply_approvals,
    approvals,
    pending_actions,
    protect,
    tool_guardrail,
)
from heso_openai_agents.testing import ScriptedModel
from heso_testing.conformance import (
    APPROVAL_DISPLAY,
    APPROVAL_RULE,
    APPROVER,
    APPROVER_GROUP,
    BLOCK_DISPLAY,
    BLOCK_RULE,
    CONFORMANCE_POLICY,
    ConformanceContext,
    ConformanceTools,
)
from heso_testing.project import PINNED_CLOCK, make_project

set_tracing_disabled(True)

ESCALATE = ("escalate_ticket", {"ticket_id": "T-1", "note": "down"})
LOOKUP = ("lookup_order", {"order_id": "A-1", "limit": 2})
ROCKET = ("launch_rocket", {"target": "moon"})


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConformanceContext]:
    """A project with the conformance policy, an ``oncall`` approver and heso initialised."""
    from heso.approvals.identity import new_approver

    for name in list(os.environ):
        if name.startswith("HESO_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-offline-test")
    monkeypatch.setenv("HESO_KDF_PROFILE", "interactive")
    monkeypatch.setenv("HESO_APPROVER_HOME", str(tmp_path / "approver-device"))
    monkeypatch.setenv("HESO_APPROVER_PASSPHRASE", "adapter test passphrase")
    monkeypatch.setenv("HESO_CLOCK", PINNED_CLOCK)
    _, public = new_approver(APPROVER)
    members = f'\n[approvers.{APPROVER_GROUP}]\nmembers = {{ {APPROVER} = "{public}" }}\n'
    project = make_project(tmp_path / "project", CONFORMANCE_POLICY + members)
    context = ConformanceContext(project, monkeypatch)
    context.init()
    try:
        yield context
    finally:
        heso.shutdown()


@pytest.fixture
def tools() -> ConformanceTools:
    return ConformanceTools()


def make_agent(
    tools: ConformanceTools, *turns: Any, mode: str = "raise", **kwargs: Any
) -> tuple[Agent[Any], ScriptedModel]:
    model = ScriptedModel([*turns, "done"])
    agent = Agent(
        name="support",
        model=model,
        tools=[function_tool(fn) for fn in tools.sync_tools()],
        **kwargs,
    )
    return protect(agent, mode=mode), model  # type: ignore[arg-type]


def run(agent: Agent[Any], input: Any, **kwargs: Any) -> Any:
    return asyncio.run(Runner.run(agent, input, **kwargs))


def hashes(ctx: ConformanceContext, tool_name: str) -> list[str]:
    return [r["content"]["action_hash"] for r in ctx.receipts(tool_name)]


# -- refusals --------------------------------------------------------------------------------


def test_raise_mode_lets_a_heso_error_that_is_also_the_sdk_tripwire_out(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    agent, _ = make_agent(tools, [ROCKET])
    with pytest.raises(ToolBlocked) as caught:
        run(agent, "go")
    err = caught.value
    assert isinstance(err, heso.BlockedError)
    assert isinstance(err, ToolInputGuardrailTripwireTriggered)
    assert (err.rule_id, err.reason) == (BLOCK_RULE, BLOCK_DISPLAY)
    assert err.action_hash == hashes(ctx, "launch_rocket")[0]
    assert err.output.behavior["type"] == "raise_exception"
    assert err.output.output_info["heso"]["rule_id"] == BLOCK_RULE
    assert err.guardrail is not None and err.guardrail.get_name() == "heso"
    assert tools.calls == []


def test_message_mode_tells_the_model_and_the_run_carries_on(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    agent, model = make_agent(tools, [ROCKET, LOOKUP], mode="message")
    result = run(agent, "go")
    assert result.final_output == "done"
    assert model.tool_outputs()[0] == f"heso: blocked by rule {BLOCK_RULE}: {BLOCK_DISPLAY}"
    assert tools.calls == [("lookup_order", {"order_id": "A-1", "limit": 2})]
    (info,) = [
        r.output.output_info
        for r in result.tool_input_guardrail_results
        if r.output.behavior["type"] == "reject_content"
    ]
    assert info["heso"]["refusal"] == "blocked"
    ctx.assert_receipts(launch_rocket=1, lookup_order=1)


def test_the_gate_runs_before_on_tool_start_and_the_body(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    seen: list[str] = []

    class Hooks(RunHooks[Any]):
        async def on_tool_start(self, context: Any, agent: Any, tool: Any) -> None:
            seen.append(f"start:{tool.name}:{len(ctx.receipts(tool.name))}")

    agent, _ = make_agent(tools, [LOOKUP], [ROCKET], mode="message")
    run(agent, "go", hooks=Hooks())
    assert seen == ["start:lookup_order:1"]  # captured before on_tool_start; rocket never starts


def test_the_receipt_fields_are_what_the_function_receives(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    agent, _ = make_agent(tools, [("lookup_order", {"order_id": "A-9"})])
    run(agent, "go")
    (receipt,) = ctx.receipts("lookup_order")
    assert receipt["content"]["action"]["fields"] == {"order_id": "A-9", "limit": 3}
    assert tools.calls == [("lookup_order", {"order_id": "A-9", "limit": 3})]


def test_the_body_sees_its_own_receipt(ctx: ConformanceContext) -> None:
    seen: list[str | None] = []

    def lookup_order(order_id: str) -> str:
        """Look up an order."""
        seen.append(heso.current_action_hash())
        return "shipped"

    async def escalate_ticket(ticket_id: str, note: str) -> str:
        """Escalate a ticket."""
        seen.append(heso.current_action_hash())
        return "escalated"

    model = ScriptedModel([[("lookup_order", {"order_id": "A-1"}), ESCALATE], "done"])
    tools = [function_tool(lookup_order), function_tool(escalate_ticket)]
    agent = protect(Agent(name="a", model=model, tools=tools))
    result = run(agent, "go")
    (suspended,) = hashes(ctx, "escalate_ticket")
    ctx.approve(suspended)
    state = result.to_state()
    apply_approvals(state)
    run(agent, state)
    assert seen == [hashes(ctx, "lookup_order")[0], suspended]
    assert heso.current_action_hash() is None


def test_parallel_calls_are_each_gated_once(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    second = ("lookup_order", {"order_id": "B-2", "limit": 1})
    agent, model = make_agent(tools, [LOOKUP, second, ROCKET], mode="message")
    run(agent, "go")
    ctx.assert_receipts(lookup_order=2, launch_rocket=1)
    assert tools.count("lookup_order") == 2 and tools.count("launch_rocket") == 0
    assert sum("heso: blocked" in out for out in model.tool_outputs()) == 1


def test_a_streamed_run_is_gated_too(ctx: ConformanceContext, tools: ConformanceTools) -> None:
    async def stream() -> Any:
        result = Runner.run_streamed(agent, "go")
        async for _ in result.stream_events():
            pass
        return result

    agent, _ = make_agent(tools, [LOOKUP], [ROCKET])
    with pytest.raises(ToolBlocked):
        asyncio.run(stream())
    assert tools.calls == [("lookup_order", {"order_id": "A-1", "limit": 2})]
    ctx.assert_receipts(lookup_order=1, launch_rocket=1)


# -- failing closed --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["raise", "message"])
def test_a_crashing_guardrail_alone_fails_closed(
    ctx: ConformanceContext, tools: ConformanceTools, mode: str
) -> None:
    tool = function_tool(tools.lookup_order, tool_input_guardrails=[tool_guardrail(mode=mode)])
    agent = Agent(name="a", model=ScriptedModel([[LOOKUP], "done"]), tools=[tool])
    ctx.break_gate("chain")
    with pytest.raises(UserError) as caught:
        run(agent, "go")
    assert isinstance(caught.value.__cause__, heso.BridgeError)
    assert tools.calls == [] and ctx.receipts(verb=None) == []


@pytest.mark.parametrize("mode", ["raise", "message"])
def test_the_guardrail_alone_refuses_what_needs_approval(
    ctx: ConformanceContext, tools: ConformanceTools, mode: str
) -> None:
    tool = function_tool(tools.escalate_ticket, tool_input_guardrails=[tool_guardrail(mode=mode)])
    model = ScriptedModel([[ESCALATE], "done"])
    agent = Agent(name="a", model=model, tools=[tool])
    if mode == "raise":
        with pytest.raises(ToolSuspended) as caught:
            run(agent, "go")
        assert caught.value.approvers == [APPROVER_GROUP]
    else:
        assert run(agent, "go").final_output == "done"
        (out,) = model.tool_outputs()
        assert out.startswith(f"heso: needs approval by rule {APPROVAL_RULE}")
    assert tools.calls == []
    assert hashes(ctx, "escalate_ticket")[0] in ctx.pending()


def test_unreadable_arguments_fail_closed(ctx: ConformanceContext, tools: ConformanceTools) -> None:
    from heso_openai_agents.arguments import parse_arguments

    with pytest.raises(heso.BridgeError, match="not JSON"):
        parse_arguments("x", "{nope")
    with pytest.raises(heso.BridgeError, match="not an object"):
        parse_arguments("x", "[1]")
    assert parse_arguments("x", "") == {}


# -- native approvals ------------------------------------------------------------------------


def test_the_sdks_approval_alone_never_runs_a_suspended_call(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    agent, _ = make_agent(tools, [ESCALATE])
    result = run(agent, "go")
    (item,) = result.interruptions
    (suspended,) = hashes(ctx, "escalate_ticket")
    state = result.to_state()
    state.approve(item)
    with pytest.raises(ToolSuspended) as caught:
        run(agent, state)
    assert caught.value.action_hash == suspended
    assert (caught.value.rule_id, caught.value.reason) == (APPROVAL_RULE, APPROVAL_DISPLAY)
    assert isinstance(caught.value, heso.SuspendedError)
    assert tools.calls == []
    assert hashes(ctx, "escalate_ticket") == [suspended]
    assert suspended in ctx.pending(), "the heso approval must stay open"


def test_message_mode_tells_the_model_when_the_sdk_approved_without_heso(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    agent, model = make_agent(tools, [ESCALATE], mode="message")
    result = run(agent, "go")
    state = result.to_state()
    state.approve(result.interruptions[0])
    assert run(agent, state).final_output == "done"
    (out,) = model.tool_outputs()
    assert out.startswith(f"heso: needs approval by rule {APPROVAL_RULE}: {APPROVAL_DISPLAY}")
    assert tools.calls == []


def test_resuming_before_a_decision_pauses_again_without_a_new_receipt(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    agent, _ = make_agent(tools, [ESCALATE])
    result = run(agent, "go")
    state = result.to_state()
    decisions = apply_approvals(state)
    assert not decisions.ready and decisions.pending == result.interruptions
    again = run(agent, state)
    assert len(again.interruptions) == 1 and tools.calls == []
    (suspended,) = hashes(ctx, "escalate_ticket")
    ctx.approve(suspended)
    state = again.to_state()
    assert apply_approvals(state).approved == again.interruptions
    assert run(agent, state).final_output == "done"
    assert tools.count("escalate_ticket") == 1
    assert hashes(ctx, "escalate_ticket") == [suspended, suspended]  # suspended + its L1


def test_without_apply_approvals_the_sdk_keeps_the_call_paused(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    agent, _ = make_agent(tools, [ESCALATE])
    result = run(agent, "go")
    ctx.approve(hashes(ctx, "escalate_ticket")[0])
    again = run(agent, result.to_state())
    assert len(again.interruptions) == 1 and tools.calls == []
    assert len(hashes(ctx, "escalate_ticket")) == 1


def test_a_suspended_call_runs_once_even_when_the_state_is_replayed(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    agent, model = make_agent(tools, [ESCALATE], mode="message")
    result = run(agent, "go")
    saved, actions = result.to_state().to_json(), pending_actions(result)
    ctx.approve(hashes(ctx, "escalate_ticket")[0])
    first = asyncio.run(RunState.from_json(agent, saved))
    assert apply_approvals(first, actions=actions).approved
    run(agent, first)
    assert tools.count("escalate_ticket") == 1
    replay = asyncio.run(RunState.from_json(agent, saved))
    assert apply_approvals(replay, actions=actions).refused
    run(agent, replay)
    assert tools.count("escalate_ticket") == 1
    (out,) = model.tool_outputs()
    assert "it already ran once" in out
    assert len(hashes(ctx, "escalate_ticket")) == 2  # the suspended receipt and its L1 only


def test_a_state_restored_in_another_process_resumes_with_pending_actions(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    agent, _ = make_agent(tools, [ESCALATE])
    result = run(agent, "go")
    (suspended,) = hashes(ctx, "escalate_ticket")
    actions = pending_actions(result)
    assert actions == {result.interruptions[0].call_id: suspended}
    saved = result.to_state().to_json()
    approvals.paused_calls.clear()  # what a new process remembers
    ctx.approve(suspended)
    state = asyncio.run(RunState.from_json(agent, saved))
    assert apply_approvals(state).unknown  # without actions= heso cannot tell
    state = asyncio.run(RunState.from_json(agent, saved))
    assert apply_approvals(state, actions=actions).ready
    assert run(agent, state).final_output == "done"
    assert tools.count("escalate_ticket") == 1
    assert set(hashes(ctx, "escalate_ticket")) == {suspended}


def test_actions_that_do_not_match_the_call_are_refused(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    agent, _ = make_agent(tools, [ESCALATE])
    run(agent, "go")
    (first,) = hashes(ctx, "escalate_ticket")
    agent.model = ScriptedModel([[("escalate_ticket", {"ticket_id": "T-2", "note": "x"})]])
    second = run(agent, "go")
    approvals.paused_calls.clear()
    wrong = {second.interruptions[0].call_id: first}
    with pytest.raises(ValueError, match="is not the paused call"):
        apply_approvals(second.to_state(), actions=wrong)


def test_a_denial_in_message_mode_tells_the_model_who_denied(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    agent, model = make_agent(tools, [ESCALATE], mode="message")
    result = run(agent, "go")
    ctx.deny(hashes(ctx, "escalate_ticket")[0])
    state = result.to_state()
    assert apply_approvals(state).refused == result.interruptions
    assert run(agent, state).final_output == "done"
    (out,) = model.tool_outputs()
    assert out.startswith(f"heso: blocked by rule {APPROVAL_RULE}: {APPROVAL_DISPLAY}")
    assert f"denied by {APPROVER}" in out
    assert tools.calls == []


def test_a_denial_in_raise_mode_raises_from_apply_approvals(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    agent, _ = make_agent(tools, [ESCALATE])
    result = run(agent, "go")
    ctx.deny(hashes(ctx, "escalate_ticket")[0])
    state = result.to_state()
    with pytest.raises(ToolBlocked, match=f"denied by {APPROVER}"):
        apply_approvals(state)
    run(agent, state)  # the state rejects the call: resuming anyway tells the model
    assert tools.calls == []


@pytest.mark.parametrize("mode", ["raise", "message"])
def test_pre_approval_guardrails_still_pause_natively(
    ctx: ConformanceContext, tools: ConformanceTools, mode: str
) -> None:
    config = RunConfig(tool_execution=ToolExecutionConfig(pre_approval_tool_input_guardrails=True))
    agent, _ = make_agent(tools, [ESCALATE], mode=mode)
    result = run(agent, "go", run_config=config)
    assert len(result.interruptions) == 1 and tools.calls == []
    (suspended,) = hashes(ctx, "escalate_ticket")
    ctx.approve(suspended)
    state = result.to_state()
    apply_approvals(state)
    run(agent, state, run_config=config)
    assert tools.count("escalate_ticket") == 1
    assert set(hashes(ctx, "escalate_ticket")) == {suspended}

    agent.model = ScriptedModel([[("escalate_ticket", {"ticket_id": "T-2", "note": "x"})], "ok"])
    result = run(agent, "again", run_config=config)
    state = result.to_state()
    state.approve(result.interruptions[0])  # the SDK alone: still refused
    if mode == "raise":
        with pytest.raises(ToolSuspended):
            run(agent, state, run_config=config)
    else:
        run(agent, state, run_config=config)
    assert tools.count("escalate_ticket") == 1


def test_an_allowed_call_in_the_same_turn_runs_at_once_and_only_once(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    agent, _ = make_agent(tools, [LOOKUP, ESCALATE])
    result = run(agent, "go")
    assert tools.calls == [("lookup_order", {"order_id": "A-1", "limit": 2})]
    assert len(result.interruptions) == 1
    ctx.approve(hashes(ctx, "escalate_ticket")[0])
    state = result.to_state()
    apply_approvals(state)
    run(agent, state)
    assert [name for name, _ in tools.calls] == ["lookup_order", "escalate_ticket"]
    ctx.assert_receipts(lookup_order=1)


# -- attaching -------------------------------------------------------------------------------


def test_protect_follows_handoffs_and_agents_used_as_tools(tools: ConformanceTools) -> None:
    leaf = Agent(name="leaf", tools=[function_tool(tools.launch_rocket)])
    nested = Agent(name="nested", tools=[function_tool(tools.send_secret)])
    via_handoff = Agent(name="via", tools=[function_tool(tools.escalate_ticket)])
    root = Agent(
        name="root",
        tools=[function_tool(tools.lookup_order), nested.as_tool("ask_nested", "ask")],
        handoffs=[leaf, handoff(via_handoff)],
    )
    gate = HesoGate(mode="message")
    assert gate.protect(root) is root
    everything = [*root.tools, *leaf.tools, *nested.tools, *via_handoff.tools]
    assert all(getattr(t, "_heso_gate", None) is gate for t in everything)
    assert all(t.tool_input_guardrails == [gate.guardrail] for t in everything)
    gate.protect(root)  # idempotent
    assert all(len(t.tool_input_guardrails or []) == 1 for t in everything)
    with pytest.raises(ValueError, match="already gated"):
        protect(leaf)
    with pytest.raises(TypeError, match="protect"):
        protect("agent")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        HesoGate(mode="warn")  # type: ignore[arg-type]


def test_protect_keeps_the_tools_own_guardrails_and_approval(
    ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    order: list[str] = []

    @tool_input_guardrail
    def own(data: Any) -> ToolGuardrailFunctionOutput:
        order.append(f"own:{len(ctx.receipts('lookup_order'))}")
        return ToolGuardrailFunctionOutput.allow()

    async def ask_first(wrapper: RunContextWrapper[Any], params: Any, call_id: str) -> bool:
        return True

    tool = function_tool(tools.lookup_order, tool_input_guardrails=[own], needs_approval=ask_first)
    agent = protect(Agent(name="a", model=ScriptedModel([[LOOKUP], "done"]), tools=[tool]))
    result = run(agent, "go")
    assert len(result.interruptions) == 1 and tools.calls == []  # the tool's own approval
    state = result.to_state()
    assert apply_approvals(state).unknown == result.interruptions  # not heso's to decide
    state.approve(result.interruptions[0])
    run(agent, state)
    assert order == ["own:1"] and tools.count("lookup_order") == 1
    ctx.assert_receipts(lookup_order=1)


def test_the_lazy_heso_attribute_is_this_package() -> None:
    import heso_openai_agents

    assert heso.openai_agents is heso_openai_agents
