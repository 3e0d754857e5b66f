"""Finalization: the L1 receipt from a suspended receipt and its approvers' co-signatures.

``finalize_l1`` takes one approval (a group whose threshold is 1), ``finalize_quorum`` the k
distinct approvals of a k-of-n group; both refuse unless every leg is an ``approved`` decision
that verifies, mint under the current operator key only (a rotated key re-suspends the action
and raises :class:`~heso.errors.OperatorKeyMismatchError`), append the L1 receipt to the
operator's chain, where it supersedes the suspended one, and record ``finalized`` in the
session's lifecycle. The receipt itself is assembled by :func:`heso.approvals.l1.assemble_l1`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from heso import config as _config
from heso.approvals import sla
from heso.approvals.decisions import operator_record
from heso.approvals.l1 import assemble_l1
from heso.approvals.session import chain_link, refuse_stale_key, registry_of, state, store_of
from heso.approvals.state import SessionState
from heso.approvals.status import ApprovalStatus
from heso.approvals.store import ApprovalStore
from heso.config import Runtime
from heso.errors import ApprovalError


def finalize_l1(
    action_hash: str,
    suspended_content: Mapping[str, Any],
    relayed_parts: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The L1 receipt of a suspended action approved by one approver (threshold 1).

    ``relayed_parts`` are signed approver decisions (``heso approvals show --json`` lists them;
    ``heso approve`` writes them). Returns the receipt appended to the chain.
    """
    return _finalize(action_hash, suspended_content, relayed_parts, single=True)


def finalize_quorum(
    action_hash: str,
    suspended_content: Mapping[str, Any],
    relayed_parts: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The L1 receipt of a suspended action approved by k distinct members of a k-of-n group;
    it carries ``multi_approval`` with the group and k."""
    return _finalize(action_hash, suspended_content, relayed_parts, single=False)


def _finalize(
    action_hash: str,
    suspended_content: Mapping[str, Any],
    relayed_parts: Sequence[Mapping[str, Any]],
    *,
    single: bool,
) -> dict[str, Any]:
    runtime = _config.current()
    store = store_of(runtime)
    registry = registry_of(runtime)
    session = store.resolve(action_hash)[1]
    now = sla.clock(runtime)
    with store.locked(session):
        st = state(runtime, store, session, now)
        if st is None or st.action_hash != action_hash:
            newer = f" (superseded by {st.action_hash[:12]})" if st is not None else ""
            raise ApprovalError(f"{action_hash[:12]} is not the session's current action{newer}")
        if dict(suspended_content) != st.receipt["content"]:
            raise ApprovalError(
                f"the suspended content given differs from what {action_hash[:12]} suspended"
            )
        # Refuse before writing anything: every leg approved and valid, the quorum met.
        for part in relayed_parts:
            rec = part.get("record") if isinstance(part, Mapping) else None
            if not isinstance(rec, Mapping) or rec.get("decision") != ApprovalStatus.APPROVED:
                raise ApprovalError(
                    f"refusing to finalize {action_hash[:12]}: every leg must be 'approved'"
                )
        if st.finalized is not None:
            receipt: dict[str, Any] = runtime.ledger.receipt(action_hash)
            return receipt
        if not st.is_open and st.status != ApprovalStatus.APPROVED:
            raise ApprovalError(f"{action_hash[:12]} was {st.status}; nothing to finalize")
        refuse_stale_key(runtime, store, st, now)
        assemble_l1(
            runtime.key,
            registry,
            action_hash,
            st.receipt["content"],
            relayed_parts,
            groups=st.groups,
            single=single,
        )
        known = [line.part for line in store.lines(session)]
        for part in relayed_parts:
            if dict(part) not in known:
                store.append(session, dict(part))
        st = state(runtime, store, session, now)
        assert st is not None
        if st.status != ApprovalStatus.APPROVED or st.approved_by != "approvers":
            raise ApprovalError(f"{action_hash[:12]} is {st.decision}, not approved")
        return _record(runtime, store, st, now, list(relayed_parts), single=single)


def _record(
    runtime: Runtime,
    store: ApprovalStore,
    st: SessionState,
    now: datetime,
    parts: Sequence[Mapping[str, Any]],
    *,
    single: bool,
) -> dict[str, Any]:
    """Mint, chain and record the L1 receipt of ``st`` (hold the lock)."""
    refuse_stale_key(runtime, store, st, now)
    l1 = assemble_l1(
        runtime.key,
        registry_of(runtime),
        st.action_hash,
        st.receipt["content"],
        parts,
        groups=st.groups,
        single=single,
    )
    entry = runtime.ledger.append(l1)
    multi = l1["multi_approval"]
    record = {
        "kind": "finalized",
        "at": sla.stamp(now),
        "action_hash": st.action_hash,
        "chain": chain_link(runtime, st.action_hash, entry),
        "group": multi["group"],
        "threshold": multi["threshold"],
        "approvers": sorted(p["record"]["approver"] for p in parts),
    }
    store.append(st.session, operator_record(record, runtime.key))
    return l1


__all__ = ["finalize_l1", "finalize_quorum"]
