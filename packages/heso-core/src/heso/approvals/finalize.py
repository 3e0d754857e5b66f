"""Finalization: the L1 receipt from a suspended receipt and its approvers' co-signatures.

``finalize_l1`` takes one approval (a group whose threshold is 1), ``finalize_quorum`` the k
distinct approvals of a k-of-n group; both refuse unless every leg is an ``approved`` decision
that verifies, mint under the current operator key only (a rotated key re-suspends the action
and raises :class:`~heso.errors.OperatorKeyMismatchError`), append the L1 receipt to the
operator's chain, where it supersedes the suspended one, and record ``finalized`` in the
session's lifecycle.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from heso import verdict as v
from heso.approvals.decisions import APPROVED, check_approver_decision
from heso.approvals.registry import Registry
from heso.errors import ApprovalError, VerificationError
from heso.keys import PublicKey
from heso.receipt import co_sign, mint, verify_receipt

if TYPE_CHECKING:
    from heso.config import Runtime


def assemble_l1(
    runtime: Runtime,
    registry: Registry,
    action_hash: str,
    suspended_content: Mapping[str, Any],
    parts: Sequence[Mapping[str, Any]],
    *,
    groups: Collection[str] | None,
    single: bool,
) -> dict[str, Any]:
    """Verify every leg and build (not append) the L1 receipt; the operator key must be the
    one that signed ``suspended_content``."""
    if not parts:
        raise ApprovalError("no approvals to finalize with")
    for part in parts:
        record = part.get("record") if isinstance(part, Mapping) else None
        decision = record.get("decision") if isinstance(record, Mapping) else None
        if decision != APPROVED:
            who = record.get("approver", "?") if isinstance(record, Mapping) else "?"
            raise ApprovalError(
                f"refusing to finalize {action_hash[:12]}: {who}'s decision is {decision!r}, "
                "and every leg must be 'approved'"
            )
    for part in parts:
        verdict = check_approver_decision(
            part, action_hash=action_hash, registry=registry, groups=groups
        )
        if not verdict.ok:
            raise VerificationError(verdict)
    names = {part["record"]["group"] for part in parts}
    if len(names) != 1:
        raise ApprovalError(f"the approvals name different groups ({', '.join(sorted(names))})")
    group = registry.group(names.pop())
    legs: dict[PublicKey, tuple[str, PublicKey, bytes]] = {}
    for part in sorted(parts, key=lambda p: p["record"]["approver"]):
        key = PublicKey.from_str(part["signer"]["public_key"])
        record = part["record"]
        legs.setdefault(key, (record["approver"], key, bytes.fromhex(record["approval_signature"])))
    if single and (len(parts) != 1 or group.threshold != 1):
        raise ApprovalError(
            f"finalize_l1 takes one approval of a group whose threshold is 1; group "
            f"{group.name!r} needs {group.threshold} (use finalize_quorum)"
        )
    if len(legs) < group.threshold:
        raise VerificationError(
            v.fail(
                v.QUORUM_NOT_MET,
                f"{len(legs)} distinct approvers of {group.name!r} approved, "
                f"{group.threshold} required",
                action_hash=action_hash,
            )
        )
    base = mint({k: val for k, val in suspended_content.items() if k != "action_hash"}, runtime.key)
    if base["content"]["action_hash"] != action_hash:
        raise VerificationError(
            v.fail(v.HASH_MISMATCH, "the suspended content does not hash to the action_hash")
        )
    l1 = co_sign(base, list(legs.values()), group=group.name, threshold=group.threshold)
    verdict = verify_receipt(
        l1,
        trusted_operators={runtime.key.public_key()},
        approver_keys=registry.approver_keys(),
        approver_groups=registry.groups,
    )
    if not verdict.ok:
        raise VerificationError(verdict)
    return l1


def finalize_l1(
    action_hash: str,
    suspended_content: Mapping[str, Any],
    relayed_parts: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The L1 receipt of a suspended action approved by one approver (threshold 1).

    ``relayed_parts`` are signed approver decisions (``heso approvals show --json`` lists them;
    ``heso approve`` writes them). Returns the receipt appended to the chain.
    """
    from heso.approvals import session

    return session.finalize(action_hash, suspended_content, relayed_parts, single=True)


def finalize_quorum(
    action_hash: str,
    suspended_content: Mapping[str, Any],
    relayed_parts: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The L1 receipt of a suspended action approved by k distinct members of a k-of-n group;
    it carries ``multi_approval`` with the group and k."""
    from heso.approvals import session

    return session.finalize(action_hash, suspended_content, relayed_parts, single=False)
