"""The one error hierarchy of heso.

Every error heso raises derives from :class:`HesoError`, whose :meth:`~HesoError.diagnostics`
gives human-friendly text. Only the CLI turns errors into exit codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only annotations: `import heso` does not load pathlib
    from collections.abc import Sequence
    from pathlib import Path


class HesoError(Exception):
    """Base class of every heso error."""

    def diagnostics(self) -> str:
        """A one-paragraph explanation for humans: what went wrong and what to do."""
        return str(self)


class HesoConfigError(HesoError):
    """Setup is wrong: a missing or invalid ``heso.toml``, key, passphrase or argument.

    When the error comes from a file, ``path``, ``line`` and ``column`` say where, ``key`` names
    the offending key or value and ``hint`` says how to fix it.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        column: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.column = column
        self.key = key
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        text = where + self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class PolicyConfigError(HesoConfigError):
    """A policy failed to load. It reads as its first problem in file order; ``problems`` holds
    them all."""

    def __init__(self, problems: Sequence[HesoConfigError]) -> None:
        self.problems: tuple[HesoConfigError, ...] = tuple(
            sorted(problems, key=lambda p: (p.line or 0, p.column or 0))
        )
        first = self.problems[0]
        super().__init__(
            first.message,
            path=first.path,
            line=first.line,
            column=first.column,
            key=first.key,
            hint=first.hint,
        )

    def diagnostics(self) -> str:
        more = len(self.problems) - 1
        if not more:
            return str(self)
        plural = "s" if more > 1 else ""
        return f"{self} [+{more} more problem{plural}: run `heso policy check` to list them]"


class BridgeError(HesoError):
    """The gate itself failed (signing, chain write, policy crash). The action did not run."""


class CanonicalizationError(HesoError, ValueError):
    """A value cannot be represented in canonical JSON (RFC 8785)."""


class KeyDecryptionError(HesoConfigError):
    """The operator or approver key could not be unlocked (wrong passphrase or corrupted file)."""


class ChainError(HesoError):
    """The audit chain cannot be written or read."""


class ReceiptNotFoundError(HesoError):
    """No receipt matches the given action_hash prefix."""


class AmbiguousPrefixError(HesoError):
    """Several receipts match the given action_hash prefix."""

    def __init__(self, prefix: str, candidates: list[str]) -> None:
        self.prefix = prefix
        self.candidates = candidates
        shown = ", ".join(c[:16] for c in candidates[:5])
        more = f" and {len(candidates) - 5} more" if len(candidates) > 5 else ""
        super().__init__(
            f"prefix {prefix!r} matches {len(candidates)} receipts ({shown}{more}); "
            "give more hex digits"
        )


class VerificationError(HesoError):
    """A receipt or chain failed verification; ``verdict`` holds the precise verdict."""

    def __init__(self, verdict: Any) -> None:
        self.verdict = verdict
        super().__init__(str(verdict))


class GateRefusal(HesoError):
    """Base of the refusals a gate raises before the body runs."""

    def __init__(
        self,
        message: str,
        *,
        action_hash: str | None = None,
        rule_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.action_hash = action_hash
        self.rule_id = rule_id
        self.reason = reason
        super().__init__(message)


class BlockedError(GateRefusal):
    """Policy blocked the action; the body or provider request never ran."""


class SuspendedError(GateRefusal):
    """Policy requires human approval; the action is parked until approvers decide."""

    def __init__(
        self,
        message: str,
        *,
        action_hash: str | None = None,
        rule_id: str | None = None,
        reason: str | None = None,
        approvers: list[str] | None = None,
    ) -> None:
        self.approvers = list(approvers or [])
        super().__init__(message, action_hash=action_hash, rule_id=rule_id, reason=reason)


class Paused(SuspendedError):
    """Raised instead of returning ``SUSPENDED`` when ``raise_on_suspend=True`` parks a call."""

    def __init__(
        self,
        message: str,
        *,
        session: str,
        action_hash: str | None = None,
        rule_id: str | None = None,
        reason: str | None = None,
        approvers: list[str] | None = None,
        deadline: str | None = None,
    ) -> None:
        self.session = session
        self.deadline = deadline
        super().__init__(
            message, action_hash=action_hash, rule_id=rule_id, reason=reason, approvers=approvers
        )


class ApprovalError(HesoError):
    """An approval step cannot proceed: unknown action or session, already decided, a denied
    or invalid leg, or a lifecycle that does not verify."""


class LifecycleError(ApprovalError):
    """A session's lifecycle log is corrupted (a broken link or an unauthenticated record);
    nothing fires from it."""


class OperatorKeyMismatchError(HesoError):
    """The operator key changed between suspension and finalization: the action was suspended
    again under the current key as ``new_action_hash`` (approvals of ``action_hash`` do not
    carry over)."""

    def __init__(
        self, message: str, *, action_hash: str | None = None, new_action_hash: str | None = None
    ) -> None:
        self.action_hash = action_hash
        self.new_action_hash = new_action_hash
        super().__init__(message)


class TransparencyError(HesoError):
    """A Merkle proof, signed note, checkpoint or witness exchange is malformed or does not
    verify, or the tree's hash store cannot serve it."""


class WitnessError(TransparencyError):
    """A witness refused a checkpoint (or could not be asked).

    ``status`` is the HTTP status of the refusal (``None`` when no answer came back);
    ``latest_size`` is the size the witness last cosigned, on a ``409 Conflict``.
    """

    def __init__(
        self, message: str, *, status: int | None = None, latest_size: int | None = None
    ) -> None:
        self.status = status
        self.latest_size = latest_size
        super().__init__(message)


__all__ = [
    "AmbiguousPrefixError",
    "ApprovalError",
    "BlockedError",
    "BridgeError",
    "CanonicalizationError",
    "ChainError",
    "GateRefusal",
    "HesoConfigError",
    "HesoError",
    "KeyDecryptionError",
    "LifecycleError",
    "OperatorKeyMismatchError",
    "Paused",
    "PolicyConfigError",
    "ReceiptNotFoundError",
    "SuspendedError",
    "TransparencyError",
    "VerificationError",
    "WitnessError",
]
