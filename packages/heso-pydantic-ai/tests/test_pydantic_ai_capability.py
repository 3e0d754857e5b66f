"""HesoCapability through real Pydantic AI agents driven by FunctionModels: deferral and
resumption against heso's signed approvals, model-request gating, and the edges between."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic_ai import Agent, DeferredToolRequests, DeferredToolResults, ToolApproved
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

import heso
import heso_pydantic_ai
from heso.errors import BlockedError, SuspendedError
from heso_pydantic_ai import HesoCapability, decisions, resume_results
from heso_testing.conformance import (
    APPROVAL_DISPLAY,
    APPROVAL_RULE,
    BLOCK_DISPLAY,
    ConformanceContext,
    ConformanceTools,
)

FORBIDDEN_MODEL = "forbidden-model"
MODEL_RULE = "no-forbidden-model"
MODEL_DISPLAY = "this model is not approved for production data"
EXTRA_POLICY = f"""
[[rule]]
id = "{MODEL_RULE}"
verb = "llm_call"
scope = "{FORBIDDEN_MODEL}"
decision = "block"
display = "{MODEL_DISPLAY}"
"""
"""Appended to the conformance policy by the ``heso_ctx`` fixture."""

ESCALATION = {"ticket_id": "T-7", "note": "customer is down"}


def scripted(*calls: tuple[str, dict[str, Any]], model_name: str | None = None) -> FunctionModel:
    """A model that makes ``calls`` (ids ``call-0``, ``call-1``, ...) in its first turn, then
    answers with what it was told about each."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        told = [p for p in messages[-1].parts if isinstance(p, ToolReturnPart | RetryPromptPart)]
        if told or not calls:
            return ModelResponse(parts=[TextPart("done")])
        return ModelResponse(
            parts=[
                ToolCallPart(name, args, tool_call_id=f"call-{i}")
                for i, (name, args) in enumerate(calls)
            ]
        )

    return FunctionModel(respond, model_name=model_name)


def told(result: AgentRunResult[Any], call_id: str = "call-0") -> str | None:
    """What the model was told about ``call_id``."""
    for message in result.all_messages():
        for part in message.parts:
            if isinstance(part, ToolReturnPart) and part.tool_call_id == call_id:
                return part.model_response_str()
            if isinstance(part, RetryPromptPart) and part.tool_call_id == call_id:
                return part.model_response()
    return None


def agent_for(
    tools: list[Callable[..., Any]],
    *calls: tuple[str, dict[str, Any]],
    output_type: Any = (str, DeferredToolRequests),
    **options: Any,
) -> Agent[None, Any]:
    return Agent(
        scripted(*calls),
        tools=tools,
        capabilities=[HesoCapability(**options)],
        output_type=list(output_type) if isinstance(output_type, tuple) else output_type,
    )


def deferred(
    ctx: ConformanceContext, tools: ConformanceTools, **options: Any
) -> tuple[Agent[None, Any], AgentRunResult[Any], str]:
    """Run ``escalate_ticket`` until heso defers it; returns the agent, the paused result and
    the suspended action_hash."""
    agent = agent_for(tools.sync_tools(), ("escalate_ticket", ESCALATION), **options)
    paused = agent.run_sync("escalate")
    assert isinstance(paused.output, DeferredToolRequests)
    (receipt,) = ctx.receipts("escalate_ticket")
    return agent, paused, receipt["content"]["action_hash"]


def resume(
    agent: Agent[None, Any], paused: AgentRunResult[Any], results: DeferredToolResults
) -> AgentRunResult[Any]:
    return agent.run_sync(message_history=paused.all_messages(), deferred_tool_results=results)


@pytest.fixture
def tools() -> ConformanceTools:
    return ConformanceTools()


# -- deferral and resumption ------------------------------------------------------------------


def test_deferral_carries_the_suspended_action(
    heso_ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    _, paused, action_hash = deferred(heso_ctx, tools)
    (call,) = paused.output.approvals
    meta = paused.output.metadata[call.tool_call_id]["heso"]
    assert meta["action_hash"] == action_hash
    assert meta["session"] == f"action-{action_hash}"
    assert (meta["rule_id"], meta["reason"]) == (APPROVAL_RULE, APPROVAL_DISPLAY)
    assert meta["approvers"] == ["oncall"]
    assert action_hash in heso_ctx.pending()
    assert decisions(paused.output) == {call.tool_call_id: "suspended"}


@pytest.mark.parametrize("mode", ["raise", "message"])
def test_the_frameworks_approval_alone_never_runs_the_tool(
    heso_ctx: ConformanceContext, tools: ConformanceTools, mode: str
) -> None:
    agent, paused, action_hash = deferred(heso_ctx, tools, mode=mode)
    (call,) = paused.output.approvals
    approve = DeferredToolResults(approvals={call.tool_call_id: ToolApproved()})
    if mode == "raise":
        with pytest.raises(SuspendedError) as caught:
            resume(agent, paused, approve)
        assert caught.value.action_hash == action_hash
        assert "framework's approval alone never runs it" in str(caught.value)
    else:
        text = told(resume(agent, paused, approve))
        assert text is not None and f"heso: needs approval by rule {APPROVAL_RULE}" in text
    assert tools.calls == []
    assert len(heso_ctx.receipts("escalate_ticket")) == 1, "re-entry minted a second receipt"
    assert action_hash in heso_ctx.pending()


def test_resume_results_waits_for_a_decision(
    heso_ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    _, paused, action_hash = deferred(heso_ctx, tools)
    with pytest.raises(SuspendedError, match="still await approval") as caught:
        resume_results(paused.output)
    assert caught.value.action_hash == action_hash
    heso_ctx.approve(action_hash)
    (call,) = paused.output.approvals
    assert decisions(paused.output) == {call.tool_call_id: "approved"}
    results = resume_results(paused.output)
    assert isinstance(results.approvals[call.tool_call_id], ToolApproved)
    assert results.metadata[call.tool_call_id] == paused.output.metadata[call.tool_call_id]


def test_an_approved_call_runs_once_as_the_suspended_action(
    heso_ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    seen: list[str | None] = []

    def escalate_ticket(ticket_id: str, note: str) -> str:
        """Escalate a ticket."""
        seen.append(heso.current_action_hash())
        return f"escalated {ticket_id}"

    agent = agent_for([escalate_ticket], ("escalate_ticket", ESCALATION))
    paused = agent.run_sync("escalate")
    (receipt,) = heso_ctx.receipts("escalate_ticket")
    action_hash = receipt["content"]["action_hash"]
    heso_ctx.approve(action_hash)
    done = resume(agent, paused, resume_results(paused.output))
    assert done.output == "done" and told(done) == "escalated T-7"
    assert seen == [action_hash]
    mine = heso_ctx.receipts("escalate_ticket")
    assert {r["content"]["action_hash"] for r in mine} == {action_hash}
    assert [len(r["signatures"]) for r in mine] == [1, 2], "expected the suspended + L1 receipt"
    heso_ctx.assert_chain_valid()

    with pytest.raises(BlockedError, match="already ran once"):
        resume(agent, paused, resume_results(paused.output))
    assert seen == [action_hash]


def test_resuming_without_heso_metadata_finds_the_action(
    heso_ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    """A resume in another process, with results built by hand, still finds the approval."""
    agent, paused, action_hash = deferred(heso_ctx, tools)
    heso_ctx.approve(action_hash)
    (call,) = paused.output.approvals
    done = resume(agent, paused, DeferredToolResults(approvals={call.tool_call_id: True}))
    assert told(done) == "escalated T-7"
    assert tools.count("escalate_ticket") == 1
    assert {r["content"]["action_hash"] for r in heso_ctx.receipts("escalate_ticket")} == {
        action_hash
    }


def test_changed_arguments_are_a_new_action(
    heso_ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    """The approver of T-7 did not approve T-666: overriding the arguments suspends anew."""
    agent, paused, action_hash = deferred(heso_ctx, tools)
    heso_ctx.approve(action_hash)
    (call,) = paused.output.approvals
    other = {"ticket_id": "T-666", "note": "customer is down"}
    results = resume_results(paused.output)
    results.approvals[call.tool_call_id] = ToolApproved(override_args=other)
    again = resume(agent, paused, results)
    assert isinstance(again.output, DeferredToolRequests)
    assert tools.calls == []
    hashes = [r["content"]["action_hash"] for r in heso_ctx.receipts("escalate_ticket")]
    assert len(hashes) == 2 and hashes[0] == action_hash
    assert hashes[1] in heso_ctx.pending()
    assert again.output.metadata[call.tool_call_id]["heso"]["action_hash"] == hashes[1]


def test_a_redacted_argument_is_matched_through_its_commitment(
    heso_ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    with heso.step(redact=["note"]):
        agent, paused, action_hash = deferred(heso_ctx, tools)
    (receipt,) = heso_ctx.receipts("escalate_ticket")
    assert receipt["content"]["action"]["fields"]["note"]["heso_redacted"] == "commit"
    heso_ctx.approve(action_hash)
    (call,) = paused.output.approvals

    tampered = resume_results(paused.output)
    tampered.approvals[call.tool_call_id] = ToolApproved(
        override_args={**ESCALATION, "note": "and wire them money"}
    )
    with heso.step(redact=["note"]):
        assert isinstance(resume(agent, paused, tampered).output, DeferredToolRequests)
    assert tools.calls == []

    done = resume(agent, paused, resume_results(paused.output))
    assert told(done) == "escalated T-7"
    assert tools.calls == [("escalate_ticket", ESCALATION)]
    assert heso_ctx.data_contains("customer is down") == []


def test_a_denied_call_is_refused_in_raise_mode(
    heso_ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    agent, paused, action_hash = deferred(heso_ctx, tools)
    heso_ctx.deny(action_hash)
    with pytest.raises(BlockedError, match="denied") as caught:
        resume(agent, paused, resume_results(paused.output))
    assert (caught.value.rule_id, caught.value.action_hash) == (APPROVAL_RULE, action_hash)
    assert tools.calls == []


def test_observe_only_runs_a_reentered_call_without_approval(
    heso_ctx: ConformanceContext, tools: ConformanceTools, caplog: pytest.LogCaptureFixture
) -> None:
    agent, paused, _ = deferred(heso_ctx, tools)
    heso_ctx.init(blocking=False)
    (call,) = paused.output.approvals
    done = resume(agent, paused, DeferredToolResults(approvals={call.tool_call_id: True}))
    assert told(done) == "escalated T-7"
    assert heso_ctx.receipts() == [], "re-entry minted a second receipt"
    assert "observe-only mode: escalate_ticket runs although" in caplog.text


@pytest.mark.parametrize("mode", ["raise", "message"])
def test_approvals_refuse_mode(
    heso_ctx: ConformanceContext, tools: ConformanceTools, mode: str
) -> None:
    agent = agent_for(
        tools.sync_tools(), ("escalate_ticket", ESCALATION), mode=mode, approvals="refuse"
    )
    if mode == "raise":
        with pytest.raises(SuspendedError) as caught:
            agent.run_sync("escalate")
        assert caught.value.rule_id == APPROVAL_RULE
    else:
        text = told(agent.run_sync("escalate"))
        assert text is not None and APPROVAL_DISPLAY in text
    assert tools.calls == []
    assert len(heso_ctx.pending()) == 1


def test_an_agent_that_cannot_defer_raises_the_suspension(
    heso_ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    agent = agent_for(tools.sync_tools(), ("escalate_ticket", ESCALATION), output_type=str)
    with pytest.raises(SuspendedError) as caught:
        agent.run_sync("escalate")
    assert "DeferredToolRequests" in str(caught.value.__cause__)
    assert caught.value.action_hash in heso_ctx.pending()
    assert tools.calls == []


def test_a_tool_the_framework_gates_is_captured_once_after_its_approval(
    heso_ctx: ConformanceContext,
) -> None:
    ran: list[str] = []
    agent = Agent(
        scripted(("lookup_order", {"order_id": "A-1"})),
        capabilities=[HesoCapability()],
        output_type=[str, DeferredToolRequests],
    )

    @agent.tool_plain(requires_approval=True)
    def lookup_order(order_id: str, limit: int = 3) -> str:
        """Look up an order."""
        ran.append(order_id)
        return "shipped"

    paused = agent.run_sync("look")
    assert isinstance(paused.output, DeferredToolRequests)
    assert heso_ctx.receipts() == []
    (call,) = paused.output.approvals
    done = resume(agent, paused, DeferredToolResults(approvals={call.tool_call_id: True}))
    assert told(done) == "shipped" and ran == ["A-1"]
    (receipt,) = heso_ctx.receipts("lookup_order")
    assert receipt["content"]["action"]["fields"] == {"order_id": "A-1", "limit": 3}


# -- refusals alongside allowed calls ---------------------------------------------------------


def test_message_mode_refuses_one_call_and_runs_the_other(
    heso_ctx: ConformanceContext, tools: ConformanceTools
) -> None:
    agent = agent_for(
        tools.sync_tools(),
        ("launch_rocket", {"target": "moon"}),
        ("lookup_order", {"order_id": "A-1"}),
        mode="message",
    )
    result = agent.run_sync("go")
    assert f"heso: blocked by rule no-rockets: {BLOCK_DISPLAY}" in (told(result, "call-0") or "")
    assert told(result, "call-1") == "order A-1: shipped (3 events)"
    assert tools.calls == [("lookup_order", {"order_id": "A-1", "limit": 3})]
    assert sorted(heso_ctx.decisions()) == ["allow", "block"]


def test_an_allowed_body_sees_its_receipt(heso_ctx: ConformanceContext) -> None:
    seen: list[str | None] = []

    async def lookup_order(order_id: str) -> str:
        """Look up an order."""
        seen.append(heso.current_action_hash())
        return "shipped"

    agent = agent_for([lookup_order], ("lookup_order", {"order_id": "A-1"}))
    agent.run_sync("look")
    (receipt,) = heso_ctx.receipts("lookup_order")
    assert seen == [receipt["content"]["action_hash"]]
    assert heso.current_action_hash() is None


# -- model requests ---------------------------------------------------------------------------


def test_model_requests_are_not_gated_by_default(heso_ctx: ConformanceContext) -> None:
    agent = Agent(scripted(model_name=FORBIDDEN_MODEL), capabilities=[HesoCapability()])
    assert agent.run_sync("hi").output == "done"
    assert heso_ctx.receipts(verb=None) == []


def test_model_requests_are_gated_as_llm_calls(heso_ctx: ConformanceContext) -> None:
    agent = Agent(
        scripted(model_name="approved-model"),
        capabilities=[HesoCapability(gate_model_requests=True)],
    )
    assert agent.run_sync("hi").output == "done"
    (receipt,) = heso_ctx.receipts(verb="llm_call")
    action = receipt["content"]["action"]
    assert action["tool_name"] == "approved-model"
    assert action["fields"]["model"] == "approved-model"
    assert action["fields"]["messages"][0]["parts"][0]["content"] == "hi"


@pytest.mark.parametrize("mode", ["raise", "message"])
def test_a_blocked_model_is_never_called(heso_ctx: ConformanceContext, mode: str) -> None:
    asked: list[int] = []

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        asked.append(1)
        return ModelResponse(parts=[TextPart("secret answer")])

    agent = Agent(
        FunctionModel(respond, model_name=FORBIDDEN_MODEL),
        capabilities=[HesoCapability(mode=mode, gate_model_requests=True)],  # type: ignore[arg-type]
    )
    if mode == "raise":
        with pytest.raises(BlockedError) as caught:
            agent.run_sync("hi")
        assert caught.value.rule_id == MODEL_RULE
    else:
        output = agent.run_sync("hi").output
        assert output == f"heso: blocked by rule {MODEL_RULE}: {MODEL_DISPLAY}"
    assert asked == []
    (receipt,) = heso_ctx.receipts(FORBIDDEN_MODEL, verb="llm_call")
    assert receipt["content"]["policy"]["decision"] == "block"


# -- the package --------------------------------------------------------------------------------


def test_heso_exposes_the_adapter_lazily() -> None:
    assert heso.pydantic_ai is heso_pydantic_ai
    assert heso.pydantic_ai.HesoCapability is HesoCapability


@pytest.mark.parametrize("options", [{"mode": "silent"}, {"approvals": "auto"}])
def test_options_are_checked(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        HesoCapability(**options)
