"""Signed records: every event of an approval lifecycle, and approvers' decisions.

A signed record is ``{"record": {...}, "signer": {"key_id", "public_key", "signature"}}`` where
the signature covers ``RECORD_DOMAIN`` + the RFC 8785 bytes of ``record``. The operator signs
the events it writes (``key_id`` ``"operator"``); an approver signs their decision
(``key_id`` ``"approver:<name>"``). An approver's decision record also carries
``approval_signature``: the detached co-signature over :func:`heso.receipt.approval_message`
that goes into the L1 receipt.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from heso import verdict as v
from heso.approvals.registry import Registry
from heso.canonical import canonical_bytes
from heso.errors import CanonicalizationError
from heso.keys import PublicKey, SigningKey
from heso.receipt import (
    APPROVAL_DECISIONS,
    APPROVER_KEY_PREFIX,
    OPERATOR_KEY_ID,
    approval_message,
)
from heso.verdict import Verdict

RECORD_DOMAIN = b"heso-approval-record/v1\n"
SIGNED_KEYS = frozenset({"record", "signer"})
SIGNER_KEYS = frozenset({"key_id", "public_key", "signature"})

DECISION = "decision"
BY_APPROVER = "approver"
BY_OPERATOR = "operator"
BY_TIMEOUT = "timeout"


def record_message(record: Mapping[str, Any]) -> bytes:
    """The bytes a record's signer signs."""
    return RECORD_DOMAIN + canonical_bytes(record)


def sign_record(record: Mapping[str, Any], key: SigningKey, key_id: str) -> dict[str, Any]:
    """``record`` signed by ``key`` as ``key_id``."""
    return {
        "record": dict(record),
        "signer": {
            "key_id": key_id,
            "public_key": key.public_key().to_str(),
            "signature": key.sign(record_message(record)).hex(),
        },
    }


def operator_record(record: Mapping[str, Any], key: SigningKey) -> dict[str, Any]:
    """A lifecycle event signed by the operator."""
    return sign_record(record, key, OPERATOR_KEY_ID)


def signer_of(part: Any) -> tuple[str, PublicKey] | Verdict:
    """``(key_id, public_key)`` of a signed record whose signature verifies, else a verdict."""
    if not isinstance(part, Mapping) or set(part) != SIGNED_KEYS:
        return v.fail(v.MALFORMED_RECEIPT, "a signed record has exactly record and signer")
    record, signer = part["record"], part["signer"]
    if not isinstance(record, Mapping) or not isinstance(record.get("kind"), str):
        return v.fail(v.MALFORMED_RECEIPT, "record must be an object with a kind")
    if not isinstance(signer, Mapping) or set(signer) != SIGNER_KEYS:
        return v.fail(v.MALFORMED_RECEIPT, "signer has exactly key_id, public_key, signature")
    try:
        key = PublicKey.from_str(signer["public_key"])
        signature = bytes.fromhex(signer["signature"])
        message = record_message(record)
    except (ValueError, TypeError, CanonicalizationError) as exc:
        return v.fail(v.MALFORMED_RECEIPT, f"malformed signed record: {exc}")
    if not isinstance(signer["key_id"], str) or not key.verify(signature, message):
        return v.fail(v.INVALID_SIGNATURE, f"the signature of {signer['key_id']!r} does not verify")
    return signer["key_id"], key


def approver_decision(
    key: SigningKey,
    *,
    approver: str,
    action_hash: str,
    decision: str,
    group: str,
    threshold: int,
    at: str,
    reason: str | None = None,
) -> dict[str, Any]:
    """An approver's signed decision on exactly ``action_hash`` (the relayed part)."""
    if decision not in APPROVAL_DECISIONS:
        raise ValueError(f"an approver decides {APPROVAL_DECISIONS}, not {decision!r}")
    message = approval_message(action_hash, group=group, threshold=threshold, decision=decision)
    record: dict[str, Any] = {
        "kind": DECISION,
        "by": BY_APPROVER,
        "decision": decision,
        "action_hash": action_hash,
        "group": group,
        "threshold": threshold,
        "approver": approver,
        "at": at,
        "approval_signature": key.sign(message).hex(),
    }
    if reason:
        record["reason"] = reason
    return sign_record(record, key, APPROVER_KEY_PREFIX + approver)


def check_approver_decision(
    part: Any,
    *,
    action_hash: str,
    registry: Registry,
    groups: Collection[str] | None = None,
) -> Verdict:
    """Whether ``part`` is a valid approver decision on ``action_hash``: both signatures verify,
    the key is the one registered for the approver in the group it names, the group may decide
    (``groups``: the eligible groups) and the signed threshold is the group's."""
    signed = signer_of(part)
    if isinstance(signed, Verdict):
        return signed
    key_id, key = signed
    rec = part["record"]
    fields = ("kind", "by", "decision", "action_hash", "group", "threshold", "approver", "at")
    if any(f not in rec for f in fields) or rec["kind"] != DECISION or rec["by"] != BY_APPROVER:
        return v.fail(v.MALFORMED_RECEIPT, "not an approver's decision record")
    name, group_name, threshold = rec["approver"], rec["group"], rec["threshold"]
    if (
        rec["decision"] not in APPROVAL_DECISIONS
        or not isinstance(threshold, int)
        or not isinstance(group_name, str)
        or not isinstance(name, str)
        or not isinstance(rec.get("approval_signature"), str)
    ):
        return v.fail(v.MALFORMED_RECEIPT, "malformed approver decision record")
    if rec["action_hash"] != action_hash:
        return v.fail(
            v.APPROVAL_MISMATCH,
            f"{name}'s decision is on another action ({str(rec['action_hash'])[:16]}…)",
            action_hash=action_hash,
        )
    if key_id != APPROVER_KEY_PREFIX + name:
        return v.fail(v.MALFORMED_RECEIPT, f"signer {key_id!r} differs from approver {name!r}")
    try:
        approval_ok = key.verify(
            bytes.fromhex(rec["approval_signature"]),
            approval_message(
                action_hash, group=group_name, threshold=threshold, decision=rec["decision"]
            ),
        )
    except ValueError:
        approval_ok = False
    if not approval_ok:
        return v.fail(
            v.APPROVAL_MISMATCH,
            f"{name}'s co-signature is not a {rec['decision']} of this action",
            action_hash=action_hash,
        )
    group = registry.groups.get(group_name)
    registered = group.member_named(name) if group is not None else None
    if registered is None or registered != key:
        return v.fail(
            v.UNKNOWN_APPROVER,
            f"{name} ({key.to_str()}) is not a registered member of group {group_name!r}",
            action_hash=action_hash,
        )
    if groups is not None and group_name not in groups:
        return v.fail(
            v.UNKNOWN_APPROVER,
            f"group {group_name!r} may not decide this action (eligible: {', '.join(groups)})",
            action_hash=action_hash,
        )
    assert group is not None
    if threshold != group.threshold:
        return v.fail(
            v.QUORUM_NOT_MET,
            f"{name} signed for a threshold of {threshold}; group {group_name!r} requires "
            f"{group.threshold}",
            action_hash=action_hash,
        )
    return Verdict(v.VALID, "L1", action_hash=action_hash)
