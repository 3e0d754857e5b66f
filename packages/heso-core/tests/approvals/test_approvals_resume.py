""" "Call again to resume": a suspended call made again after approval fires once, with the
action's L1 receipt, through every surface that gates through the core; and ``@heso.gated``
never runs without a human decision."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

import heso
from heso.capture import gate
from heso.errors import BlockedError, SuspendedError
from heso.ledger import FileLedger

from .conftest import POLICY as BASE_POLICY

LATER = "2026-03-02T09:05:00Z"

# The approvals fixture's policy, with default approvers (for floors) and payments parked.
POLICY = BASE_POLICY.replace(
    'default = "allow"\n', 'default = "allow"\ndefault_approvers = ["oncall"]\n', 1
) + textwrap.dedent(
    """
    [[rule]]
    id = "payments-need-oncall"
    verb = "payment"
    decision = "require_approval"
    approvers = ["oncall"]
    """
)


@pytest.fixture
def project(approvals):
    approvals.project.write_policy(textwrap.dedent(POLICY.format(**approvals.keys)))
    approvals.init()
    return approvals


def _tool(ran: list[str | None]) -> Callable[..., Any]:
    @heso.tool
    def refund(order: str, amount: int = 10) -> str:
        ran.append(heso.current_action_hash())
        return f"refunded {order}"

    return refund


def _destructive(ran: list[str | None]) -> Callable[..., Any]:
    @heso.destructive
    def drop_table(order: str, amount: int = 10) -> str:
        ran.append(heso.current_action_hash())
        return f"refunded {order}"

    return drop_table


def _action(ran: list[str | None]) -> Callable[..., Any]:
    @heso.action("payment.refund_payment")
    def pay_back(order: str, amount: int = 10) -> str:
        ran.append(heso.current_action_hash())
        return f"refunded {order}"

    return pay_back


def _async_tool(ran: list[str | None]) -> Callable[..., Any]:
    import asyncio

    @heso.tool(name="refund")
    async def refund(order: str, amount: int = 10) -> str:
        await asyncio.sleep(0)
        ran.append(heso.current_action_hash())
        return f"refunded {order}"

    return lambda *a, **k: asyncio.run(refund(*a, **k))


def _block(ran: list[str | None]) -> Callable[..., Any]:
    def refund(order: str, amount: int = 10) -> str:
        with gate("tool_call", "refund", {"order": order, "amount": amount}):
            ran.append(heso.current_action_hash())
            return f"refunded {order}"

    return refund


SURFACES = {
    "tool": _tool,
    "destructive": _destructive,
    "action": _action,
    "async-tool": _async_tool,
    "with gate": _block,
}


@pytest.mark.parametrize("surface", list(SURFACES))
def test_the_same_call_made_again_after_approval_fires_once(project, surface):
    ran: list[str | None] = []
    call = SURFACES[surface](ran)
    with pytest.raises(SuspendedError) as parked:
        call("o-1")
    h = parked.value.action_hash
    assert h is not None and "call again" in str(parked.value)
    # Again while undecided: the same suspension, nothing new minted.
    before = len(project.project.receipts())
    with pytest.raises(SuspendedError) as again:
        call("o-1")
    assert again.value.action_hash == h and len(project.project.receipts()) == before

    assert project.approve(h, "alice")[0] == 0
    assert call("o-1") == "refunded o-1"
    assert ran == [h]
    l1 = FileLedger(project.project.data_dir).receipt(h)
    assert len(l1["signatures"]) == 2 and l1["multi_approval"]["group"] == "oncall"
    assert project.kinds(f"action-{h}")[-2:] == ["fired", "completed"]

    # A later identical call is a new action.
    project.init(clock=LATER)
    with pytest.raises(SuspendedError) as newer:
        call("o-1")
    assert newer.value.action_hash not in (None, h) and ran == [h]


def test_other_arguments_are_another_action(project):
    ran: list[str | None] = []
    refund = _tool(ran)
    with pytest.raises(SuspendedError) as parked:
        refund("o-2")
    project.approve(parked.value.action_hash, "alice")
    with pytest.raises(SuspendedError) as other:
        refund("o-2", amount=11)
    assert other.value.action_hash != parked.value.action_hash and ran == []
    assert refund("o-2", amount=10) == "refunded o-2"  # the default, applied, is the same call


def test_a_denial_is_delivered_once_then_the_call_is_new(project):
    ran: list[str | None] = []
    refund = _tool(ran)
    with pytest.raises(SuspendedError) as parked:
        refund("o-3")
    project.deny(parked.value.action_hash, "alice", reason="wrong order")
    with pytest.raises(BlockedError, match="denied by alice"):
        refund("o-3")
    project.init(clock=LATER)
    with pytest.raises(SuspendedError) as newer:
        refund("o-3")
    assert newer.value.action_hash != parked.value.action_hash and ran == []


def test_process_hands_the_firing_to_the_caller(project):
    action = heso.Action(verb=heso.Verb.TOOL_CALL, tool_name="refund", fields={"order": "o-4"})
    with pytest.raises(SuspendedError) as parked:
        heso.process(action)
    project.approve(parked.value.action_hash, "alice")
    outcome = heso.process(action)
    assert outcome.runs and outcome.kind is heso.OutcomeKind.APPROVED
    assert outcome.action_hash == parked.value.action_hash
    assert outcome.ticket is not None and outcome.ticket.trust_level == "L1"
    outcome.ticket.complete()
    assert project.kinds(f"action-{outcome.action_hash}")[-1] == "completed"


def test_another_process_resumes_the_call(project):
    ran: list[str | None] = []
    refund = _tool(ran)
    with pytest.raises(SuspendedError) as parked:
        refund("o-5")
    h = parked.value.action_hash
    project.approve(h, "alice")
    heso.shutdown()
    script = textwrap.dedent(
        f"""
        import heso
        heso.init(project_root={str(project.root)!r})

        @heso.tool
        def refund(order: str, amount: int = 10) -> str:
            return "ran " + str(heso.current_action_hash())

        print(refund("o-5"))
        try:
            refund("o-5")
        except heso.SuspendedError as exc:
            print("again:", exc.action_hash)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "HESO_CLOCK"}  # a real, moving clock
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first == f"ran {h}"
    assert second.startswith("again: ") and second != f"again: {h}"
    project.init()
    assert heso.decision(f"action-{h}") == "completed"


def test_an_allowed_call_never_looks_for_approvals(project, monkeypatch):
    from heso.approvals import pending

    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an allowed call consulted the approvals store")

    monkeypatch.setattr(pending, "reenter", boom)

    @heso.tool
    def lookup(order: str) -> str:
        return order

    assert lookup("o-6") == "o-6"
    with pytest.raises(BlockedError):
        heso.process(heso.Action(verb=heso.Verb.TOOL_CALL, tool_name="nuke", fields={}))


# -- @heso.gated: a human decides, always --------------------------------------------------------


def test_gated_parks_even_what_policy_allows(project):
    ran: list[str] = []

    @heso.gated
    def ping(host: str) -> str:
        ran.append(host)
        return "pong"

    assert ping("db", _heso_session="s-ping") is heso.SUSPENDED
    assert ran == []
    (row,) = project.pending()
    assert row["rule_id"] == "heso:floor:gated"
    assert [g["group"] for g in row["groups"]] == ["oncall"]  # [policy] default_approvers
    receipt = FileLedger(project.project.data_dir).receipt(row["action_hash"])
    assert receipt["content"]["policy"]["decision"] == "require_approval"
    assert "floor:gated=require_approval" in receipt["content"]["policy"]["decision_path"]
    project.approve(row["action_hash"], "alice")
    assert ping("db", _heso_session="s-ping") == "pong"
    assert ping("db", _heso_session="s-ping") is heso.SUSPENDED  # a session fires once
    assert ran == ["db"]


def test_gated_policy_may_block_or_choose_approvers_and_sla(project):
    @heso.gated
    def nuke(target: str) -> str:
        raise AssertionError("never runs")

    assert nuke("prod", _heso_session="s-nuke") is heso.DENIED
    assert heso.decision("s-nuke") == "denied"

    @heso.gated(sla="1d")
    def refund(order: str) -> str:
        return "done"

    refund("o-7", _heso_session="s-rule")
    (row,) = project.pending()
    assert row["rule_id"] == "refunds-need-oncall"


def test_gated_in_observe_only_mode_runs_and_records_the_floor(project):
    project.init(blocking=False)
    ran: list[str] = []

    @heso.gated
    def ping(host: str) -> str:
        ran.append(host)
        return "pong"

    assert ping("db", _heso_session="s-observe") == "pong"
    assert ran == ["db"]
    (receipt,) = [
        r for r in project.project.receipts() if r["content"]["action"]["tool_name"] == "ping"
    ]
    assert receipt["content"]["policy"]["decision"] == "require_approval"


# -- the reference's suspend/resume snippets, as written ------------------------------------------


def test_the_reference_snippets_run_as_written(heso_project, monkeypatch):
    """``Suspend / resume`` in the Python SDK reference, with a stub ``bank``."""
    monkeypatch.chdir(heso_project.root)
    wires: list[tuple[str, int]] = []

    class bank:
        @staticmethod
        def wire(payee: str, amount_usd: int) -> str:
            wires.append((payee, amount_usd))
            return "wired"

    namespace: dict[str, Any] = {"bank": bank}
    exec(
        textwrap.dedent(
            """
            import heso
            heso.init()
            @heso.gated
            def wire_funds(payee: str, amount_usd: int) -> str:
                # Runs ONLY after an approver approves. First call parks and
                # returns heso.SUSPENDED; a later call with the same session resumes.
                return bank.wire(payee, amount_usd)
            out = wire_funds("Globex LLC", 50_000, _heso_session="payout-7")
            if out is heso.SUSPENDED:
                ... # waiting on a human; call again later with the same session
            """
        ),
        namespace,
    )
    assert namespace["out"] is heso.SUSPENDED and wires == []
    assert heso.decision("payout-7") == "suspended"

    exec(
        textwrap.dedent(
            """
            import heso
            heso.init()
            # Record an approver decision out of band...
            heso.append_decision("payout-7", "approved", reason="cfo ok")
            # ...then advance the lifecycle. Re-call the @gated fn with the same
            # session to actually run the body; bare resume() only drives the engine.
            outcome = heso.resume("payout-7")
            """
        ),
        namespace,
    )
    outcome = namespace["outcome"]
    assert isinstance(outcome, heso.ResumeOutcome)
    assert outcome.decision == "approved" and not outcome.fired and wires == []
    assert namespace["wire_funds"]("Globex LLC", 50_000, _heso_session="payout-7") == "wired"
    assert wires == [("Globex LLC", 50_000)]
    replay = heso.resume("payout-7")
    assert replay.decision == "completed" and replay.fired and replay.trust_level == "L0"
    assert replay.receipt is not None
    assert replay.receipt["content"]["action_hash"] == replay.action_hash
    assert heso.current_action_hash() is None
    assert callable(heso.finalize_l1) and callable(heso.finalize_quorum)
    assert issubclass(heso.Paused, heso.SuspendedError)
