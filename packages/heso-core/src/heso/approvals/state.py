"""The state of a session at a moment: its lifecycle folded, with SLA timeouts applied.

Timeouts are a pure function of the suspension (deadline, SLA, ``on_timeout``), the decisions
and the clock, so every reader (the gate, ``heso approvals list``, an approver's CLI) computes
the same state; the operator's runtime also records each timeout in the lifecycle as evidence
(:attr:`SessionState.due` lists the ones not yet recorded).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from heso import verdict as v
from heso.approvals import sla as _sla
from heso.approvals.decisions import (
    BY_APPROVER,
    BY_OPERATOR,
    BY_TIMEOUT,
    DECISION,
    check_approver_decision,
    signer_of,
)
from heso.approvals.registry import Registry
from heso.approvals.status import OPEN, TERMINAL, ApprovalStatus
from heso.approvals.store import OPENING_KINDS, ApprovalStore, Line
from heso.errors import LifecycleError
from heso.keys import PublicKey
from heso.receipt import OPERATOR_KEY_ID, compute_action_hash, verify_receipt
from heso.verdict import Verdict

_OPENED_AS = {
    "suspended": ApprovalStatus.PENDING,
    "allowed": ApprovalStatus.APPROVED,
    "blocked": ApprovalStatus.DENIED,
}
"""The status an opening record puts a session in."""


@dataclass(frozen=True)
class Leg:
    """One valid approval: who signed, as which group, and the signed record itself."""

    approver: str
    key: PublicKey
    group: str
    at: str
    part: dict[str, Any]


@dataclass(frozen=True)
class Rejected:
    """A decision that does not count, and why."""

    part: dict[str, Any]
    verdict: Verdict


@dataclass
class SessionState:
    """Where a session stands; see the module docstring."""

    session: str
    action_hash: str
    receipt: dict[str, Any]
    opening: dict[str, Any]
    status: ApprovalStatus
    operator: str
    groups: list[str] = field(default_factory=list)
    sla: timedelta | None = None
    deadline: datetime | None = None
    on_timeout: str = _sla.DENY
    expires_at: datetime | None = None
    binding: str | None = None
    approved_by: str | None = None
    quorum_group: str | None = None
    legs: dict[str, dict[PublicKey, Leg]] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    decided: dict[str, Any] | None = None
    finalized: dict[str, Any] | None = None
    finalizations: list[dict[str, Any]] = field(default_factory=list)
    """``finalized`` records of the current action made without firing it (``finalize_l1``,
    ``finalize_quorum``): their chain entries are not firing evidence."""
    fired: dict[str, Any] | None = None
    completed: dict[str, Any] | None = None
    superseded: list[str] = field(default_factory=list)
    timeouts: list[dict[str, Any]] = field(default_factory=list)
    recorded_timeouts: set[tuple[str, str]] = field(default_factory=set)
    escalated_by_timeout: bool = False
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def decision(self) -> str:
        """``suspended``, ``escalated``, ``approved``, ``completed``, ``denied`` or ``expired``."""
        return self.status.decision

    @property
    def is_open(self) -> bool:
        """Awaiting a decision."""
        return self.status in OPEN

    @property
    def due(self) -> list[dict[str, Any]]:
        """Timeouts that took effect but are not yet recorded in the lifecycle."""
        return [
            t
            for t in self.timeouts
            if (t["decision"], t["at"]) not in self.recorded_timeouts
            and t["action_hash"] == self.action_hash
        ]

    def quorum_legs(self) -> list[Leg]:
        """The approvals that met the quorum (empty unless approvers approved)."""
        if self.quorum_group is None:
            return []
        return list(self.legs.get(self.quorum_group, {}).values())

    def progress(self, registry: Registry) -> dict[str, tuple[int, int | None]]:
        """Per eligible group: (valid approvals, threshold or None when undefined)."""
        out: dict[str, tuple[int, int | None]] = {}
        for g in self.groups:
            group = registry.groups.get(g)
            out[g] = (len(self.legs.get(g, {})), group.threshold if group else None)
        return out


def fold(
    session: str, lines: Sequence[Line], registry: Registry, now: datetime
) -> SessionState | None:
    """The state of ``session`` at ``now``; ``None`` for a session with no lifecycle yet.

    Only signed records count: a record whose signature does not verify, an operator record
    signed by a key other than the session's, an approver decision that is not valid for
    this action are listed in :attr:`SessionState.rejected` and change nothing. No record's
    time moves the clock past ``now``. A first record that does not open the session validly
    is a ``LifecycleError`` (there is nothing to fold).
    """
    st: SessionState | None = None
    for line in lines:
        rec = line.record
        kind = rec.get("kind") if isinstance(rec, Mapping) else None
        if kind in OPENING_KINDS:
            if st is None:
                st = _open(session, None, line)
            else:
                try:
                    st = _open(session, st, line)
                except LifecycleError as exc:
                    st.rejected.append(Rejected(_part(line), v.fail(v.INVALID_SIGNATURE, str(exc))))
                    continue
            st.records.append(rec)
            continue
        if st is None:
            raise LifecycleError(
                f"session {session!r}: the first record must open it, not {kind!r}"
            )
        by_approver = kind == DECISION and rec.get("by") == BY_APPROVER
        problem = _unsigned(st, line)
        if problem is None and not by_approver and line.signer.get("key_id") != OPERATOR_KEY_ID:
            problem = v.fail(v.MALFORMED_RECEIPT, f"only the operator signs {kind!r} records")
        if problem is not None:
            st.rejected.append(Rejected(_part(line), problem))
            continue
        st.records.append(rec)
        if by_approver:
            _approver_decision(st, line, registry, now)
        elif kind == DECISION:
            _operator_decision(st, rec, registry, now)
        elif rec.get("action_hash") != st.action_hash:
            continue
        elif kind == "finalized":
            st.finalized = rec
            if rec.get("firing"):
                st.fired, st.status = rec, ApprovalStatus.FIRED
            else:
                st.finalizations.append(rec)
        elif kind == "fired":
            st.fired, st.status = rec, ApprovalStatus.FIRED
        elif kind == "completed":
            st.completed, st.status = rec, ApprovalStatus.COMPLETED
    if st is not None:
        _advance(st, now, registry)
    return st


def _part(line: Line) -> dict[str, Any]:
    return {"record": line.record, "signer": line.signer}


def _unsigned(st: SessionState, line: Line) -> Verdict | None:
    """Why ``line`` is not a record this session may count (``None``: it is): a signature
    that does not verify, or an operator record signed by another key than the session's."""
    signed = signer_of(_part(line))
    if isinstance(signed, Verdict):
        return signed
    key_id, key = signed
    if key_id == OPERATOR_KEY_ID and key.to_str() != st.operator:
        return v.fail(
            v.WRONG_KEY,
            f"record {line.seq} is signed by {key.to_str()}, not the session's operator key",
        )
    return None


def _open(session: str, st: SessionState | None, line: Line) -> SessionState:
    rec = line.record
    receipt = rec.get("receipt")
    if not isinstance(receipt, dict):
        raise LifecycleError(f"session {session!r}: record {line.seq} carries an invalid receipt")
    try:
        content = receipt["content"]
        identity = content["agent_identity"]
        hash_ok = compute_action_hash(content) == rec["action_hash"] == content["action_hash"]
    except (KeyError, TypeError, ValueError):
        hash_ok, identity = False, None
    if not hash_ok or not verify_receipt(receipt).ok:
        raise LifecycleError(f"session {session!r}: record {line.seq} carries an invalid receipt")
    signed = signer_of(_part(line))
    if (
        isinstance(signed, Verdict)
        or signed[0] != OPERATOR_KEY_ID
        or signed[1].to_str() != identity
    ):
        raise LifecycleError(
            f"session {session!r}: record {line.seq} is not signed by the operator key of "
            "its receipt"
        )
    if st is not None and (rec["kind"] != "suspended" or rec.get("supersedes") != st.action_hash):
        raise LifecycleError(
            f"session {session!r}: record {line.seq} reopens the session without superseding "
            "its current action"
        )
    kind = rec["kind"]
    status = _OPENED_AS[kind]
    approved_by = {"allowed": "policy"}.get(kind)
    if rec.get("observe_only"):
        status, approved_by = ApprovalStatus.APPROVED, "observe-only"
    new = SessionState(
        session=session,
        action_hash=rec["action_hash"],
        receipt=receipt,
        opening=rec,
        status=status,
        operator=identity,
        groups=list(rec.get("groups", [])),
        sla=timedelta(seconds=rec["sla_seconds"]) if rec.get("sla_seconds") else None,
        deadline=_sla.parse_time(rec["deadline"]) if rec.get("deadline") else None,
        on_timeout=rec.get("on_timeout", _sla.DENY),
        expires_at=_sla.parse_time(rec["expires_at"]) if rec.get("expires_at") else None,
        binding=rec.get("binding"),
        approved_by=approved_by,
    )
    if st is not None:
        new.superseded = [*st.superseded, st.action_hash]
        new.records = st.records
        new.rejected = st.rejected
        new.timeouts = st.timeouts
        new.recorded_timeouts = st.recorded_timeouts
    return new


def _approver_decision(st: SessionState, line: Line, registry: Registry, now: datetime) -> None:
    """Count an approver's decision: its signatures and the registry first, then its time
    (never later than ``now``), then whether the action was still open and the group
    eligible at that time."""
    rec = line.record
    part = line.part
    if rec.get("action_hash") != st.action_hash:
        reason = (
            "a decision on a superseded action"
            if rec.get("action_hash") in st.superseded
            else ("a decision on another action")
        )
        _reject(st, line, v.fail(v.APPROVAL_MISMATCH, reason))
        return
    verdict = check_approver_decision(part, action_hash=st.action_hash, registry=registry)
    if not verdict.ok:
        _reject(st, line, verdict)
        return
    try:
        at = _sla.parse_time(rec["at"])
    except Exception:
        _reject(st, line, v.fail(v.MALFORMED_RECEIPT, "bad decision time"))
        return
    _advance(st, min(at, now), registry)
    if not st.is_open:
        _reject(st, line, v.fail(v.APPROVAL_MISMATCH, f"arrived after the action was {st.status}"))
        return
    if rec["group"] not in st.groups:
        eligible = ", ".join(st.groups) or "none"
        verdict = v.fail(
            v.UNKNOWN_APPROVER,
            f"group {rec['group']!r} may not decide this action (eligible: {eligible})",
            action_hash=st.action_hash,
        )
        _reject(st, line, verdict)
        return
    key = PublicKey.from_str(line.signer["public_key"])
    group = registry.groups[rec["group"]]
    if rec["decision"] == ApprovalStatus.DENIED:
        st.status, st.decided = ApprovalStatus.DENIED, rec
        return
    legs = st.legs.setdefault(group.name, {})
    if key in legs:
        return
    legs[key] = Leg(rec["approver"], key, group.name, rec["at"], part)
    if len(legs) >= group.threshold:
        st.status, st.decided = ApprovalStatus.APPROVED, rec
        st.approved_by, st.quorum_group = "approvers", group.name


def _reject(st: SessionState, line: Line, verdict: Verdict) -> None:
    st.rejected.append(Rejected(line.part, verdict))


def _operator_decision(
    st: SessionState, rec: dict[str, Any], registry: Registry, now: datetime
) -> None:
    if rec.get("action_hash") != st.action_hash:
        return
    at = min(_sla.parse_time(rec["at"]), now)
    if rec.get("by") == BY_TIMEOUT:
        st.recorded_timeouts.add((rec["decision"], rec["at"]))
        _advance(st, at, registry)
        return
    _advance(st, at, registry)
    if rec.get("by") != BY_OPERATOR or not st.is_open:
        return
    decision = rec["decision"]
    st.decided = rec
    if decision == ApprovalStatus.APPROVED:
        st.status, st.approved_by = ApprovalStatus.APPROVED, "operator"
    elif decision in TERMINAL:
        st.status = ApprovalStatus(decision)
    elif decision == ApprovalStatus.ESCALATED:
        st.status = ApprovalStatus.ESCALATED
        st.groups = list(rec.get("groups", st.groups))
        st.deadline = _sla.parse_time(rec["deadline"]) if rec.get("deadline") else st.deadline


def survey(
    store: ApprovalStore, registry: Registry, now: datetime
) -> Iterator[tuple[str, str, SessionState | LifecycleError]]:
    """Every action ever suspended in ``store`` with its session's state at ``now`` (or the
    ``LifecycleError`` that makes the session unreadable): ``(action_hash, session, state)``.
    What is pending is ``state.is_open`` for the session's current action; nothing here
    trusts a marker file."""
    states: dict[str, SessionState | LifecycleError | None] = {}
    for action_hash, session in store.all_hashes():
        if session not in states:
            try:
                states[session] = fold(session, store.lines(session), registry, now)
            except LifecycleError as exc:
                states[session] = exc
        st = states[session]
        if st is not None:
            yield action_hash, session, st


def pending(store: ApprovalStore, registry: Registry, now: datetime) -> list[tuple[str, str]]:
    """``(action_hash, session)`` of every action awaiting a decision at ``now``: the session's
    current action, open (see :func:`survey`)."""
    return [
        (h, session)
        for h, session, st in survey(store, registry, now)
        if not isinstance(st, LifecycleError) and st.action_hash == h and st.is_open
    ]


def escalation_groups(groups: Sequence[str], registry: Registry) -> list[str]:
    """``groups`` plus the ``escalate_to`` group of each."""
    out = list(groups)
    for g in groups:
        target = registry.groups[g].escalate_to if g in registry.groups else None
        if target and target not in out:
            out.append(target)
    return out


def _advance(st: SessionState, t: datetime, registry: Registry) -> None:
    """Apply every timeout (SLA deadline, action expiry) that took effect by ``t``."""
    while True:
        expiry = st.expires_at
        if expiry is not None and t >= expiry and st.status in (*OPEN, ApprovalStatus.APPROVED):
            if st.deadline is None or st.status == ApprovalStatus.APPROVED or expiry <= st.deadline:
                _timeout(
                    st,
                    ApprovalStatus.EXPIRED,
                    expiry,
                    f"the action expired at {_sla.stamp(expiry)}",
                )
                return
        if not st.is_open or st.deadline is None or t < st.deadline:
            return
        deadline = st.deadline
        if st.on_timeout == _sla.AUTO_APPROVE:
            _timeout(
                st, ApprovalStatus.APPROVED, deadline, "SLA elapsed; on_timeout = auto_approve"
            )
            st.approved_by = "timeout"
        elif st.on_timeout == _sla.ESCALATE and not st.escalated_by_timeout:
            st.escalated_by_timeout = True
            st.groups = escalation_groups(st.groups, registry)
            assert st.sla is not None
            st.deadline = deadline + st.sla
            _timeout(st, ApprovalStatus.ESCALATED, deadline, "SLA elapsed; on_timeout = escalate")
            st.timeouts[-1]["groups"] = list(st.groups)
            st.timeouts[-1]["deadline"] = _sla.stamp(st.deadline)
        else:
            why = "SLA elapsed" + ("; escalation SLA elapsed" if st.escalated_by_timeout else "")
            _timeout(st, ApprovalStatus.EXPIRED, deadline, f"{why}; on_timeout = {st.on_timeout}")


def _timeout(st: SessionState, decision: ApprovalStatus, at: datetime, reason: str) -> None:
    rec = {
        "kind": DECISION,
        "by": BY_TIMEOUT,
        "decision": decision.value,
        "action_hash": st.action_hash,
        "at": _sla.stamp(at),
        "reason": reason,
    }
    st.timeouts.append(rec)
    st.decided = rec
    st.status = decision
