"""The whole lifecycle through @heso.gated and the CLI: park, approve or deny, quorum, fire."""

from __future__ import annotations

import asyncio

import pytest

import heso
from heso import verdict as v
from heso.errors import ApprovalError, VerificationError
from heso.ledger import FileLedger
from heso.receipt import verify_receipt


def _gated_refund(calls: list[dict], **options):
    @heso.gated(**options)
    def refund(order: str, amount: int) -> str:
        calls.append({"order": order, "amount": amount, "hash": heso.current_action_hash()})
        return f"refunded {amount} on {order}"

    return refund


def _gated_wire(calls: list[dict], **options):
    @heso.gated(**options)
    def wire_transfer(to: str, amount: int, memo: str = "") -> str:
        calls.append({"to": to, "amount": amount})
        return f"sent {amount} to {to}"

    return wire_transfer


def _verify(ctx, receipt):
    registry = ctx.registry()
    return verify_receipt(
        receipt, approver_keys=registry.approver_keys(), approver_groups=registry.groups
    )


def test_approve_then_resume_fires_once_with_an_l1_receipt(approvals):
    calls: list[dict] = []
    refund = _gated_refund(calls)

    assert refund("o-1", 30, _heso_session="s-approve") is heso.SUSPENDED
    assert calls == []
    assert heso.decision("s-approve") == "suspended"
    (row,) = approvals.pending()
    assert (row["tool_name"], row["rule_id"], row["status"]) == (
        "refund",
        "refunds-need-oncall",
        "suspended",
    )
    assert row["groups"] == [
        {"group": "oncall", "approvals": 0, "threshold": 1, "defined": True, "members": ["alice"]}
    ]
    assert row["sla_left_seconds"] == 24 * 3600
    h = row["action_hash"]

    code, out = approvals.approve(h, "alice", reason="customer verified")
    assert code == 0 and out["status"] == "approved" and out["approvals"] == 1
    assert heso.decision("s-approve") == "approved"
    assert approvals.pending() == []

    assert refund("o-1", 30, _heso_session="s-approve") == "refunded 30 on o-1"
    assert calls == [{"order": "o-1", "amount": 30, "hash": h}]
    assert heso.decision("s-approve") == "completed"
    # Already fired: never again, whoever calls.
    assert refund("o-1", 30, _heso_session="s-approve") is heso.SUSPENDED
    assert len(calls) == 1

    l1 = FileLedger(approvals.project.data_dir).receipt(h)
    assert l1["multi_approval"] == {"group": "oncall", "threshold": 1}
    assert [s["key_id"] for s in l1["signatures"]] == ["operator", "approver:alice"]
    assert str(_verify(approvals, l1)) == "Valid (L1)"
    # The suspended L0 receipt is still in the chain; the L1 one supersedes it.
    same = [r for r in approvals.project.receipts() if r["content"]["action_hash"] == h]
    assert [len(r["signatures"]) for r in same] == [1, 2]
    assert approvals.kinds("s-approve") == [
        "suspended",
        "approved/approver",
        "finalized",
        "fired",
        "completed",
    ]
    finalized = approvals.lifecycle("s-approve")[2]
    assert finalized["approvers"] == ["alice"]
    assert finalized["chain"]["seq"] == len(approvals.project.receipts()) - 1

    code, verdict = approvals.cli("verify", h[:16])
    assert code == 0 and verdict["summary"] == "Valid (L1)"
    code, verdict = approvals.cli("verify", "--chain")
    assert code == 0 and verdict["l1_receipts"] == 1


def test_deny_is_terminal(approvals):
    calls: list[dict] = []
    refund = _gated_refund(calls)
    assert refund("o-2", 99, _heso_session="s-deny") is heso.SUSPENDED
    (row,) = approvals.pending()
    code, out = approvals.deny(row["action_hash"], "alice", reason="looks like fraud")
    assert code == 0 and out["status"] == "denied"
    assert refund("o-2", 99, _heso_session="s-deny") is heso.DENIED
    assert heso.decision("s-deny") == "denied"
    assert calls == [] and approvals.pending() == []
    code, err = approvals.approve(row["action_hash"], "alice")
    assert code == 2 and "already denied" in err["message"]
    show = approvals.show(row["action_hash"])
    assert show["decided"]["reason"] == "looks like fraud"
    # No L1 receipt was minted for a denied action.
    assert all(len(r["signatures"]) == 1 for r in approvals.project.receipts())


def test_quorum_met_fires_with_every_cosignature(approvals):
    calls: list[dict] = []
    wire = _gated_wire(calls)
    assert wire("ACME", 50_000, _heso_session="s-q") is heso.SUSPENDED
    (row,) = approvals.pending()
    h = row["action_hash"]
    assert row["groups"][0]["threshold"] == 2

    code, out = approvals.approve(h, "alice")
    assert code == 0 and out["approvals"] == 1 and out["status"] == "suspended"
    assert wire("ACME", 50_000, _heso_session="s-q") is heso.SUSPENDED
    code, out = approvals.approve(h, "carol")
    assert code == 0 and out["status"] == "approved"

    assert wire("ACME", 50_000, _heso_session="s-q") == "sent 50000 to ACME"
    assert len(calls) == 1
    l1 = FileLedger(approvals.project.data_dir).receipt(h)
    assert l1["multi_approval"] == {"group": "finance", "threshold": 2}
    assert sorted(s["key_id"] for s in l1["signatures"]) == [
        "approver:alice",
        "approver:carol",
        "operator",
    ]
    assert str(_verify(approvals, l1)) == "Valid (L1)"
    # Dropping one co-signature breaks the quorum.
    l1["signatures"] = [s for s in l1["signatures"] if s["key_id"] != "approver:carol"]
    assert _verify(approvals, l1).code == v.QUORUM_NOT_MET


def test_quorum_not_met_never_fires_or_finalizes(approvals):
    calls: list[dict] = []
    wire = _gated_wire(calls)
    assert wire("ACME", 7, _heso_session="s-nq") is heso.SUSPENDED
    (row,) = approvals.pending()
    h = row["action_hash"]
    assert approvals.approve(h, "alice")[0] == 0
    code, err = approvals.approve(h, "alice")
    assert code == 2 and "already approved" in err["message"]
    assert wire("ACME", 7, _heso_session="s-nq") is heso.SUSPENDED
    assert heso.resume("s-nq") == "suspended"
    assert calls == []

    show = approvals.show(h)
    assert show["groups"][0]["approvals"] == 1
    with pytest.raises(VerificationError) as err:
        heso.finalize_quorum(h, show["suspended_content"], show["relayed_parts"])
    assert err.value.verdict.code == v.QUORUM_NOT_MET
    with pytest.raises(ApprovalError, match="finalize_quorum"):
        heso.finalize_l1(h, show["suspended_content"], show["relayed_parts"])
    assert all(len(r["signatures"]) == 1 for r in approvals.project.receipts())


def test_finalize_quorum_from_relayed_parts(approvals):
    wire = _gated_wire([])
    wire("Initech", 12, _heso_session="s-relay")
    (row,) = approvals.pending()
    h = row["action_hash"]
    approvals.approve(h, "bob")
    approvals.approve(h, "carol")
    show = approvals.show(h)
    assert len(show["relayed_parts"]) == 2
    l1 = heso.finalize_quorum(h, show["suspended_content"], show["relayed_parts"])
    assert str(_verify(approvals, l1)) == "Valid (L1)"
    # Idempotent: finalizing again returns the same L1 receipt, appends nothing.
    before = len(approvals.project.receipts())
    assert heso.finalize_quorum(h, show["suspended_content"], show["relayed_parts"]) == l1
    assert len(approvals.project.receipts()) == before


def test_finalize_refuses_a_denied_leg(approvals):
    refund = _gated_refund([])
    refund("o-9", 1, _heso_session="s-leg")
    (row,) = approvals.pending()
    h = row["action_hash"]
    approvals.deny(h, "alice")
    record = approvals.lifecycle("s-leg")[-1]
    assert record["decision"] == "denied"
    from heso.approvals.file_store import FileApprovalStore

    part = FileApprovalStore(approvals.project.data_dir).lines("s-leg")[-1].part
    with pytest.raises(ApprovalError, match="every leg must be 'approved'"):
        heso.finalize_l1(h, approvals.show(h)["suspended_content"], [part])


def test_policy_may_block_a_gated_call_but_never_allow_it_alone(approvals):
    ran: list[str] = []

    @heso.gated
    def ping(host: str) -> str:
        ran.append(host)
        return "pong"

    @heso.gated()
    def nuke(target: str) -> str:
        ran.append(target)
        return "boom"

    # The policy allows ping; @heso.gated still waits for a person.
    assert ping("db", _heso_session="s-ping") is heso.SUSPENDED
    assert heso.decision("s-ping") == "suspended"
    assert approvals.pending()[0]["rule_id"] == "heso:floor:gated"
    assert ping("cache") is heso.SUSPENDED  # a fresh (generated) session
    assert nuke("prod", _heso_session="s-nuke") is heso.DENIED
    assert heso.decision("s-nuke") == "denied"
    assert ran == []
    assert heso.decision("never-seen") is None


def test_raise_on_suspend_raises_paused_with_the_generated_session(approvals):
    calls: list[dict] = []
    refund = _gated_refund(calls, raise_on_suspend=True)
    with pytest.raises(heso.Paused) as paused:
        refund("o-3", 5)
    exc = paused.value
    assert isinstance(exc, heso.SuspendedError)
    assert exc.session.startswith("sess_") and exc.approvers == ["oncall"]
    assert exc.deadline == "2026-03-03T09:00:00Z"
    assert f"heso approve {exc.action_hash[:12]}" in str(exc)
    approvals.approve(exc.action_hash, "alice")
    assert refund("o-3", 5, _heso_session=exc.session) == "refunded 5 on o-3"


def test_async_functions_are_gated_too(approvals):
    calls: list[dict] = []

    @heso.gated
    async def refund(order: str, amount: int) -> str:
        await asyncio.sleep(0)
        calls.append({"order": order, "hash": heso.current_action_hash()})
        return "ok"

    assert asyncio.run(refund("o-4", 1, _heso_session="s-async")) is heso.SUSPENDED
    (row,) = approvals.pending()
    approvals.approve(row["action_hash"], "alice")
    assert asyncio.run(refund("o-4", 1, _heso_session="s-async")) == "ok"
    assert calls == [{"order": "o-4", "hash": row["action_hash"]}]


def test_a_body_that_raises_is_recorded_and_not_retried(approvals):
    @heso.gated
    def refund(order: str) -> None:
        raise RuntimeError("bank down")

    refund("o-5", _heso_session="s-err")
    (row,) = approvals.pending()
    approvals.approve(row["action_hash"], "alice")
    with pytest.raises(RuntimeError, match="bank down"):
        refund("o-5", _heso_session="s-err")
    assert refund("o-5", _heso_session="s-err") is heso.SUSPENDED
    completed = approvals.lifecycle("s-err")[-1]
    assert (completed["kind"], completed["status"], completed["error"]) == (
        "completed",
        "error",
        "RuntimeError",
    )


def test_suspended_error_surfaces_open_the_same_pending_approval(approvals):
    @heso.tool
    def refund(order: str, amount: int) -> str:
        return "never"

    with pytest.raises(heso.SuspendedError) as err:
        refund("o-6", 12)
    h = err.value.action_hash
    (row,) = approvals.pending()
    assert row["action_hash"] == h and row["session"] == f"action-{h}"
    assert approvals.approve(h, "alice")[0] == 0
    assert heso.decision(f"action-{h}") == "approved"
    assert heso.resume(f"action-{h}") == "approved"
    # Its L1 receipt is chained when it fires; the operator may finalize it before that.
    assert (
        str(_verify(approvals, FileLedger(approvals.project.data_dir).receipt(h))) == "Valid (L0)"
    )
    shown = approvals.show(h)
    l1 = heso.finalize_l1(h, shown["suspended_content"], shown["relayed_parts"])
    assert str(_verify(approvals, l1)) == "Valid (L1)"
    assert FileLedger(approvals.project.data_dir).receipt(h) == l1


def test_identical_suspensions_from_a_pinned_clock_share_one_pending_approval(approvals):
    @heso.tool
    def refund(order: str) -> None: ...

    for _ in range(2):
        with pytest.raises(heso.SuspendedError):
            refund("o-7")
    assert len(approvals.pending()) == 1


def test_operator_decisions_via_append_decision(approvals):
    calls: list[dict] = []
    refund = _gated_refund(calls)
    refund("o-8", 1, _heso_session="s-op")
    assert (
        heso.append_decision("s-op", "approved", reason="approved in the ticket system")
        == "approved"
    )
    assert refund("o-8", 1, _heso_session="s-op") == "refunded 1 on o-8"
    fired = approvals.lifecycle("s-op")[-2]
    assert (fired["kind"], fired["trust_level"], fired["approved_by"]) == (
        "fired",
        "L0",
        "operator",
    )

    refund("o-9", 2, _heso_session="s-op2")
    assert heso.append_decision("s-op2", "denied") == "denied"
    with pytest.raises(ApprovalError, match="already denied"):
        heso.append_decision("s-op2", "approved")
    with pytest.raises(ApprovalError, match="a decision is one of"):
        heso.append_decision("s-op2", "maybe")
    assert refund("o-9", 2, _heso_session="s-op2") is heso.DENIED


def test_gated_on_top_of_tool_gates_once_with_the_tools_name(approvals):
    calls: list[str] = []

    @heso.gated
    @heso.tool(name="refund")
    def do_refund(order: str) -> str:
        calls.append(order)
        return "ok"

    assert do_refund("o-10", _heso_session="s-stack") is heso.SUSPENDED
    (row,) = approvals.pending()
    assert row["tool_name"] == "refund"
    approvals.approve(row["action_hash"], "alice")
    assert do_refund("o-10", _heso_session="s-stack") == "ok"
    assert calls == ["o-10"]
    assert len(approvals.project.receipts()) == 2  # the suspension and its L1, nothing else


def test_observe_only_runs_the_body_once_and_records_why(approvals):
    approvals.init(blocking=False)
    calls: list[dict] = []
    refund = _gated_refund(calls)
    assert refund("o-11", 3, _heso_session="s-observe") == "refunded 3 on o-11"
    assert refund("o-11", 3, _heso_session="s-observe") is heso.SUSPENDED
    assert len(calls) == 1 and approvals.pending() == []
    opening, fired = approvals.lifecycle("s-observe")[:2]
    assert (opening["kind"], opening["observe_only"]) == ("suspended", True)
    assert (fired["kind"], fired["approved_by"]) == ("fired", "observe-only")


def test_a_gated_call_cannot_hijack_another_surfaces_session(approvals):
    @heso.tool
    def refund(order: str, amount: int) -> str:
        return "never"

    with pytest.raises(heso.SuspendedError) as err:
        refund("o-12", 1)
    session = f"action-{err.value.action_hash}"
    approvals.approve(err.value.action_hash, "alice")
    calls: list[dict] = []
    other = _gated_refund(calls)
    with pytest.raises(ApprovalError, match=r"not opened by a @heso\.gated call"):
        other("o-12", 1_000_000, _heso_session=session)
    assert calls == []
