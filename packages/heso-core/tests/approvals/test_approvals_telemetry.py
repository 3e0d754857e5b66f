"""A suspended action's later events (decision, firing, completion) are spans linked to the span
that suspended it, through the ``traceparent`` signed into the lifecycle's ``suspended`` record,
across processes and restarts."""

from __future__ import annotations

import pytest

import heso
from heso.approvals.admission import admit
from heso.approvals.decisions import signer_of
from heso.errors import SuspendedError
from heso.keys import PublicKey

REFUND = {"order": "o-1", "amount": 10}
T0_90M = "2026-03-02T10:30:00Z"


def _suspend() -> str:
    with pytest.raises(SuspendedError) as caught:
        admit("tool_call", "refund", dict(REFUND))
    assert caught.value.action_hash is not None
    return caught.value.action_hash


def _traceparent(span) -> str:
    ctx = span.get_span_context()
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def _linked_to(span, suspension) -> bool:
    return [(link.context.trace_id, link.context.span_id) for link in span.links] == [
        (suspension.context.trace_id, suspension.context.span_id)
    ] and dict(span.links[0].attributes) == {"heso.link.kind": "suspended"}


def test_approval_firing_and_completion_link_to_the_suspension(approvals, otel_traces):
    approvals.init(telemetry=otel_traces.provider)
    action_hash = _suspend()
    session = f"action-{action_hash}"
    (suspension,) = otel_traces.spans()
    assert suspension.attributes["heso.outcome"] == "suspended"

    # The suspension's span context is signed into the lifecycle, and the record verifies.
    opening = approvals.lifecycle(session)[0]
    assert opening["traceparent"] == _traceparent(suspension)
    from heso.approvals.file_store import FileApprovalStore as Store

    (first, *_) = Store(approvals.project.data_dir).lines(session)
    key_id, key = signer_of(first.part)
    operator = PublicKey.from_str(opening["receipt"]["content"]["agent_identity"])
    assert (key_id, key) == ("operator", operator)

    # The agent process restarts (a new provider, a new trace); alice approves from her CLI.
    heso.shutdown()
    otel_traces.clear()
    approvals.init(telemetry=otel_traces.provider)
    assert approvals.approve(action_hash, "alice")[0] == 0
    tracer = otel_traces.provider.get_tracer("the-agent")
    with tracer.start_as_current_span("resume") as parent:
        with admit("tool_call", "refund", dict(REFUND)):
            pass
    fired, completed = (s for s in otel_traces.spans() if s.name != "resume")
    assert fired.name == "execute_tool refund" and completed.name == "heso.approval.completed"
    for span in (fired, completed):
        assert _linked_to(span, suspension)
        assert span.parent.span_id == parent.get_span_context().span_id
        assert span.attributes["heso.action_hash"] == action_hash
        assert span.attributes["heso.approval.session"] == session
    assert fired.attributes["heso.outcome"] == "approved"
    assert fired.attributes["heso.trust_level"] == "L1"
    assert fired.attributes["heso.approval.approved_by"] == "approvers"
    assert fired.attributes["heso.approval.approvers"] == ("alice",)
    fired_record = approvals.lifecycle(session)[-2]
    assert fired.attributes["heso.chain.seq"] == fired_record["chain"]["seq"]
    assert completed.attributes["heso.approval.status"] == "ok"
    assert completed.status.status_code.name == "UNSET"


def test_operator_decisions_timeouts_and_a_failed_body_are_spans(approvals, otel_traces):
    approvals.init(telemetry=otel_traces.provider)

    @heso.gated(sla="1h", on_timeout="escalate")
    def refund(order: str, amount: int) -> str:
        raise ValueError("card declined for o-9")

    assert refund("o-9", 9, _heso_session="s-op") is heso.SUSPENDED
    (suspension,) = otel_traces.spans()
    # A @heso.gated call names its own session.
    assert suspension.attributes["heso.approval.session"] == "s-op"
    assert approvals.lifecycle("s-op")[0]["traceparent"] == _traceparent(suspension)

    approvals.init(T0_90M, telemetry=otel_traces.provider)
    assert heso.decision("s-op") == "escalated"
    heso.append_decision("s-op", "approved", reason="checked by phone")
    with pytest.raises(ValueError):
        refund("o-9", 9, _heso_session="s-op")
    names = [s.name for s in otel_traces.spans()]
    assert names == [
        "execute_tool refund",
        "heso.approval.decision",
        "heso.approval.decision",
        "execute_tool refund",
        "heso.approval.completed",
    ]
    _, timeout, operator, fired, completed = otel_traces.spans()

    def decided(span):
        return span.attributes["heso.approval.decision"], span.attributes["heso.approval.by"]

    assert decided(timeout) == ("escalated", "timeout")
    assert decided(operator) == ("approved", "operator")
    assert "checked by phone" not in str(dict(operator.attributes))
    assert fired.attributes["heso.trust_level"] == "L0"
    assert fired.attributes["heso.approval.approved_by"] == "operator"
    assert completed.attributes["heso.approval.status"] == "error"
    assert completed.attributes["error.type"] == "ValueError"
    assert completed.status.status_code.name == "ERROR"
    assert "card declined" not in str(completed.attributes) + str(completed.status.description)
    for span in (timeout, operator, fired, completed):
        assert _linked_to(span, suspension)


def test_untraced_suspensions_record_no_traceparent(approvals, otel_traces):
    action_hash = _suspend()
    assert "traceparent" not in approvals.lifecycle(f"action-{action_hash}")[0]
    # Traced later, its events still carry heso.* attributes, with no link to follow.
    approvals.init(telemetry=otel_traces.provider)
    assert approvals.approve(action_hash, "alice")[0] == 0
    with admit("tool_call", "refund", dict(REFUND)):
        pass
    fired, completed = otel_traces.spans()
    assert list(fired.links) == [] and list(completed.links) == []
    assert fired.attributes["heso.action_hash"] == action_hash


def test_a_forged_opening_line_changes_no_span(approvals, otel_traces):
    """A local writer appends an unsigned ``suspended`` record pointing at a trace of its own
    choosing: the later spans still link to the real suspension, with its rule."""
    from heso import config
    from heso.approvals.file_store import FileApprovalStore as Store

    approvals.init(telemetry=otel_traces.provider)
    action_hash = _suspend()
    session = f"action-{action_hash}"
    (suspension,) = otel_traces.spans()
    store = Store(approvals.project.data_dir)
    real = approvals.lifecycle(session)[0]
    forged = dict(real, traceparent=f"00-{'ab' * 16}-{'cd' * 8}-01", rule_id="forged")
    identity = config.current().identity
    part = {
        "record": forged,
        "signer": {"key_id": "operator", "public_key": identity, "signature": "00" * 64},
    }
    with store.locked(session):
        store.append(session, part)
    assert approvals.approve(action_hash, "alice")[0] == 0
    with admit("tool_call", "refund", dict(REFUND)):
        pass
    later = otel_traces.spans()[1:]
    assert [s.name for s in later] == ["execute_tool refund", "heso.approval.completed"]
    for span in later:
        assert _linked_to(span, suspension)
        assert span.attributes["heso.rule_id"] == "refunds-need-oncall"
