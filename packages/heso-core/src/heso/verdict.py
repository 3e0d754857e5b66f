"""Verdicts: the precise outcome of verifying a receipt or a chain.

Codes are PascalCase and part of the contract (``docs/spec/verdicts.md``); the CLI prints
``str(verdict)``, e.g. ``Valid (L0)`` or ``HashMismatch at entry 4: ...``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VALID = "Valid"

# Receipt verdicts.
MALFORMED_JSON = "MalformedJson"
MALFORMED_RECEIPT = "MalformedReceipt"
UNSUPPORTED_ALGORITHM = "UnsupportedAlgorithm"
HASH_MISMATCH = "HashMismatch"
INVALID_SIGNATURE = "InvalidSignature"
WRONG_KEY = "WrongKey"
UNTRUSTED_KEY = "UntrustedKey"
UNKNOWN_APPROVER = "UnknownApprover"
WRONG_APPROVER = "WrongApprover"
APPROVAL_MISMATCH = "ApprovalMismatch"
QUORUM_NOT_MET = "QuorumNotMet"

# Chain verdicts.
MALFORMED_ENTRY = "MalformedEntry"
SEQUENCE_MISMATCH = "SequenceMismatch"
CHAIN_BROKEN = "ChainBroken"
CHAIN_TRUNCATED = "ChainTruncated"
HEAD_MISMATCH = "HeadMismatch"
HEAD_INVALID = "HeadInvalid"
HEAD_MISSING = "HeadMissing"
UNSEALED = "Unsealed"
TORN_TAIL = "TornTail"
OPERATOR_MISMATCH = "OperatorMismatch"
NOT_FOUND = "NotFound"
NOT_IN_LOG = "NotInLog"
"""A receipt's inclusion proof, or a checkpoint's consistency proof, does not verify
(:mod:`heso.transparency`)."""

RECEIPT_CODES = frozenset(
    {
        VALID,
        MALFORMED_JSON,
        MALFORMED_RECEIPT,
        UNSUPPORTED_ALGORITHM,
        HASH_MISMATCH,
        INVALID_SIGNATURE,
        WRONG_KEY,
        UNTRUSTED_KEY,
        UNKNOWN_APPROVER,
        WRONG_APPROVER,
        APPROVAL_MISMATCH,
        QUORUM_NOT_MET,
    }
)
CHAIN_CODES = RECEIPT_CODES | {
    MALFORMED_ENTRY,
    SEQUENCE_MISMATCH,
    CHAIN_BROKEN,
    CHAIN_TRUNCATED,
    HEAD_MISMATCH,
    HEAD_INVALID,
    HEAD_MISSING,
    UNSEALED,
    TORN_TAIL,
    OPERATOR_MISMATCH,
}


@dataclass(frozen=True, init=False)
class Verdict:
    """The result of a verification: ``code`` says what, ``reason`` why, ``entry`` where."""

    code: str
    trust_level: str | None = None
    reason: str = ""
    entry: int | None = None
    action_hash: str | None = None
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    def __init__(
        self,
        code: str,
        trust_level: str | None = None,
        reason: str = "",
        entry: int | None = None,
        action_hash: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        # One dict update instead of a frozen dataclass's six object.__setattr__ calls: a
        # verifier makes one of these per receipt.
        self.__dict__.update(
            code=code,
            trust_level=trust_level,
            reason=reason,
            entry=entry,
            action_hash=action_hash,
            details={} if details is None else details,
        )

    @property
    def ok(self) -> bool:
        """True only for ``Valid``."""
        return self.code == VALID

    def at(self, entry: int) -> Verdict:
        """The same verdict, located at chain entry ``entry``."""
        return Verdict(
            self.code, self.trust_level, self.reason, entry, self.action_hash, self.details
        )

    def __str__(self) -> str:
        if self.ok:
            return f"{VALID} ({self.trust_level})" if self.trust_level else VALID
        where = f" at entry {self.entry}" if self.entry is not None else ""
        return f"{self.code}{where}: {self.reason}" if self.reason else f"{self.code}{where}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form for ``--json`` output."""
        out: dict[str, Any] = {"verdict": self.code, "ok": self.ok, "summary": str(self)}
        if self.trust_level is not None:
            out["trust_level"] = self.trust_level
        if self.reason:
            out["reason"] = self.reason
        if self.entry is not None:
            out["entry"] = self.entry
        if self.action_hash is not None:
            out["action_hash"] = self.action_hash
        out.update(self.details)
        return out


def fail(code: str, reason: str, **kwargs: Any) -> Verdict:
    """A failing verdict."""
    return Verdict(code, None, reason, **kwargs)
