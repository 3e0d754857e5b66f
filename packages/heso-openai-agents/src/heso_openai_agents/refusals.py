"""How a heso refusal leaves the run in raise mode: an exception that is both the heso
refusal and the SDK's tripwire. The text and modes are the core's (:mod:`heso.adapters`)."""

from __future__ import annotations

from typing import Any

from agents.exceptions import ToolInputGuardrailTripwireTriggered
from agents.tool_guardrails import ToolGuardrailFunctionOutput, ToolInputGuardrail

from heso import BlockedError, GateRefusal, SuspendedError
from heso.adapters import Mode, refusal_info, refusal_text


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


__all__ = ["Mode", "ToolBlocked", "ToolSuspended", "refusal_info", "refusal_text", "tripwire"]
