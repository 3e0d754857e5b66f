"""What every LangChain seam shares: one core gate call per tool call, the refusal text the
model sees, and the refusal modes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from heso.capture import Outcome, gate
from heso.errors import BlockedError, GateRefusal, SuspendedError

Mode = Literal["raise", "message"]
MODES: tuple[str, ...] = ("raise", "message")


def check_mode(mode: str) -> Mode:
    """``mode`` if it is a refusal mode, else ``ValueError``."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'raise' or 'message', not {mode!r}")
    return mode  # type: ignore[return-value]


def tool_fields(args: Any, input_str: str | None = None) -> dict[str, Any]:
    """A tool call's arguments as receipt fields; a bare string input is ``{"input": ...}``."""
    if isinstance(args, Mapping):
        return dict(args)
    return {"input": input_str if input_str is not None else args}


def check(
    verb: str, name: str, fields: Mapping[str, Any], *, agent: str | None = None
) -> tuple[Outcome | None, GateRefusal | None]:
    """Gate one action through the core: ``(outcome, None)`` when it may run (allowed, or
    observe-only), ``(None, refusal)`` when policy refused it. Core failures raise (fail
    closed while blocking is on)."""
    try:
        return gate(verb, name, fields, agent=agent), None
    except GateRefusal as refusal:
        return None, refusal


class ApprovalEndedError(BlockedError):
    """A suspended action was not approved: denied, expired, or it already ran once."""

    def __init__(self, message: str, *, decision: str, **details: Any) -> None:
        self.decision = decision
        super().__init__(message, **details)


def refusal_text(refusal: GateRefusal) -> str:
    """What the model reads instead of the tool's result: the rule and its display text."""
    short = (refusal.action_hash or "")[:12]
    if isinstance(refusal, ApprovalEndedError):
        return f"{refusal} (rule {refusal.rule_id}: {refusal.reason}). The call did not run."
    if isinstance(refusal, SuspendedError):
        who = ", ".join(refusal.approvers) or "the policy's approvers"
        return (
            f"heso: awaiting approval by rule {refusal.rule_id}: {refusal.reason} (action "
            f"{short}; approvers: {who}). The call did not run; do not retry it now."
        )
    if isinstance(refusal, BlockedError):
        return (
            f"heso: blocked by rule {refusal.rule_id}: {refusal.reason} (action {short}). "
            "The call did not run; do not retry it."
        )
    return f"heso: refused: {refusal}"


def denial(refusal: GateRefusal, decision: str) -> ApprovalEndedError:
    """The refusal for a suspended action whose approval ended in ``decision`` (``denied``,
    ``expired``, ...)."""
    short = (refusal.action_hash or "")[:12]
    what = {
        "denied": "was denied",
        "expired": "expired before anyone approved it",
    }.get(decision, f"ended as {decision!r}")
    return ApprovalEndedError(
        f"heso: the suspended action {short} {what}",
        decision=decision,
        action_hash=refusal.action_hash,
        rule_id=refusal.rule_id,
        reason=refusal.reason,
    )


@dataclass(frozen=True)
class Verdict:
    """A gate result that survives a LangGraph checkpoint (plain data)."""

    tool_call_id: str | None
    action_hash: str | None
    refusal: dict[str, Any] | None = None

    @classmethod
    def of(
        cls, tool_call_id: str | None, outcome: Outcome | None, refusal: GateRefusal | None
    ) -> Verdict:
        if refusal is None:
            return cls(tool_call_id, outcome.action_hash if outcome else None)
        data = {
            "kind": "suspended" if isinstance(refusal, SuspendedError) else "blocked",
            "message": str(refusal),
            "action_hash": refusal.action_hash,
            "rule_id": refusal.rule_id,
            "reason": refusal.reason,
            "approvers": list(getattr(refusal, "approvers", ())),
        }
        return cls(tool_call_id, refusal.action_hash, data)

    def to_data(self) -> dict[str, Any]:
        return {
            "tool_call_id": self.tool_call_id,
            "action_hash": self.action_hash,
            "refusal": self.refusal,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Verdict:
        return cls(data["tool_call_id"], data["action_hash"], data["refusal"])

    def refusal_error(self) -> GateRefusal | None:
        """The core's refusal, rebuilt."""
        r = self.refusal
        if r is None:
            return None
        if r["kind"] == "suspended":
            return SuspendedError(
                r["message"],
                action_hash=r["action_hash"],
                rule_id=r["rule_id"],
                reason=r["reason"],
                approvers=r["approvers"],
            )
        return BlockedError(
            r["message"], action_hash=r["action_hash"], rule_id=r["rule_id"], reason=r["reason"]
        )

    @property
    def suspended(self) -> bool:
        return self.refusal is not None and self.refusal["kind"] == "suspended"


__all__ = [
    "MODES",
    "ApprovalEndedError",
    "Mode",
    "Verdict",
    "check",
    "check_mode",
    "denial",
    "refusal_text",
]
