"""Action receipts: content, ``action_hash``, signatures, and single-receipt verification.

The wire form (``docs/spec/receipt.md``)::

    {"alg": "heso-action/v2+ed25519",
     "content": {"action_version": "heso-action/2.0", "captured_at": ..., "agent_identity": ...,
                 "action": {...}, "policy": {...}, "trust_level": "L0", "action_hash": ...},
     "signatures": [{"algorithm": "Ed25519", "key_id": "operator", "public_key": ...,
                     "signature": ...}]}

``action_hash`` is the lowercase hex BLAKE3 of the RFC 8785 bytes of ``content`` without
``action_hash``. The operator signs ``OPERATOR_DOMAIN + action_hash`` (ASCII). An approver signs
``APPROVAL_DOMAIN`` + the RFC 8785 bytes of the approval statement ``{"action_hash", "decision",
"group", "threshold"}``; an L1 receipt carries ``"multi_approval": {"group", "threshold"}`` so a
verifier rebuilds that statement (``docs/approvals.md``). The trust level is re-derived from the
signatures, never read from the content.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

import blake3

from heso import verdict as v
from heso.action import Action
from heso.canonical import CanonicalObject, canonical_bytes, loads_strict
from heso.errors import CanonicalizationError
from heso.keys import PublicKey, SigningKey
from heso.verdict import Verdict

ALG = "heso-action/v2+ed25519"
ACTION_VERSION = "heso-action/2.0"
SIGNATURE_ALGORITHM = "Ed25519"
OPERATOR_KEY_ID = "operator"
APPROVER_KEY_PREFIX = "approver:"
OPERATOR_DOMAIN = b"heso-action/v2+ed25519\n"
APPROVAL_DOMAIN = b"heso-approval/v2\n"
APPROVAL_DECISIONS = ("approved", "denied")
"""What an approver's co-signature may attest."""
MULTI_APPROVAL_KEYS = frozenset({"group", "threshold"})
TRUST_LEVELS = ("L0", "L1")

_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_HEX128 = re.compile(r"[0-9a-f]{128}\Z")
_RFC3339_UTC = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z\Z"
)  # ASCII digits only: \d would also take every Unicode digit (and the page's JS would not)
_CONTENT_KEYS = frozenset(
    {
        "action_version",
        "captured_at",
        "agent_identity",
        "action",
        "policy",
        "trust_level",
        "action_hash",
    }
)
_ACTION_REQUIRED = ("verb", "tool_name", "workflow", "account", "fields")
_POLICY_REQUIRED = ("rule_id", "rule_display", "matched_conditions", "decision_path")
_ACTION_REQUIRED_SET = frozenset(_ACTION_REQUIRED)
_POLICY_REQUIRED_SET = frozenset(_POLICY_REQUIRED)
_RECEIPT_MEMBERS = frozenset({"alg", "content", "signatures", "multi_approval"})
_SIGNATURE_MEMBERS = frozenset({"algorithm", "key_id", "public_key", "signature"})


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with ``Z``; microseconds only when non-zero."""
    if moment.tzinfo is None:
        raise ValueError("captured_at must be timezone-aware")
    moment = moment.astimezone(timezone.utc)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return moment.strftime(fmt)


def action_block(action: Action, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The receipt's ``action`` block; ``fields`` are already JSON values (and redacted)."""
    block: dict[str, Any] = {
        "verb": action.verb._value_,  # as .value, without the enum property's Python call
        "tool_name": action.tool_name,
        "workflow": action.workflow,
        "account": action.account,
        "fields": fields,
    }
    if action.agent is not None:
        block["agent"] = action.agent
    if action.domain is not None:
        block["domain"] = action.domain
    if action.action_id is not None:
        block["action"] = action.action_id
    return block


def build_content(
    *,
    captured_at: str,
    agent_identity: str,
    action: Mapping[str, Any],
    policy: Mapping[str, Any],
    trust_level: str = "L0",
) -> dict[str, Any]:
    """Receipt content without ``action_hash``."""
    return {
        "action_version": ACTION_VERSION,
        "captured_at": captured_at,
        "agent_identity": agent_identity,
        "action": action,
        "policy": policy,
        "trust_level": trust_level,
    }


def compute_action_hash(content: Mapping[str, Any]) -> str:
    """BLAKE3 of the canonical bytes of ``content`` minus ``action_hash``."""
    if "action_hash" in content:
        content = {k: val for k, val in content.items() if k != "action_hash"}
    return blake3.blake3(canonical_bytes(content)).hexdigest()


def operator_message(action_hash: str) -> bytes:
    """The bytes the operator signs."""
    return OPERATOR_DOMAIN + action_hash.encode("ascii")


def approval_statement(
    action_hash: str, *, group: str, threshold: int, decision: str = "approved"
) -> dict[str, Any]:
    """What an approver attests: this decision on exactly this action, as a member of ``group``
    whose quorum is ``threshold`` distinct approvers."""
    if decision not in APPROVAL_DECISIONS:
        raise ValueError(f"decision must be one of {APPROVAL_DECISIONS}, not {decision!r}")
    return {
        "action_hash": action_hash,
        "decision": decision,
        "group": group,
        "threshold": threshold,
    }


def approval_message(
    action_hash: str, *, group: str, threshold: int, decision: str = "approved"
) -> bytes:
    """The bytes an approver signs: the domain, then the canonical approval statement."""
    statement = approval_statement(action_hash, group=group, threshold=threshold, decision=decision)
    return APPROVAL_DOMAIN + canonical_bytes(statement)


def co_sign(
    receipt: Mapping[str, Any],
    approvals: Sequence[tuple[str, PublicKey, bytes]],
    *,
    group: str,
    threshold: int,
) -> dict[str, Any]:
    """The L1 form of an operator-signed ``receipt``: its content and operator signature, each
    ``(name, public_key, signature)`` approval as an ``approver:<name>`` entry, and the
    ``multi_approval`` block the approvers signed."""
    operator = [s for s in receipt["signatures"] if s["key_id"] == OPERATOR_KEY_ID]
    return {
        "alg": receipt["alg"],
        "content": dict(receipt["content"]),
        "signatures": [
            *(dict(s) for s in operator),
            *(signature_entry(APPROVER_KEY_PREFIX + n, k, sig) for n, k, sig in approvals),
        ],
        "multi_approval": {"group": group, "threshold": threshold},
    }


class ApproverGroup(Protocol):
    """A registered approver group as verification needs it."""

    @property
    def threshold(self) -> int: ...

    @property
    def keys(self) -> Collection[PublicKey]: ...


class RegisteredGroup(NamedTuple):
    """An :class:`ApproverGroup` as plain data (it pickles, for chain verification workers)."""

    threshold: int
    keys: frozenset[PublicKey]


def signature_entry(key_id: str, public_key: PublicKey, signature: bytes) -> dict[str, str]:
    """One element of ``signatures``."""
    return {
        "algorithm": SIGNATURE_ALGORITHM,
        "key_id": key_id,
        "public_key": public_key.to_str(),
        "signature": signature.hex(),
    }


class SignedReceipt(dict[str, Any]):
    """A freshly minted receipt; ``canonical`` holds its RFC 8785 bytes, computed once."""

    __slots__ = ("canonical",)
    canonical: bytes


_PLAIN = re.compile(r"[ !#-\[\]-~]*\Z")
_MINT_KEYS = _CONTENT_KEYS - {"action_hash"}


def _content_parts(content: Mapping[str, Any]) -> tuple[bytes, bytes] | None:
    """RFC 8785 bytes of ``content`` as (before, after) the place ``action_hash`` sorts into.

    Built from the canonical bytes of ``action`` and ``policy`` plus the scalar members, which
    must need no escaping; ``None`` when that does not hold (then the generic path is used).
    """
    if content.keys() != _MINT_KEYS:
        return None
    return _parts(
        content["action"],
        content["policy"],
        content["captured_at"],
        content["agent_identity"],
        content["trust_level"],
        content["action_version"],
    )


def _parts(
    action: Any, policy: Any, captured: Any, identity: Any, level: Any, version: Any
) -> tuple[bytes, bytes] | None:
    if not (
        type(version) is str
        and type(identity) is str
        and type(captured) is str
        and type(level) is str
        and _PLAIN.match(captured + level)  # each plain iff both are
    ):
        return None
    between = _between(version, identity)
    if between is None:
        return None
    # A policy block from Decision.policy_block() carries its bytes (computed once per decision).
    encoded = policy.canonical if type(policy) is CanonicalObject else canonical_bytes(policy)
    head = b'{"action":' + canonical_bytes(action)
    tail = b'%s%s","policy":%s,"trust_level":"%s"}' % (
        between,
        captured.encode("ascii"),
        encoded,
        level.encode("ascii"),
    )
    return head, tail


@lru_cache(maxsize=64)
def _between(version: str, identity: str) -> bytes | None:
    """The canonical bytes from after ``action_hash`` up to the ``captured_at`` text (the same
    for every receipt of one operator); ``None`` when either text would need escaping."""
    if not _PLAIN.match(version + identity):
        return None
    return f',"action_version":"{version}","agent_identity":"{identity}","captured_at":"'.encode(
        "ascii"
    )


_RECEIPT_HEAD = b'{"alg":"' + ALG.encode("ascii") + b'","content":'
_RECEIPT_SIGNATURE = b',"signatures":[{"algorithm":"Ed25519","key_id":"operator","public_key":"'


def mint(content: Mapping[str, Any], key: SigningKey) -> SignedReceipt:
    """Hash ``content`` and sign it as the operator; returns the receipt with its bytes."""
    return _signed(dict(content), _content_parts(content), key)


def mint_content(
    captured_at: str,
    agent_identity: str,
    action: Mapping[str, Any],
    policy: Mapping[str, Any],
    key: SigningKey,
) -> SignedReceipt:
    """``mint(build_content(captured_at=…, agent_identity=…, action=…, policy=…), key)`` in
    one step, the gate's path: the same receipt, without re-reading an intermediate dict."""
    content = {
        "action_version": ACTION_VERSION,
        "captured_at": captured_at,
        "agent_identity": agent_identity,
        "action": action,
        "policy": policy,
        "trust_level": "L0",
    }
    return _signed(
        content, _parts(action, policy, captured_at, agent_identity, "L0", ACTION_VERSION), key
    )


_last_key: tuple[SigningKey | None, str] = (None, "")
"""The last signing key and its public key text (one runtime signs with one key)."""


def _signed(
    content: dict[str, Any], parts: tuple[bytes, bytes] | None, key: SigningKey
) -> SignedReceipt:
    """Sign ``content`` (a fresh dict, given its ``action_hash`` here) into a receipt; ``parts``
    are its canonical bytes around ``action_hash`` (see :func:`_content_parts`), if known."""
    if parts is None:
        action_hash = compute_action_hash(content)
    else:
        action_hash = blake3.blake3(parts[0] + parts[1]).hexdigest()
    hash_ascii = action_hash.encode("ascii")
    sig = key.sign(OPERATOR_DOMAIN + hash_ascii).hex()
    global _last_key
    last = _last_key
    if last[0] is key:
        public = last[1]
    else:
        public = key.public_key().to_str()
        _last_key = (key, public)
    content["action_hash"] = action_hash
    receipt = SignedReceipt(
        alg=ALG,
        content=content,
        signatures=[
            {
                "algorithm": SIGNATURE_ALGORITHM,
                "key_id": OPERATOR_KEY_ID,
                "public_key": public,
                "signature": sig,
            }
        ],
    )
    if parts is None:
        receipt.canonical = canonical_bytes(receipt)
    else:
        receipt.canonical = b'%s%s,"action_hash":"%s"%s%s%s","signature":"%s"}]}' % (
            _RECEIPT_HEAD,
            parts[0],
            hash_ascii,
            parts[1],
            _RECEIPT_SIGNATURE,
            public.encode("ascii"),
            sig.encode("ascii"),
        )
    return receipt


def parse_receipt(data: str | bytes) -> Any:
    """Strictly parse receipt JSON; raises ``CanonicalizationError`` on malformed input."""
    return loads_strict(data)


def _clip(text: str) -> str:
    """Text from a receipt as a verdict may quote it: at most 80 characters."""
    return text if len(text) <= 80 else text[:79] + "…"


def _shown(value: Any) -> str:
    """A value from a receipt as a verdict may quote it: its repr, at most 80 characters."""
    return _clip(repr(value))


def _names(keys: Collection[str]) -> str:
    """Member names for a verdict: sorted, each shortened, at most five."""
    shown = [_shown(k) for k in sorted(keys)[:5]]
    return "[" + ", ".join(shown) + (", …]" if len(keys) > 5 else "]")


def _check_structure(receipt: Any, content_hash: str | None = None) -> Verdict | None:
    """The first shape, algorithm or format problem, in the order the spec lists them.

    ``content_hash`` is a hash the caller already computed; a claimed ``action_hash`` equal to
    it is well-formed (64 lowercase hex) without another look.
    """
    if type(receipt) is not dict and not isinstance(receipt, Mapping):
        return v.fail(v.MALFORMED_RECEIPT, "a receipt must be a JSON object")
    if "alg" not in receipt:
        return v.fail(v.MALFORMED_RECEIPT, "missing 'alg'")
    if receipt["alg"] != ALG:
        return v.fail(v.UNSUPPORTED_ALGORITHM, f"alg {_shown(receipt['alg'])} is not {ALG!r}")
    if not receipt.keys() <= _RECEIPT_MEMBERS:
        extra = set(receipt) - _RECEIPT_MEMBERS
        return v.fail(v.MALFORMED_RECEIPT, f"unknown top-level members {_names(extra)}")
    content = receipt.get("content")
    if type(content) is not dict and not isinstance(content, Mapping):
        return v.fail(v.MALFORMED_RECEIPT, "'content' must be an object")
    if content.keys() != _CONTENT_KEYS:
        keys = set(content)
        missing, unknown = _CONTENT_KEYS - keys, keys - _CONTENT_KEYS
        parts = ([f"missing {_names(missing)}"] if missing else []) + (
            [f"unknown {_names(unknown)}"] if unknown else []
        )
        return v.fail(v.MALFORMED_RECEIPT, "content members: " + ", ".join(parts))
    if content["action_version"] != ACTION_VERSION:
        return v.fail(
            v.UNSUPPORTED_ALGORITHM,
            f"action_version {_shown(content['action_version'])} is not {ACTION_VERSION!r}",
        )
    claimed = content["action_hash"]
    if (content_hash is None or claimed != content_hash) and (
        not isinstance(claimed, str) or not _HEX64.match(claimed)
    ):
        return v.fail(v.MALFORMED_RECEIPT, "action_hash must be 64 lowercase hex digits")
    captured_at = content["captured_at"]
    if not isinstance(captured_at, str) or not _RFC3339_UTC.match(captured_at):
        return v.fail(v.MALFORMED_RECEIPT, "captured_at must be an RFC 3339 UTC timestamp")
    if content["trust_level"] not in TRUST_LEVELS:
        return v.fail(v.MALFORMED_RECEIPT, f"unknown trust_level {_shown(content['trust_level'])}")
    action = content["action"]
    if (
        type(action) is not dict and not isinstance(action, Mapping)
    ) or not action.keys() >= _ACTION_REQUIRED_SET:
        return v.fail(v.MALFORMED_RECEIPT, f"action must be an object with {_ACTION_REQUIRED}")
    fields = action["fields"]
    if type(fields) is not dict and not isinstance(fields, Mapping):
        return v.fail(v.MALFORMED_RECEIPT, "action.fields must be an object")
    policy = content["policy"]
    if (
        type(policy) is not dict and not isinstance(policy, Mapping)
    ) or not policy.keys() >= _POLICY_REQUIRED_SET:
        return v.fail(v.MALFORMED_RECEIPT, f"policy must be an object with {_POLICY_REQUIRED}")
    sigs = receipt.get("signatures")
    if not isinstance(sigs, list) or not sigs:
        return v.fail(v.MALFORMED_RECEIPT, "'signatures' must be a non-empty array")
    for sig in sigs:
        if (
            type(sig) is not dict and not isinstance(sig, Mapping)
        ) or sig.keys() != _SIGNATURE_MEMBERS:
            return v.fail(
                v.MALFORMED_RECEIPT,
                "each signature needs exactly algorithm, key_id, public_key, signature",
            )
        if sig["algorithm"] != SIGNATURE_ALGORITHM:
            return v.fail(
                v.UNSUPPORTED_ALGORITHM,
                f"signature algorithm {_shown(sig['algorithm'])} unsupported",
            )
        signature = sig["signature"]
        if not isinstance(signature, str) or not _HEX128.match(signature):
            return v.fail(v.MALFORMED_RECEIPT, "signature must be 128 lowercase hex digits")
        if not isinstance(sig["key_id"], str):
            return v.fail(v.MALFORMED_RECEIPT, "key_id must be a string")
    return None


@lru_cache(maxsize=256)
def _parse_public_key(text: str) -> PublicKey | None:
    try:
        return PublicKey.from_str(text)
    except (ValueError, TypeError):
        return None


def _public_key(text: Any) -> PublicKey | None:
    return _parse_public_key(text) if isinstance(text, str) else None


def verify_receipt(
    receipt: Any,
    *,
    trusted_operators: Collection[PublicKey] | None = None,
    approver_keys: Mapping[PublicKey, str] | None = None,
    approver_groups: Mapping[str, ApproverGroup] | None = None,
    content_hash: str | None = None,
) -> Verdict:
    """Verify one parsed receipt and re-derive its trust level.

    ``content_hash`` is the content hash a caller already computed from the receipt's exact
    canonical bytes (the chain verifier does, from the line); it replaces recomputation.

    ``trusted_operators`` pins the operator keys a verifier accepts (``None`` accepts the key
    the receipt names, proving integrity but not origin). ``approver_keys`` maps registered
    approver keys to names; approver signatures count toward L1 only when registered. With
    ``approver_groups`` (group name → registered group) the signers must also be members of the
    group the receipt names, and its threshold at least the registered one.
    """
    # (1) Shape, algorithm and formats.
    problem = _check_structure(receipt, content_hash)
    if problem is not None:
        return problem
    content = receipt["content"]
    claimed = content["action_hash"]

    # (2) The hash commits to every content member except itself.
    try:
        actual = content_hash or compute_action_hash(content)
    except CanonicalizationError as exc:
        return v.fail(v.MALFORMED_RECEIPT, f"content is not canonicalizable: {exc}")
    if actual != claimed:
        return v.fail(
            v.HASH_MISMATCH,
            f"content hashes to {actual[:16]}…, receipt claims {claimed[:16]}…",
            action_hash=claimed,
        )

    # (3) Exactly one operator signature, by the key the content names.
    sigs = receipt["signatures"]
    if len(sigs) == 1 and sigs[0]["key_id"] == OPERATOR_KEY_ID:
        op_sig = sigs[0]
    else:
        operator_sigs = [s for s in sigs if s["key_id"] == OPERATOR_KEY_ID]
        if len(operator_sigs) != 1:
            return v.fail(
                v.MALFORMED_RECEIPT,
                f"expected one operator signature, found {len(operator_sigs)}",
                action_hash=claimed,
            )
        op_sig = operator_sigs[0]
    identity = _public_key(content["agent_identity"])
    if identity is None:
        return v.fail(
            v.MALFORMED_RECEIPT, "agent_identity is not an ed25519 key", action_hash=claimed
        )
    if op_sig["public_key"] != content["agent_identity"]:
        return v.fail(
            v.WRONG_KEY,
            "the operator signature's key differs from the content's agent_identity",
            action_hash=claimed,
        )
    if not identity.verify(bytes.fromhex(op_sig["signature"]), operator_message(claimed)):
        return v.fail(
            v.INVALID_SIGNATURE, "the operator signature does not verify", action_hash=claimed
        )
    if trusted_operators is not None and identity not in trusted_operators:
        return v.fail(
            v.UNTRUSTED_KEY,
            f"signed by {identity.to_str()}, which is not a trusted operator key",
            action_hash=claimed,
        )

    # (4) Approver co-signatures raise the level to L1.
    approver_sigs = [s for s in sigs if s["key_id"] != OPERATOR_KEY_ID] if len(sigs) > 1 else []
    if not approver_sigs:
        if "multi_approval" in receipt:
            return v.fail(v.QUORUM_NOT_MET, "multi_approval without approver signatures")
        return Verdict(v.VALID, "L0", action_hash=claimed)
    return _verify_approvals(receipt, approver_sigs, claimed, approver_keys, approver_groups)


def _multi_approval(receipt: Mapping[str, Any]) -> tuple[str, int] | Verdict:
    multi = receipt.get("multi_approval")
    if multi is None:
        return v.fail(
            v.MALFORMED_RECEIPT,
            "approver signatures need a multi_approval block naming the group and threshold "
            "they signed",
        )
    if not isinstance(multi, Mapping) or set(multi) != MULTI_APPROVAL_KEYS:
        return v.fail(v.MALFORMED_RECEIPT, "multi_approval must have exactly group and threshold")
    group, threshold = multi["group"], multi["threshold"]
    if not isinstance(group, str) or not group:
        return v.fail(v.MALFORMED_RECEIPT, "multi_approval.group must be a non-empty string")
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
        return v.fail(v.MALFORMED_RECEIPT, "multi_approval.threshold must be a positive int")
    return group, threshold


def _verify_approvals(
    receipt: Mapping[str, Any],
    sigs: list[Mapping[str, Any]],
    action_hash: str,
    approver_keys: Mapping[PublicKey, str] | None,
    approver_groups: Mapping[str, ApproverGroup] | None,
) -> Verdict:
    block = _multi_approval(receipt)
    if isinstance(block, Verdict):
        return block
    group, threshold = block
    approved = approval_message(action_hash, group=group, threshold=threshold)
    registered = approver_groups.get(group) if approver_groups is not None else None
    if approver_groups is not None and registered is None:
        return v.fail(
            v.UNKNOWN_APPROVER,
            f"approver group {_shown(group)} is not registered",
            action_hash=action_hash,
        )
    signers: set[PublicKey] = set()
    for sig in sigs:
        if not sig["key_id"].startswith(APPROVER_KEY_PREFIX):
            return v.fail(v.MALFORMED_RECEIPT, f"unknown key_id {_shown(sig['key_id'])}")
        key = _public_key(sig["public_key"])
        if key is None:
            return v.fail(v.MALFORMED_RECEIPT, f"bad public_key for {_clip(sig['key_id'])}")
        raw = bytes.fromhex(sig["signature"])
        if not key.verify(raw, approved):
            denial = approval_message(
                action_hash, group=group, threshold=threshold, decision="denied"
            )
            what = "a denial" if key.verify(raw, denial) else "not an approval"
            return v.fail(
                v.APPROVAL_MISMATCH,
                f"{_clip(sig['key_id'])}'s signature is {what} of this action for group "
                f"{_shown(group)} with threshold {threshold}",
                action_hash=action_hash,
            )
        name = approver_keys.get(key) if approver_keys is not None else None
        if name is None:
            return v.fail(
                v.UNKNOWN_APPROVER,
                f"{_clip(sig['key_id'])} ({key.to_str()}) is not a registered approver",
                action_hash=action_hash,
            )
        if sig["key_id"] != APPROVER_KEY_PREFIX + name:
            # key_id is not signed: bound here to the registered owner of the key.
            return v.fail(
                v.WRONG_APPROVER,
                f"{_clip(sig['key_id'])} is signed by {key.to_str()}, which is registered as "
                f"{_shown(name)}",
                action_hash=action_hash,
            )
        if registered is not None and key not in registered.keys:
            return v.fail(
                v.UNKNOWN_APPROVER,
                f"{_clip(sig['key_id'])} ({key.to_str()}) is not a member of group {_shown(group)}",
                action_hash=action_hash,
            )
        signers.add(key)
    if registered is not None and threshold < registered.threshold:
        return v.fail(
            v.QUORUM_NOT_MET,
            f"group {_shown(group)} requires {registered.threshold} approvers, the receipt claims "
            f"{threshold}",
            action_hash=action_hash,
        )
    if len(signers) < threshold:
        return v.fail(
            v.QUORUM_NOT_MET,
            f"{len(signers)} distinct approvers signed, {threshold} required",
            action_hash=action_hash,
        )
    return Verdict(v.VALID, "L1", action_hash=action_hash)


def verify_receipt_bytes(
    data: str | bytes,
    *,
    trusted_operators: Collection[PublicKey] | None = None,
    approver_keys: Mapping[PublicKey, str] | None = None,
    approver_groups: Mapping[str, ApproverGroup] | None = None,
) -> Verdict:
    """Parse then verify; malformed JSON is a ``MalformedJson`` verdict, never an exception."""
    try:
        receipt = parse_receipt(data)
    except (CanonicalizationError, ValueError, RecursionError) as exc:
        return v.fail(v.MALFORMED_JSON, str(exc)[:200])
    return verify_receipt(
        receipt,
        trusted_operators=trusted_operators,
        approver_keys=approver_keys,
        approver_groups=approver_groups,
    )
