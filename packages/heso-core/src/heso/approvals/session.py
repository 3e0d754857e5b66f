"""The operator's side of a session: open it, record timeouts, fire, re-suspend, decide.

Every function here runs in the process that holds the operator key (``heso.init()``), and
every write happens under the session's lock.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from heso import telemetry
from heso.approvals import evidence, sla
from heso.approvals.decisions import BY_OPERATOR, DECISION, operator_record
from heso.approvals.l1 import assemble_l1
from heso.approvals.registry import Registry, load_registry
from heso.approvals.state import SessionState, escalation_groups, fold
from heso.approvals.status import DECISION_KINDS, TRACKED, ApprovalStatus
from heso.approvals.store import ApprovalStore, Line
from heso.canonical import loads_strict
from heso.errors import ApprovalError, OperatorKeyMismatchError
from heso.ledger.format import Entry, encode_entry, entry_hash
from heso.receipt import build_content, mint
from heso.toml_source import TomlSource

if TYPE_CHECKING:
    from heso.config import Runtime

log = logging.getLogger("heso.approvals")

AUTO_SESSION_PREFIX = "action-"

_registries: dict[tuple[str, Any], Registry] = {}


def registry_of(runtime: Runtime) -> Registry:
    """The approver registry of the project's ``heso.toml``, re-read when the file changes
    (people join and leave approver groups without restarting agents)."""
    path = runtime.config.policy_path
    try:
        info = path.stat()
        stamp: Any = (info.st_mtime_ns, info.st_size)
    except OSError:
        stamp = id(runtime.source)
    key = (str(path), stamp)
    registry = _registries.get(key)
    if registry is None:
        source = runtime.source if isinstance(stamp, int) else TomlSource.read(path)
        registry = load_registry(source)
        _registries.clear()
        _registries[key] = registry
    return registry


def store_of(runtime: Runtime) -> ApprovalStore:
    store: ApprovalStore = runtime.approvals
    return store


def chain_link(
    runtime: Runtime, action_hash: str, entry: Entry | None = None
) -> dict[str, Any] | None:
    """``{"seq", "entry_hash"}`` of the chain entry holding ``action_hash`` (the latest)."""
    if entry is not None:
        return {"seq": entry.seq, "entry_hash": entry.entry_hash}
    ledger = runtime.ledger
    hits = ledger.find(action_hash)
    if not hits:
        return None
    found = loads_strict(ledger.line(hits[-1][1]))
    line = encode_entry(found["seq"], found["prev"], found["receipt"])
    return {"seq": found["seq"], "entry_hash": entry_hash(line)}


def opening_record(
    kind: str,
    session: str,
    receipt: Mapping[str, Any],
    *,
    at: datetime,
    link: Mapping[str, Any] | None,
    decision: Any = None,
    sla_delta: timedelta | None = None,
    on_timeout: str = sla.DENY,
    expires_at: datetime | None = None,
    binding: str | None = None,
    tool_version: str | None = None,
    observe_only: bool = False,
    groups: Sequence[str] | None = None,
    rule_id: str | None = None,
    supersedes: str | None = None,
    traceparent: str | None = None,
) -> dict[str, Any]:
    """The first record of a session (``suspended``, ``allowed`` or ``blocked``); a traced
    suspension carries its span's ``traceparent`` (:mod:`heso.telemetry`)."""
    rec: dict[str, Any] = {
        "kind": kind,
        "session": session,
        "at": sla.stamp(at),
        "action_hash": receipt["content"]["action_hash"],
        "receipt": dict(receipt),
        "rule_id": rule_id or (decision.rule_id if decision is not None else None),
    }
    if link is not None:
        rec["chain"] = dict(link)
    if kind == "suspended":
        delta = sla_delta or sla.DEFAULT_SLA
        rec["groups"] = list(groups if groups is not None else decision.approvers)
        rec["sla_seconds"] = int(delta.total_seconds())
        rec["deadline"] = sla.stamp(at + delta)
        rec["on_timeout"] = on_timeout
        rec["traceparent"] = traceparent or telemetry.suspension_traceparent(rec["action_hash"])
    if expires_at is not None:
        rec["expires_at"] = sla.stamp(expires_at)
    if binding is not None:
        rec["binding"] = binding
    if tool_version is not None:
        rec["tool_version"] = tool_version
    if observe_only:
        rec["observe_only"] = True
    if supersedes is not None:
        rec["supersedes"] = supersedes
    return {k: val for k, val in rec.items() if val is not None}


def open_session(
    runtime: Runtime, store: ApprovalStore, session: str, record: Mapping[str, Any]
) -> Line:
    """Write a session's opening record (hold the lock) and index its action."""
    action_hash = record["action_hash"]
    if record["kind"] == "suspended":
        owner = store.index(action_hash, session)
        if owner != session:
            raise ApprovalError(
                f"action {action_hash[:12]} is already suspended in session {owner!r}: two "
                "calls produced byte-identical receipts, so one approval would fire both; "
                "unpin the clock (clock_override / HESO_CLOCK) or resume that session"
            )
    line = store.append(session, operator_record(record, runtime.key))
    if record["kind"] == "suspended" and not record.get("observe_only"):
        _warn_undefined(runtime, record)
    return line


def _warn_undefined(runtime: Runtime, record: Mapping[str, Any]) -> None:
    missing = [g for g in record.get("groups", ()) if g not in registry_of(runtime).groups]
    if missing:
        log.warning(
            "action %s awaits approval from %s, but heso.toml defines no [approvers.%s]; "
            "nobody can approve it until you add the group",
            record["action_hash"][:12],
            ", ".join(missing),
            missing[0],
        )


def state(runtime: Any, store: ApprovalStore, session: str, now: datetime) -> SessionState | None:
    """``session`` folded at ``now``."""
    return fold(session, store.lines(session), registry_of(runtime), now)


def settle(
    runtime: Runtime,
    store: ApprovalStore,
    session: str,
    now: datetime,
    *,
    on_rotation: Literal["raise", "log"] = "raise",
) -> SessionState | None:
    """Bring ``session`` up to date (hold the lock): record due timeouts, and when an approved
    action would fire under another operator key than the one that suspended it, suspend it
    again under the current key (``on_rotation="raise"`` then raises
    ``OperatorKeyMismatchError``; ``"log"`` logs it and returns the new state, parked again).

    The L1 receipt is minted when the action fires (:func:`claim_firing`), not here.
    """
    if on_rotation == "log":
        try:
            return settle(runtime, store, session, now)
        except OperatorKeyMismatchError as exc:
            log.warning("%s", exc)
            return state(runtime, store, session, now)
    st = state(runtime, store, session, now)
    if st is None:
        return None
    if st.due and runtime.identity == st.operator:  # another key's records would not count
        for timeout in st.due:
            store.append(session, operator_record(timeout, runtime.key))
            telemetry.approval_event(runtime, session, timeout, state=st)
        st = _refold(runtime, store, session, now)
    if st.status == ApprovalStatus.APPROVED and st.approved_by in TRACKED:
        refuse_stale_key(runtime, store, st, now)
    return st


def _refold(runtime: Runtime, store: ApprovalStore, session: str, now: datetime) -> SessionState:
    st = state(runtime, store, session, now)
    assert st is not None
    return st


def refuse_stale_key(runtime: Any, store: ApprovalStore, st: SessionState, now: datetime) -> None:
    """If the operator key rotated since ``st`` was suspended: suspend the action again under
    the current key and raise ``OperatorKeyMismatchError`` (hold the lock)."""
    if runtime.identity == st.operator:
        return
    new_hash = resuspend(runtime, store, st, now)
    raise OperatorKeyMismatchError(
        f"the operator key changed since {st.action_hash[:12]} was suspended (it was signed by "
        f"{st.operator}, the key is now {runtime.identity}); heso never mints under a stale "
        f"key, so the action was suspended again as {new_hash[:12]} for approval",
        action_hash=st.action_hash,
        new_action_hash=new_hash,
    )


def resuspend(runtime: Runtime, store: ApprovalStore, st: SessionState, now: datetime) -> str:
    """Suspend ``st``'s action again under the current operator key (hold the lock); earlier
    approvals do not carry over. Returns the new action_hash."""
    old = st.receipt["content"]
    content = build_content(
        captured_at=sla.stamp(now),
        agent_identity=runtime.identity,
        action=old["action"],
        policy=old["policy"],
    )
    receipt = mint(content, runtime.key)
    entry = runtime.ledger.append(receipt)
    opening = st.opening
    record = opening_record(
        "suspended",
        st.session,
        receipt,
        at=now,
        link=chain_link(runtime, receipt["content"]["action_hash"], entry),
        sla_delta=st.sla,
        on_timeout=st.on_timeout,
        expires_at=st.expires_at,
        binding=st.binding,
        tool_version=opening.get("tool_version"),
        groups=opening.get("groups", st.groups),
        rule_id=opening.get("rule_id"),
        supersedes=st.action_hash,
        traceparent=opening.get("traceparent"),
    )
    new_hash: str = record["action_hash"]
    store.index(new_hash, st.session)
    store.append(st.session, operator_record(record, runtime.key))
    return new_hash


@dataclass(frozen=True)
class Firing:
    """A firing :func:`claim_firing` won."""

    trust_level: str
    """``L1`` when approvers co-signed the receipt, else ``L0``."""
    receipt: Mapping[str, Any]
    """The action's receipt as it fires (the L1 receipt, or the suspended one)."""
    entry: Entry | None
    """The chain entry of the firing receipt (``None`` for observe-only and policy-allowed
    calls, which are not approvals and chain nothing more)."""


def claim_firing(
    runtime: Runtime, store: ApprovalStore, st: SessionState, now: datetime
) -> Firing | None:
    """Win the one firing of the approved session ``st`` (hold the lock), or ``None`` when a
    caller in any thread or process already won it.

    An approval's firing is first looked up in the audit chain itself
    (:mod:`heso.approvals.evidence`): found there, the action fired before, whatever
    ``approvals/`` says, and it never fires again. Otherwise the session's claim is taken,
    the firing receipt (L1 when approvers co-signed, else the suspended L0 receipt) is appended
    to the chain and sealed, and ``fired`` is recorded
    (:meth:`~heso.approvals.store.ApprovalStore.claim_and_record_fired`; in the database the
    claim and ``fired`` are one transaction): all before the body runs. A crash part-way leaves
    the claim, or the chain entry: the action then never fires (at most once).
    """
    if st.status != ApprovalStatus.APPROVED or store.fire_claimed(st.session):
        return None
    tracked = st.approved_by in TRACKED
    receipt: Mapping[str, Any] | None = None
    l1 = st.approved_by == "approvers"
    if tracked:
        if runtime.identity != st.operator:
            return None  # settle() suspends it again under the current key
        earlier = evidence.firings(runtime.ledger, st)
        if earlier:
            log.warning(
                "heso refused to fire %s again: the audit chain records its firing (entry %s) "
                "but approvals/%s does not; the approvals store was altered",
                st.action_hash[:12],
                earlier[0]["seq"],
                st.session,
            )
            store.claim_fire(st.session, {"action_hash": st.action_hash, "chain": earlier[0]})
            return None
        legs = [leg.part for leg in st.quorum_legs()]
        receipt = _assemble(runtime, st, legs) if l1 else st.receipt
    note = {"action_hash": st.action_hash, "at": sla.stamp(now), "pid": os.getpid()}
    trust_level = "L1" if l1 else "L0"
    entry: Entry | None = None
    record: dict[str, Any] = {
        "kind": "fired",
        "at": sla.stamp(now),
        "action_hash": st.action_hash,
        "approved_by": st.approved_by,
        "trust_level": trust_level,
        "pid": os.getpid(),
    }

    def records() -> list[dict[str, Any]]:
        """Chain the firing receipt (the claim is won) and sign what the lifecycle records."""
        nonlocal entry
        if receipt is None:
            return [operator_record(record, runtime.key)]
        entry = runtime.ledger.append(receipt)
        runtime.ledger.seal()
        link = chain_link(runtime, st.action_hash, entry)
        record["chain"] = link
        out = []
        if l1:
            multi = receipt["multi_approval"]
            finalized = {
                "kind": "finalized",
                "at": sla.stamp(now),
                "action_hash": st.action_hash,
                "chain": link,
                "group": multi["group"],
                "threshold": multi["threshold"],
                "approvers": sorted(leg.approver for leg in st.quorum_legs()),
                "firing": True,
            }
            out.append(operator_record(finalized, runtime.key))
        out.append(operator_record(record, runtime.key))
        return out

    if not store.claim_and_record_fired(st.session, note, records):
        return None
    telemetry.approval_event(runtime, st.session, record, state=st, entry=entry)
    return Firing(trust_level, receipt if receipt is not None else st.receipt, entry)


def _assemble(
    runtime: Runtime,
    st: SessionState,
    parts: Sequence[Mapping[str, Any]],
    *,
    single: bool | None = None,
) -> dict[str, Any]:
    """The L1 receipt of ``st`` from the co-signatures in ``parts`` (not appended);
    ``single`` defaults to whether their group's threshold is 1."""
    registry = registry_of(runtime)
    if single is None:
        single = registry.group(parts[0]["record"]["group"]).threshold == 1 if parts else True
    return assemble_l1(
        runtime.key,
        registry,
        st.action_hash,
        st.receipt["content"],
        parts,
        groups=st.groups,
        single=single,
    )


def firing_receipt(runtime: Runtime, st: SessionState) -> dict[str, Any] | None:
    """The receipt ``st``'s firing appended to the chain, if it fired with one."""
    link = (st.fired or {}).get("chain")
    if not isinstance(link, Mapping):
        return None
    for _, seq in runtime.ledger.find(st.action_hash):
        entry = loads_strict(runtime.ledger.line(seq))
        if entry["seq"] == link.get("seq"):
            receipt: dict[str, Any] = entry["receipt"]
            return receipt
    return None


def retire(store: ApprovalStore, st: SessionState, now: datetime) -> None:
    """Take the firing claim of a denied or expired session whose refusal a re-issued call
    received (hold the lock): it could never fire anyway, and the same call made once more is
    a new action (:func:`heso.approvals.reentry.find` passes over claimed sessions)."""
    note = {
        "action_hash": st.action_hash,
        "at": sla.stamp(now),
        "pid": os.getpid(),
        "refused": st.decision,
    }
    store.claim_fire(st.session, note)


def record_completed(
    runtime: Runtime,
    session: str,
    action_hash: str,
    *,
    ok: bool = True,
    error: BaseException | str | None = None,
) -> None:
    """Record how a fired body ended: ``ok``, or ``error`` with the exception's type name
    (never its message, which may hold the arguments); a string ``error`` is such a name."""
    if isinstance(error, str) and not error.isidentifier():
        raise ValueError(f"error must be an exception or its type name, not {error!r}")
    store = store_of(runtime)
    ok = ok and error is None
    record: dict[str, Any] = {
        "kind": "completed",
        "at": sla.stamp(sla.clock(runtime)),
        "action_hash": action_hash,
        "status": "ok" if ok else "error",
    }
    if error is not None:
        record["error"] = error if isinstance(error, str) else type(error).__name__
    with store.locked(session):
        store.append(session, operator_record(record, runtime.key))
    telemetry.approval_event(runtime, session, record)


def decide(
    runtime: Runtime,
    session: str,
    kind: str,
    *,
    reason: str | None,
    decided_at: datetime | str | None,
) -> str:
    """``heso.append_decision``: record an operator decision (signed by the operator key)."""
    if kind not in DECISION_KINDS:
        raise ApprovalError(f"a decision is one of {', '.join(DECISION_KINDS)}, not {kind!r}")
    at = sla.parse_time(decided_at, "decided_at") if decided_at is not None else sla.clock(runtime)
    store = store_of(runtime)
    with store.locked(session):
        st = settle(runtime, store, session, at)
        if st is None:
            raise ApprovalError(f"no session {session!r}")
        if not st.is_open:
            raise ApprovalError(f"session {session!r} is already {st.decision}")
        refuse_stale_key(runtime, store, st, at)  # a decision signed by another key never counts
        record: dict[str, Any] = {
            "kind": DECISION,
            "by": BY_OPERATOR,
            "decision": kind,
            "action_hash": st.action_hash,
            "at": sla.stamp(at),
        }
        if reason:
            record["reason"] = reason
        if kind == ApprovalStatus.ESCALATED:
            record["groups"] = escalation_groups(st.groups, registry_of(runtime))
            record["deadline"] = sla.stamp(at + (st.sla or sla.DEFAULT_SLA))
        store.append(session, operator_record(record, runtime.key))
        telemetry.approval_event(runtime, session, record, state=st)
        st = settle(runtime, store, session, at)
        assert st is not None
        return st.decision


__all__ = [
    "Firing",
    "claim_firing",
    "decide",
    "firing_receipt",
    "open_session",
    "opening_record",
    "record_completed",
    "refuse_stale_key",
    "registry_of",
    "resuspend",
    "retire",
    "settle",
    "state",
]
