"""What every LangChain seam shares: one core gate call per tool call and the checkpointable
verdict. The refusal modes and the text the model sees are the core's (:mod:`heso.refusals`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from heso.capture import Outcome, gate
from heso.errors import BlockedError, GateRefusal, SuspendedError
from heso.refusals import MODES, Mode, check_mode, refusal_text


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
    "Mode",
    "Verdict",
    "check",
    "check_mode",
    "refusal_text",
    "tool_fields",
]
