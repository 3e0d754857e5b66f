"""Decisions signed elsewhere: an approver's record made with a key this process never sees.

``heso approve`` loads the approver's key file and signs on this machine. A browser-held key
(``heso console``) signs on the approver's device instead: both the co-signature over
:func:`heso.receipt.approval_message` and the decision record (``docs/approvals.md``, "What
approvers sign"). :func:`record_external_decision` runs the checks ``heso approve`` runs and
appends the record to the session's lifecycle; the operator's runtime then finalizes the L1
receipt exactly as after ``heso approve``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from heso.approvals import sla
from heso.approvals.decisions import BY_APPROVER, DECISION, check_approver_decision
from heso.approvals.registry import Registry
from heso.approvals.state import fold
from heso.approvals.store import ApprovalStore
from heso.errors import ApprovalError, HesoConfigError
from heso.keys import PublicKey
from heso.receipt import APPROVAL_DECISIONS

MAX_SKEW = timedelta(minutes=10)
"""How far a decision's signed ``at`` may be from this machine's clock."""

MAX_REASON = 2000
RECORD_KEYS = frozenset(
    {
        "kind",
        "by",
        "decision",
        "action_hash",
        "group",
        "threshold",
        "approver",
        "at",
        "approval_signature",
    }
)


def record_external_decision(
    store: ApprovalStore,
    registry: Registry,
    part: Any,
    *,
    now: datetime | None = None,
    max_skew: timedelta = MAX_SKEW,
) -> dict[str, Any]:
    """Check and record an approver's signed decision ``{"record", "signer"}`` in ``store``.

    The record must have exactly the members ``heso approve`` writes (``reason`` optional), be
    signed by the key registered for its approver in an eligible group, carry a valid
    co-signature for that group's threshold, be dated within ``max_skew`` of ``now``, and
    decide an action still open, which this approver has not approved yet. Raises
    :class:`ApprovalError` otherwise. Returns what ``heso approve --json`` prints.
    """
    now = now or sla.clock()
    record = part.get("record") if isinstance(part, Mapping) else None
    if not isinstance(record, Mapping):
        raise ApprovalError("a decision is {record, signer}, signed by the approver")
    keys = set(record)
    if not RECORD_KEYS <= keys or keys - RECORD_KEYS - {"reason"}:
        raise ApprovalError(
            "a decision record has exactly " + ", ".join(sorted(RECORD_KEYS)) + " and reason"
        )
    if record["kind"] != DECISION or record["by"] != BY_APPROVER:
        raise ApprovalError("not an approver's decision record")
    if record["decision"] not in APPROVAL_DECISIONS:
        raise ApprovalError(f"decision must be one of {APPROVAL_DECISIONS}")
    if "reason" in record:
        reason = record["reason"]
        if not isinstance(reason, str) or not reason or len(reason) > MAX_REASON:
            raise ApprovalError(f"reason must be a non-empty string of at most {MAX_REASON}")
    try:
        at = sla.parse_time(record["at"], "at")
    except HesoConfigError as exc:
        raise ApprovalError(f"the decision time is not an RFC 3339 timestamp: {exc}") from None
    if sla.stamp(at) != record["at"]:
        raise ApprovalError("the decision time must be written as heso writes it (UTC, Z)")
    if abs(at - now) > max_skew:
        raise ApprovalError(
            f"the decision is dated {record['at']}, more than {max_skew} from this machine's "
            f"clock ({sla.stamp(now)})"
        )
    action_hash = record["action_hash"]
    if not isinstance(action_hash, str) or len(action_hash) != 64:
        raise ApprovalError("action_hash must be the full 64-digit hash")
    found, session = store.resolve(action_hash)
    if found != action_hash:
        raise ApprovalError(f"no suspended action {action_hash[:12]}")
    with store.locked(session):
        st = fold(session, store.lines(session), registry, now)
        if st is None:
            raise ApprovalError(f"session {session!r} has no lifecycle")
        if st.action_hash != action_hash:
            raise ApprovalError(
                f"{action_hash[:12]} was superseded by {st.action_hash[:12]} (the operator key "
                "rotated); decide on the new action"
            )
        then = fold(session, store.lines(session), registry, at)
        if not st.is_open or then is None or not then.is_open:
            raise ApprovalError(f"{action_hash[:12]} is already {st.decision}; nothing to decide")
        verdict = check_approver_decision(
            part, action_hash=action_hash, registry=registry, groups=st.groups
        )
        if not verdict.ok:
            raise ApprovalError(f"the decision does not verify: {verdict}")
        group = registry.groups[record["group"]]
        key = PublicKey.from_str(part["signer"]["public_key"])
        if key in st.legs.get(group.name, {}):
            raise ApprovalError(
                f"{record['approver']} already approved {action_hash[:12]} for {group.name!r}"
            )
        signed = {"record": dict(record), "signer": dict(part["signer"])}
        store.append(session, signed)
        after = fold(session, store.lines(session), registry, now)
    assert after is not None
    return {
        "action_hash": action_hash,
        "session": session,
        "approver": record["approver"],
        "group": group.name,
        "decision": record["decision"],
        "approvals": len(after.legs.get(group.name, {})),
        "threshold": group.threshold,
        "status": after.decision,
        "record": signed,
    }
