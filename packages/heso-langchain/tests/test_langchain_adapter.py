"""heso-langchain beyond the standard cases: the fail-open traps of langchain-core callbacks,
model-call gating, and approvals across LangGraph interrupt/resume."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from heso_langchain_fakes import START, go, lc_tools, scripted_model, tool_node_graph, tool_output
from langchain.agents import create_agent
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.tools import StructuredTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

import heso
from heso.approvals import reentry
from heso_langchain import HesoCallbackHandler, HesoMiddleware, ToolCallGate
from heso_testing.conformance import (
    APPROVAL_RULE,
    BLOCK_DISPLAY,
    CONFORMANCE_POLICY,
    ConformanceContext,
    ConformanceTools,
    conformance_context,
)

LLM_POLICY = (
    CONFORMANCE_POLICY
    + """
[[rule]]
id = "no-forbidden-model"
verb = "llm_call"
scope = "*"
conditions = [
  { field = "model", op = "eq", value = "forbidden-model", display = "that model is off limits" },
]
decision = "block"
"""
)

_threads = itertools.count()


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConformanceContext]:
    with conformance_context(tmp_path, monkeypatch, policy=LLM_POLICY) as context:
        yield context


@pytest.fixture
def tools() -> ConformanceTools:
    return ConformanceTools()


def _thread() -> dict[str, Any]:
    return go(thread=f"adapter-{next(_threads)}")


# -- the callback handler ------------------------------------------------------------------


def test_the_handler_is_a_sync_handler_that_raises():
    handler = HesoCallbackHandler()
    assert handler.raise_error is True
    assert isinstance(handler, BaseCallbackHandler)
    assert not isinstance(handler, AsyncCallbackHandler)
    with pytest.raises(ValueError, match="mode must be"):
        HesoCallbackHandler(mode="ignore")


async def test_a_sync_tool_run_through_ainvoke_is_still_blocked(ctx, tools):
    """langchain-core swallows an async handler's error on a sync tool, even via ainvoke."""
    rocket = StructuredTool.from_function(func=tools.launch_rocket)
    with pytest.raises(heso.BlockedError, match=BLOCK_DISPLAY):
        await rocket.ainvoke({"target": "moon"}, config=go(callbacks=[HesoCallbackHandler()]))
    agent = create_agent(scripted_model([("launch_rocket", {"target": "mars"})]), [rocket])
    with pytest.raises(heso.BlockedError):
        await agent.ainvoke(START, go(callbacks=[HesoCallbackHandler()]))
    assert tools.count("launch_rocket") == 0
    assert ctx.decisions("launch_rocket") == ["block", "block"]


def test_a_tool_invoked_directly_is_gated_with_its_arguments(ctx, tools):
    lookup = StructuredTool.from_function(func=tools.lookup_order)
    config = go(callbacks=[HesoCallbackHandler()])
    assert lookup.invoke({"order_id": "A-1"}, config=config) == "order A-1: shipped (3 events)"
    (receipt,) = ctx.receipts("lookup_order")
    assert receipt["content"]["action"]["fields"] == {"order_id": "A-1", "limit": 3}


def test_message_mode_outside_a_tool_node_still_refuses(ctx, tools):
    rocket = StructuredTool.from_function(func=tools.launch_rocket)
    config = go(callbacks=[HesoCallbackHandler(mode="message")])
    with pytest.raises(Exception, match=BLOCK_DISPLAY) as err:
        rocket.invoke({"target": "moon"}, config=config)
    assert isinstance(err.value.__cause__, heso.BlockedError)
    assert tools.count("launch_rocket") == 0


def test_the_handler_reenters_an_approved_call_once_and_records_completed(ctx, tools):
    escalate = StructuredTool.from_function(func=tools.escalate_ticket)
    config = go(callbacks=[HesoCallbackHandler()])
    args = {"ticket_id": "T-1", "note": "down"}
    with pytest.raises(heso.SuspendedError):
        escalate.invoke(args, config=config)
    (action_hash,) = ctx.pending()
    with pytest.raises(heso.SuspendedError):  # still undecided: refused, no new receipt
        escalate.invoke(args, config=config)
    assert len(ctx.receipts("escalate_ticket")) == 1
    ctx.approve(action_hash)
    assert escalate.invoke(args, config=config) == "escalated T-1"
    found = reentry.lookup(action_hash)
    assert found is not None and found.status == "completed"
    assert tools.count("escalate_ticket") == 1


def test_model_calls_are_gated_only_when_asked(ctx, tools):
    lookup = StructuredTool.from_function(func=tools.lookup_order)
    call = ("lookup_order", {"order_id": "A-1"})
    create_agent(scripted_model([call]), [lookup]).invoke(
        START, go(callbacks=[HesoCallbackHandler()])
    )
    assert ctx.receipts(verb="llm_call") == []

    handler = HesoCallbackHandler(gate_llm=True)
    with heso.step(redact=["messages"]):
        create_agent(scripted_model([call]), [lookup]).invoke(START, go(callbacks=[handler]))
    llm = ctx.receipts(verb="llm_call")
    assert len(llm) == 2  # the tool-calling turn and the final answer
    fields = llm[0]["content"]["action"]["fields"]
    assert llm[0]["content"]["action"]["tool_name"] == "fake-chat-1"
    assert fields["model"] == "fake-chat-1"
    assert fields["messages"]["heso_redacted"]
    assert [r["content"]["policy"]["decision"] for r in llm] == ["allow", "allow"]


def test_a_blocked_model_call_never_reaches_the_model(ctx, tools):
    model = scripted_model([("lookup_order", {"order_id": "A-1"})], model="forbidden-model")
    agent = create_agent(model, [StructuredTool.from_function(func=tools.lookup_order)])
    with pytest.raises(heso.BlockedError, match="that model is off limits"):
        agent.invoke(START, go(callbacks=[HesoCallbackHandler(gate_llm=True, gate_tools=False)]))
    assert next(model.messages).tool_calls, "the model's first answer was consumed"
    assert tools.calls == []
    (receipt,) = ctx.receipts(verb="llm_call")
    assert receipt["content"]["policy"]["rule_id"] == "no-forbidden-model"
    assert receipt["content"]["action"]["fields"]["messages"] == [{"role": "user", "content": "go"}]


def test_the_agent_name_is_recorded(ctx, tools):
    lookup = StructuredTool.from_function(func=tools.lookup_order)
    lookup.invoke({"order_id": "A-1"}, config=go(callbacks=[HesoCallbackHandler(agent="support")]))
    (receipt,) = ctx.receipts("lookup_order")
    assert receipt["content"]["action"]["agent"] == "support"


# -- approvals across interrupt/resume -----------------------------------------------------


def _escalating_agent(tools: ConformanceTools, **options: Any) -> Any:
    call = ("escalate_ticket", {"ticket_id": "T-1", "note": "down"})
    return create_agent(
        scripted_model([call]),
        lc_tools(tools),
        middleware=[HesoMiddleware(**options)],
        checkpointer=InMemorySaver(),
    )


def _pending_hash(ctx: ConformanceContext) -> str:
    (receipt,) = ctx.receipts("escalate_ticket")
    return receipt["content"]["action_hash"]


def test_resuming_before_a_decision_pauses_again_without_capturing_again(ctx, tools):
    agent, config = _escalating_agent(tools), _thread()
    first = agent.invoke(START, config)
    (paused,) = first["__interrupt__"]
    value = paused.value
    assert value["heso"] == "approval_required"
    assert (value["tool"], value["rule_id"]) == ("escalate_ticket", APPROVAL_RULE)
    assert value["args"] == {"ticket_id": "T-1", "note": "down"}
    assert value["approvers"] == ["oncall"]
    action_hash = value["action_hash"]
    assert action_hash == _pending_hash(ctx)

    for _ in range(2):  # an "approve" from the app is not an approval by default
        again = agent.invoke(Command(resume="approve"), config)
        assert again["__interrupt__"][0].value["action_hash"] == action_hash
    assert tools.count("escalate_ticket") == 0
    assert heso.decision(value["session"]) == "suspended"

    ctx.approve(action_hash)
    done = agent.invoke(Command(resume="approve"), config)
    assert "__interrupt__" not in done
    assert tool_output(done) == "escalated T-1"
    assert tools.count("escalate_ticket") == 1
    mine = ctx.receipts("escalate_ticket")
    assert [len(r["signatures"]) for r in mine] == [1, 2]  # suspended L0, then its L1
    assert {r["content"]["action_hash"] for r in mine} == {action_hash}
    ctx.assert_chain_valid()


def test_a_deny_resume_records_the_operator_denial(ctx, tools):
    agent, config = _escalating_agent(tools, mode="message"), _thread()
    session = agent.invoke(START, config)["__interrupt__"][0].value["session"]
    done = agent.invoke(Command(resume={"type": "reject", "message": "not now"}), config)
    assert "(approval denied by the operator: not now)" in tool_output(done)
    assert heso.decision(session) == "denied"
    assert tools.count("escalate_ticket") == 0
    assert done["messages"][-1].content == "done"  # the agent carried on


def test_approve_on_resume_lets_the_app_approve_as_the_operator(ctx, tools):
    agent, config = _escalating_agent(tools, approve_on_resume=True), _thread()
    session = agent.invoke(START, config)["__interrupt__"][0].value["session"]
    done = agent.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    assert tool_output(done) == "escalated T-1"
    assert tools.count("escalate_ticket") == 1
    assert heso.decision(session) == "completed"  # approved, fired, then the tool returned
    assert all(len(r["signatures"]) == 1 for r in ctx.receipts("escalate_ticket")), (
        "an operator approval stays L0"
    )


@pytest.mark.parametrize("mode", ["raise", "message"])
def test_without_a_checkpointer_an_approval_is_refused_not_paused(ctx, tools, mode):
    call = ("escalate_ticket", {"ticket_id": "T-1", "note": "down"})
    agent = create_agent(
        scripted_model([call]), lc_tools(tools), middleware=[HesoMiddleware(mode=mode)]
    )
    if mode == "raise":
        with pytest.raises(heso.SuspendedError) as err:
            agent.invoke(START)
        assert err.value.rule_id == APPROVAL_RULE
    else:
        assert "heso: needs approval by rule" in tool_output(agent.invoke(START))
    assert tools.count("escalate_ticket") == 0
    assert _pending_hash(ctx) in ctx.pending()


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_parallel_calls_in_one_tool_node_are_each_captured_once(ctx, tools, asynchronous):
    calls = [
        ("lookup_order", {"order_id": "A-1"}),
        ("escalate_ticket", {"ticket_id": "T-1", "note": "down"}),
        ("launch_rocket", {"target": "moon"}),
    ]
    gate = ToolCallGate(mode="message")
    graph = tool_node_graph(
        scripted_model(calls),
        lc_tools(tools, asynchronous=asynchronous),
        checkpointer=InMemorySaver(),
        wrap_tool_call=gate.wrap_tool_call,
        awrap_tool_call=gate.awrap_tool_call,
    )
    config = _thread()
    invoke = graph.ainvoke if asynchronous else graph.invoke

    async def drive(value: Any) -> Any:
        result = invoke(value, config)
        return await result if asynchronous else result

    first = await drive(START)
    assert first["__interrupt__"]
    ctx.approve(_pending_hash(ctx))
    done = await drive(Command(resume="approve"))
    assert "__interrupt__" not in done
    ctx.assert_receipts(lookup_order=1, escalate_ticket=2, launch_rocket=1)  # L0 + L1
    assert tools.count("escalate_ticket") == 1
    assert tools.count("launch_rocket") == 0
    # LangGraph re-executes the whole node on resume: the allowed sibling's body runs again,
    # but it is not captured again.
    assert tools.count("lookup_order") == 2
    ctx.assert_chain_valid()


def test_a_node_rerun_after_its_call_fired_tells_the_model_it_already_ran(ctx, tools):
    calls = [
        ("escalate_ticket", {"ticket_id": "T-1", "note": "down"}),
        ("escalate_ticket", {"ticket_id": "T-2", "note": "down too"}),
    ]
    gate = ToolCallGate()  # raise mode: the re-run is still answered, not raised
    graph = tool_node_graph(
        scripted_model(calls),
        lc_tools(tools),
        checkpointer=InMemorySaver(),
        wrap_tool_call=gate.wrap_tool_call,
    )
    config = _thread()
    first = graph.invoke(START, config)
    assert first["__interrupt__"]  # a ToolNode surfaces one interrupt per step
    suspended = {
        r["content"]["action"]["fields"]["ticket_id"]: r["content"]["action_hash"]
        for r in ctx.receipts("escalate_ticket")
    }
    assert set(suspended) == {"T-1", "T-2"}
    for action_hash in suspended.values():
        ctx.approve(action_hash)
    again = graph.invoke(Command(resume="check"), config)  # one fires, the other pauses next
    (waiting,) = again["__interrupt__"]
    # ToolNode runs parallel calls in threads, so which one resumes first is not fixed.
    (fired,) = [t for t, h in suspended.items() if h != waiting.value["action_hash"]]
    assert waiting.value["action_hash"] in suspended.values()
    assert [c[1]["ticket_id"] for c in tools.calls] == [fired]

    done = graph.invoke(Command(resume="check"), config)  # the node runs again, T-1 included
    assert "__interrupt__" not in done
    assert tools.count("escalate_ticket") == 2  # each fired exactly once
    told = [m.content for m in done["messages"] if getattr(m, "type", "") == "tool"]
    other = "T-2" if fired == "T-1" else "T-1"
    assert f"escalated {other}" in told
    assert any("(it already ran once)" in str(t) for t in told), told
    for action_hash in suspended.values():
        found = reentry.lookup(action_hash)
        assert found is not None and found.status == "completed"
    ctx.assert_chain_valid()


def test_the_body_sees_its_action_hash(ctx):
    seen: list[str | None] = []

    def lookup_order(order_id: str) -> str:
        """Look up an order."""
        seen.append(heso.current_action_hash())
        return "ok"

    tool = StructuredTool.from_function(func=lookup_order)
    gate = ToolCallGate()
    graph = tool_node_graph(
        scripted_model([("lookup_order", {"order_id": "A-1"})]),
        [tool],
        wrap_tool_call=gate.wrap_tool_call,
    )
    graph.invoke(START)
    (receipt,) = ctx.receipts("lookup_order")
    assert seen == [receipt["content"]["action_hash"]]


# -- packaging -----------------------------------------------------------------------------


def test_heso_attributes_resolve_to_the_adapter():
    import heso_langchain.langgraph

    assert heso.HesoCallbackHandler is HesoCallbackHandler
    assert heso.langgraph is heso_langchain.langgraph
    assert heso.langgraph.wrap_tool_call is heso_langchain.langgraph.wrap_tool_call


def test_importing_the_adapter_imports_no_framework():
    code = (
        "import sys, heso_langchain; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('langchain', 'langchain_core', 'langgraph')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
