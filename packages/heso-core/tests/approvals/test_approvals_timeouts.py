"""SLA deadlines and on_timeout (deny, escalate, auto_approve), action expiry, drift."""

from __future__ import annotations

import pytest

import heso
from heso.errors import HesoConfigError
from heso.ledger import FileLedger

T0 = "2026-03-02T09:00:00Z"
T0_30M = "2026-03-02T09:30:00Z"
T0_90M = "2026-03-02T10:30:00Z"
T0_3H = "2026-03-02T12:00:00Z"


def _refund(calls, **options):
    @heso.gated(**options)
    def refund(order: str, amount: int) -> str:
        calls.append(order)
        return "done"

    return refund


def test_deny_at_the_deadline(approvals):
    calls: list[str] = []
    refund = _refund(calls, sla="1h", on_timeout="deny")
    assert refund("o-1", 1, _heso_session="s") is heso.SUSPENDED
    (row,) = approvals.pending()
    assert row["deadline"] == "2026-03-02T10:00:00Z" and row["on_timeout"] == "deny"
    assert approvals.pending() != []

    approvals.init(T0_90M)
    assert approvals.pending() == []  # every reader computes the timeout
    # An approver can no longer approve once the deadline passed.
    code, err = approvals.approve(row["action_hash"], "alice")
    assert code == 2 and "already expired" in err["message"]
    assert refund("o-1", 1, _heso_session="s") is heso.DENIED
    assert heso.decision("s") == "expired"
    assert calls == []
    timeout = approvals.lifecycle("s")[-1]
    assert (timeout["by"], timeout["decision"], timeout["at"]) == (
        "timeout",
        "expired",
        "2026-03-02T10:00:00Z",
    )
    # Recorded once, however often it is observed.
    refund("o-1", 1, _heso_session="s")
    heso.decision("s")
    assert approvals.kinds("s") == ["suspended", "expired/timeout"]


def test_escalate_hands_the_action_to_the_escalation_group(approvals):
    calls: list[str] = []
    refund = _refund(calls, sla="1h", on_timeout="escalate")
    refund("o-2", 2, _heso_session="s-esc")
    (row,) = approvals.pending()
    h = row["action_hash"]
    # Dave (managers) may not decide before the escalation.
    code, err = approvals.approve(h, "dave")
    assert code == 2 and "not a registered member" in err["message"]

    approvals.init(T0_90M)
    assert heso.decision("s-esc") == "escalated"
    (row,) = approvals.pending()
    assert [g["group"] for g in row["groups"]] == ["oncall", "managers"]
    assert row["deadline"] == "2026-03-02T11:00:00Z"
    assert approvals.approve(h, "dave")[0] == 0
    assert refund("o-2", 2, _heso_session="s-esc") == "done"
    assert approvals.kinds("s-esc") == [
        "suspended",
        "escalated/timeout",
        "approved/approver",
        "finalized",
        "fired",
        "completed",
    ]


def test_an_escalation_that_also_times_out_expires(approvals):
    refund = _refund([], sla="1h", on_timeout="escalate")
    refund("o-3", 3, _heso_session="s-esc2")
    approvals.init(T0_3H)
    assert refund("o-3", 3, _heso_session="s-esc2") is heso.DENIED
    assert approvals.kinds("s-esc2") == ["suspended", "escalated/timeout", "expired/timeout"]


def test_auto_approve_fires_with_the_l0_receipt(approvals):
    calls: list[str] = []
    refund = _refund(calls, sla="1h", on_timeout="auto_approve")
    refund("o-4", 4, _heso_session="s-auto")
    (row,) = approvals.pending()
    assert refund("o-4", 4, _heso_session="s-auto") is heso.SUSPENDED
    approvals.init(T0_90M)
    assert heso.decision("s-auto") == "approved"
    assert refund("o-4", 4, _heso_session="s-auto") == "done"
    fired = approvals.lifecycle("s-auto")[-2]
    assert (fired["kind"], fired["trust_level"], fired["approved_by"]) == ("fired", "L0", "timeout")
    receipt = FileLedger(approvals.project.data_dir).receipt(row["action_hash"])
    assert "multi_approval" not in receipt  # no human signed: no L1


def test_a_rule_sla_shortens_the_decorator_sla(approvals):
    @heso.gated(sla="1d")
    def page_someone(who: str) -> str:
        return "paged"

    page_someone("ops", _heso_session="s-page")
    (row,) = approvals.pending()
    assert row["deadline"] == "2026-03-02T09:10:00Z"  # sla_minutes = 10 in the rule


def test_expires_at_stops_even_an_approved_action(approvals):
    calls: list[str] = []
    refund = _refund(calls, expires_at="2026-03-02T09:20:00Z")
    refund("o-5", 5, _heso_session="s-exp")
    (row,) = approvals.pending()
    approvals.approve(row["action_hash"], "alice", clock="2026-03-02T09:10:00Z")
    approvals.init(T0_30M)
    assert refund("o-5", 5, _heso_session="s-exp") is heso.DENIED
    assert heso.decision("s-exp") == "expired"
    assert approvals.lifecycle("s-exp")[-1]["reason"] == (
        "the action expired at 2026-03-02T09:20:00Z"
    )
    assert calls == []


def test_decision_and_append_decision_take_an_explicit_time(approvals):
    refund = _refund([], sla="2h")
    refund("o-6", 6, _heso_session="s-t")
    assert heso.decision("s-t", now="2026-03-02T10:59:59Z") == "suspended"
    assert (
        heso.append_decision("s-t", "escalated", decided_at="2026-03-02T10:00:00Z") == "escalated"
    )
    record = approvals.lifecycle("s-t")[-1]
    assert record["deadline"] == "2026-03-02T12:00:00Z" and record["by"] == "operator"
    assert heso.decision("s-t", now="2026-03-02T12:00:00Z") == "expired"


def test_argument_drift_after_approval_does_not_fire(approvals):
    calls: list[str] = []
    refund = _refund(calls)
    refund("o-7", 100, _heso_session="s-drift")
    (row,) = approvals.pending()
    approvals.approve(row["action_hash"], "alice")
    assert refund("o-7", 100_000, _heso_session="s-drift") is heso.DENIED
    assert refund(order="o-8", amount=100, _heso_session="s-drift") is heso.DENIED
    assert calls == []
    drifts = [r for r in approvals.lifecycle("s-drift") if r["kind"] == "drift"]
    assert len(drifts) == 2 and drifts[0]["binding"] != drifts[1]["binding"]
    # The approval stands for exactly what was approved.
    assert refund(amount=100, order="o-7", _heso_session="s-drift") == "done"
    assert calls == ["o-7"]


def test_tool_version_drift_does_not_fire(approvals):
    calls: list[str] = []
    v1 = _refund(calls, tool_version="1.0")
    v2 = _refund(calls, tool_version="2.0")
    v1("o-9", 9, _heso_session="s-ver")
    (row,) = approvals.pending()
    approvals.approve(row["action_hash"], "alice")
    assert v2("o-9", 9, _heso_session="s-ver") is heso.DENIED
    assert v1("o-9", 9, _heso_session="s-ver") == "done"


@pytest.mark.parametrize(
    "options, match",
    [
        ({"sla": "soon"}, "sla must be a duration"),
        ({"sla": "0m"}, "sla must be positive"),
        ({"on_timeout": "retry"}, "on_timeout must be one of"),
        ({"expires_at": "tomorrow"}, "expires_at must be an RFC 3339"),
        ({"expires_at": "2026-03-02T09:00:00"}, "must carry a time zone"),
    ],
)
def test_bad_options_fail_at_decoration(options, match):
    with pytest.raises(HesoConfigError, match=match):
        heso.gated(**options)


def test_durations():
    from datetime import timedelta

    from heso.approvals.sla import describe_left, parse_duration, parse_time

    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("1w") == timedelta(days=7)
    assert parse_duration(timedelta(seconds=5)) == timedelta(seconds=5)
    t = parse_time(T0)
    assert describe_left(t + timedelta(hours=3, minutes=12), t) == "3h12m left"
    assert describe_left(t - timedelta(minutes=5), t) == "overdue by 5m"
