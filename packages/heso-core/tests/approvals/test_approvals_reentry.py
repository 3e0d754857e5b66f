"""Re-entry: a call made again finds its suspended action, fires it once after approval,
records ``fired``/``completed``, and is refused while pending or once denied."""

from __future__ import annotations

import threading

import pytest

import heso
from heso.approvals import reentry
from heso.approvals.admission import admit
from heso.errors import BlockedError, SuspendedError
from heso.ledger import FileLedger

from .test_approvals_forgery import _rotate_operator_key

LATER = "2026-03-02T09:05:00Z"
REFUND = {"order": "o-1", "amount": 10}


def refund_hash(approvals, fields=REFUND, **options) -> str:
    """Suspend ``refund(**fields)`` through the gate; its action_hash."""
    with pytest.raises(SuspendedError) as caught:
        admit("tool_call", "refund", fields, **options)
    assert caught.value.action_hash is not None
    return caught.value.action_hash


def receipts(approvals) -> list[dict]:
    return [
        r for r in approvals.project.receipts() if r["content"]["action"]["tool_name"] == "refund"
    ]


def test_an_approved_call_made_again_fires_once_with_its_l1_receipt(approvals):
    action_hash = refund_hash(approvals)
    session = f"action-{action_hash}"

    # Again before anyone decided: refused, and nothing new is minted.
    with pytest.raises(SuspendedError) as again:
        admit("tool_call", "refund", dict(REFUND))
    assert again.value.action_hash == action_hash and again.value.approvers == ["oncall"]
    assert "heso approve" in str(again.value) and len(receipts(approvals)) == 1

    approvals.approve(action_hash, "alice")
    ran: list[str | None] = []
    with admit("tool_call", "refund", dict(REFUND)) as admission:
        ran.append(heso.current_action_hash())
    assert ran == [action_hash] and admission.ticket is not None
    assert admission.ticket.trust_level == "L1"
    assert heso.current_action_hash() is None
    assert approvals.kinds(session) == [
        "suspended",
        "approved/approver",
        "finalized",
        "fired",
        "completed",
    ]
    fired, completed = approvals.lifecycle(session)[-2:]
    assert (fired["approved_by"], fired["trust_level"]) == ("approvers", "L1")
    assert completed["status"] == "ok"
    l1 = FileLedger(approvals.project.data_dir).receipt(action_hash)
    assert len(l1["signatures"]) == 2
    assert heso.decision(session) == "completed"

    # The approval is spent: the same call made again is a new action awaiting approval.
    approvals.init(clock=LATER)
    newer = refund_hash(approvals)
    assert newer != action_hash and ran == [action_hash]


def test_a_denial_is_delivered_once_then_the_call_is_new(approvals):
    action_hash = refund_hash(approvals)
    approvals.deny(action_hash, "alice", reason="not this order")
    with pytest.raises(BlockedError) as denied:
        admit("tool_call", "refund", dict(REFUND))
    assert denied.value.action_hash == action_hash
    assert denied.value.rule_id == "refunds-need-oncall"
    display = receipts(approvals)[0]["content"]["policy"]["rule_display"]
    assert denied.value.reason == f"{display} (approval denied by alice: not this order)"
    approvals.init(clock=LATER)
    assert refund_hash(approvals) != action_hash
    # The framework resuming the denied call (include_spent / a hint) is still told why.
    found = reentry.find("tool_call", "refund", REFUND, hint=action_hash)
    assert found is not None and found.status == "denied"
    assert isinstance(reentry.fire(found), BlockedError)


def test_other_arguments_or_context_are_another_action(approvals):
    action_hash = refund_hash(approvals)
    approvals.approve(action_hash, "alice")
    assert reentry.find("tool_call", "refund", {"order": "o-1", "amount": 11}) is None
    assert reentry.find("tool_call", "refund", {"order": "o-1"}) is None
    assert reentry.find("tool_call", "wire_transfer", REFUND) is None
    with heso.step(workflow="billing"):
        assert reentry.find("tool_call", "refund", REFUND) is None
    found = reentry.find("tool_call", "refund", REFUND)
    assert found is not None and found.action_hash == action_hash and found.status == "approved"
    assert found.refusal() is None


def test_a_call_the_policy_does_not_suspend_is_never_looked_up(approvals):
    with admit("tool_call", "lookup", {"order": "o-1"}) as admission:
        assert heso.current_action_hash() == admission.action_hash
    assert admission.ticket is None and admission.outcome is not None
    assert reentry.find("tool_call", "lookup", {"order": "o-1"}) is None
    with pytest.raises(BlockedError, match="never-nuke"):
        admit("tool_call", "nuke", {})


def test_a_redacted_field_matches_only_through_its_commitment(approvals):
    fields = {"order": "o-9", "amount": 99}
    action_hash = refund_hash(approvals, fields, redact_fields=["order"])
    (receipt,) = receipts(approvals)
    assert receipt["content"]["action"]["fields"]["order"]["heso_redacted"] == "commit"
    # No redaction spec is needed to recognise the call: the recorded salts re-commit it.
    found = reentry.find("tool_call", "refund", fields)
    assert found is not None and found.action_hash == action_hash
    assert reentry.find("tool_call", "refund", {"order": "o-8", "amount": 99}) is None


def test_a_destroyed_field_never_matches(approvals):
    fields = {"order": "o-7", "amount": 5}
    action_hash = refund_hash(approvals, fields, redact_fields={"order": "destroy"})
    approvals.approve(action_hash, "alice")
    assert reentry.find("tool_call", "refund", fields) is None
    assert reentry.find("tool_call", "refund", fields, hint=action_hash) is None


def test_hints_and_spent_sessions(approvals):
    action_hash = refund_hash(approvals)
    approvals.approve(action_hash, "alice")
    with reentry.approved_call(reentry.find("tool_call", "refund", REFUND)):
        pass
    # A call made anew passes over the spent session; a framework resuming it is refused.
    assert reentry.find("tool_call", "refund", REFUND) is None
    for found in (
        reentry.find("tool_call", "refund", REFUND, include_spent=True),
        reentry.find("tool_call", "refund", REFUND, hint=action_hash),
        reentry.find("tool_call", "refund", REFUND, hint=f"action-{action_hash}"),
        reentry.lookup(action_hash),
    ):
        assert found is not None and found.status == "completed"
        refused = reentry.fire(found)
        assert isinstance(refused, BlockedError) and "already ran once" in str(refused)
    assert reentry.lookup("f" * 64) is None


def test_a_gated_session_is_never_reentered(approvals):
    @heso.gated
    def refund(order: str, amount: int) -> str:
        return "done"

    assert refund("o-1", 10, _heso_session="s-gated") is heso.SUSPENDED
    (row,) = approvals.pending()
    approvals.approve(row["action_hash"], "alice")
    assert reentry.lookup("s-gated") is None
    assert reentry.lookup(row["action_hash"]) is None
    assert reentry.find("tool_call", "refund", REFUND, hint=row["action_hash"]) is None
    assert refund("o-1", 10, _heso_session="s-gated") == "done"


def test_a_failing_body_records_only_the_error_type(approvals):
    action_hash = refund_hash(approvals)
    approvals.approve(action_hash, "alice")
    found = reentry.find("tool_call", "refund", REFUND)
    with pytest.raises(RuntimeError), reentry.approved_call(found):
        raise RuntimeError("card 4111 1111 1111 1111 declined")
    completed = approvals.lifecycle(f"action-{action_hash}")[-1]
    assert completed == {
        "kind": "completed",
        "at": completed["at"],
        "action_hash": action_hash,
        "status": "error",
        "error": "RuntimeError",
    }
    found = reentry.lookup(action_hash)
    assert found is not None and found.status == "completed"


def test_a_ticket_completes_once(approvals):
    action_hash = refund_hash(approvals)
    approvals.approve(action_hash, "alice")
    ticket = reentry.fire(reentry.find("tool_call", "refund", REFUND))
    assert isinstance(ticket, reentry.FireTicket)
    with pytest.raises(ValueError, match="type name"):
        ticket.complete(False, error="card 4111 declined")  # a message, not a type name
    ticket.complete(False, error="Timeout")
    ticket.complete()
    kinds = approvals.kinds(f"action-{action_hash}")
    assert kinds[-2:] == ["fired", "completed"]
    assert approvals.lifecycle(f"action-{action_hash}")[-1]["error"] == "Timeout"


def test_threads_racing_to_fire_get_one_ticket(approvals):
    action_hash = refund_hash(approvals)
    approvals.approve(action_hash, "alice")
    found = reentry.find("tool_call", "refund", REFUND)
    assert found is not None
    barrier = threading.Barrier(8)
    results: list[object] = []

    def race() -> None:
        barrier.wait(timeout=30)
        results.append(reentry.fire(found))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    tickets = [r for r in results if isinstance(r, reentry.FireTicket)]
    assert len(results) == 8 and len(tickets) == 1
    assert all(isinstance(r, BlockedError) for r in results if r is not tickets[0])
    assert approvals.kinds(f"action-{action_hash}").count("fired") == 1


def test_a_rotated_operator_key_asks_again(approvals):
    action_hash = refund_hash(approvals)
    approvals.approve(action_hash, "alice")
    _rotate_operator_key(approvals)
    found = reentry.find("tool_call", "refund", REFUND)
    assert found is not None
    refused = reentry.fire(found)
    assert isinstance(refused, SuspendedError) and refused.action_hash != action_hash
    new_hash = refused.action_hash
    approvals.approve(new_hash, "alice")
    with admit("tool_call", "refund", dict(REFUND)) as admission:
        assert heso.current_action_hash() == new_hash
    assert admission.ticket is not None and admission.ticket.action_hash == new_hash


def test_observe_only_gates_anew_and_runs(approvals):
    approvals.init(blocking=False)
    with admit("tool_call", "refund", dict(REFUND)) as admission:
        pass
    assert admission.outcome is not None and admission.outcome.kind == "suspended"
    assert admission.ticket is None
