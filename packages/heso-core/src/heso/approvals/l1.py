"""The L1 receipt: a suspended receipt co-signed by its approvers, assembled and verified.

Pure: no store, no chain, no clock. :mod:`heso.approvals.session` fires an approved action
with it; :mod:`heso.approvals.finalize` finalizes one out of band.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from heso import verdict as v
from heso.approvals.decisions import check_approver_decision
from heso.approvals.registry import Registry
from heso.approvals.status import ApprovalStatus
from heso.errors import ApprovalError, VerificationError
from heso.keys import PublicKey, SigningKey
from heso.receipt import co_sign, mint, verify_receipt


def assemble_l1(
    key: SigningKey,
    registry: Registry,
    action_hash: str,
    suspended_content: Mapping[str, Any],
    parts: Sequence[Mapping[str, Any]],
    *,
    groups: Collection[str] | None,
    single: bool,
) -> dict[str, Any]:
    """Verify every leg and build (not append) the L1 receipt, signed by the operator ``key``,
    which must be the one that signed ``suspended_content``."""
    if not parts:
        raise ApprovalError("no approvals to finalize with")
    for part in parts:
        record = part.get("record") if isinstance(part, Mapping) else None
        decision = record.get("decision") if isinstance(record, Mapping) else None
        if decision != ApprovalStatus.APPROVED:
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
        signer = PublicKey.from_str(part["signer"]["public_key"])
        record = part["record"]
        legs.setdefault(
            signer, (record["approver"], signer, bytes.fromhex(record["approval_signature"]))
        )
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
    base = mint({k: val for k, val in suspended_content.items() if k != "action_hash"}, key)
    if base["content"]["action_hash"] != action_hash:
        raise VerificationError(
            v.fail(v.HASH_MISMATCH, "the suspended content does not hash to the action_hash")
        )
    l1 = co_sign(base, list(legs.values()), group=group.name, threshold=group.threshold)
    verdict = verify_receipt(
        l1,
        trusted_operators={key.public_key()},
        approver_keys=registry.approver_keys(),
        approver_groups=registry.groups,
    )
    if not verdict.ok:
        raise VerificationError(verdict)
    return l1


__all__ = ["assemble_l1"]
