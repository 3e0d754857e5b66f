"""How a heso refusal reaches the run: an exception (raise mode) or the model's text (message
mode)."""

from __future__ import annotations

from typing import Any, Literal, cast

from agents.exceptions import ToolInputGuardrailTripwireTriggered
from agents.tool_guardrails import ToolGuardrailFunctionOutput, ToolInputGuardrail

from heso.errors import BlockedError, GateRefusal, SuspendedError

Mode = Literal["raise", "message"]
MODES: tuple[Mode, ...] = ("raise", "message")


def check_mode(mode: str) -> Mode:
    """``mode`` if it is a refusal mode."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'raise' or 'message', not {mode!r}")
    return cast(Mode, mode)


def _as_tripwire(
    exc: Any,
    message: str,
    action_hash: str | None,
    rule_id: str | None,
    reason: str | None,
    guardrail: ToolInputGuardrail[Any] | None,
) -> None:
    """Initialise both sides of a refusal that is also the SDK's tripwire (the two bases'
    constructors do not cooperate)."""
    Exception.__init__(exc, message)
    exc.action_hash, exc.rule_id, exc.reason = action_hash, rule_id, reason
    exc.guardrail = guardrail
    exc.output = ToolGuardrailFunctionOutput.raise_exception(output_info=refusal_info(exc))
    exc.run_data = None


class ToolBlocked(BlockedError, ToolInputGuardrailTripwireTriggered):
    """Raised out of ``Runner.run`` in ``mode="raise"`` when heso refuses a tool call: policy
    blocked it, or its approvers denied it (or the approval expired).

    Both a ``heso.BlockedError`` and the SDK's own ``ToolInputGuardrailTripwireTriggered``.
    """

    def __init__(
        self,
        message: str,
        *,
        action_hash: str | None = None,
        rule_id: str | None = None,
        reason: str | None = None,
        guardrail: ToolInputGuardrail[Any] | None = None,
    ) -> None:
        _as_tripwire(self, message, action_hash, rule_id, reason, guardrail)


class ToolSuspended(SuspendedError, ToolInputGuardrailTripwireTriggered):
    """Raised out of ``Runner.run`` in ``mode="raise"`` when a tool call needs a human
    approval heso does not have and the run cannot pause for it (a tool gated by the guardrail
    alone, or a call the SDK was told to run without heso's approval).

    Both a ``heso.SuspendedError`` and the SDK's own ``ToolInputGuardrailTripwireTriggered``.
    """

    def __init__(
        self,
        message: str,
        *,
        action_hash: str | None = None,
        rule_id: str | None = None,
        reason: str | None = None,
        approvers: list[str] | None = None,
        guardrail: ToolInputGuardrail[Any] | None = None,
    ) -> None:
        self.approvers = list(approvers or [])
        _as_tripwire(self, message, action_hash, rule_id, reason, guardrail)


def tripwire(refusal: GateRefusal, guardrail: ToolInputGuardrail[Any] | None) -> GateRefusal:
    """``refusal`` as the exception raise mode lets out of the run."""
    if isinstance(refusal, SuspendedError):
        return ToolSuspended(
            str(refusal),
            action_hash=refusal.action_hash,
            rule_id=refusal.rule_id,
            reason=refusal.reason,
            approvers=refusal.approvers,
            guardrail=guardrail,
        )
    return ToolBlocked(
        str(refusal),
        action_hash=refusal.action_hash,
        rule_id=refusal.rule_id,
        reason=refusal.reason,
        guardrail=guardrail,
    )


def refusal_text(refusal: GateRefusal) -> str:
    """What the model reads in message mode: ``heso: blocked by rule <id>: <display text>``."""
    if isinstance(refusal, SuspendedError):
        short = (refusal.action_hash or "")[:12]
        return (
            f"heso: approval required by rule {refusal.rule_id}: {refusal.reason} "
            f"(receipt {short}, awaiting a human decision; do not retry)"
        )
    return f"heso: blocked by rule {refusal.rule_id}: {refusal.reason}"


def refusal_info(refusal: GateRefusal) -> dict[str, Any]:
    """The JSON-safe ``output_info`` of heso's guardrail results (kept in ``RunState``)."""
    return {
        "heso": {
            "refusal": "suspended" if isinstance(refusal, SuspendedError) else "blocked",
            "action_hash": refusal.action_hash,
            "rule_id": refusal.rule_id,
            "reason": refusal.reason,
        }
    }


__all__ = [
    "MODES",
    "Mode",
    "ToolBlocked",
    "ToolSuspended",
    "check_mode",
    "refusal_info",
    "refusal_text",
    "tripwire",
]
