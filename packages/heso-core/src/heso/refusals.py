"""How a refusal reaches an agent: raised out of the run, or handed to the model as text.

Every adapter takes ``mode="raise"`` (the refusal, ``BlockedError`` / ``SuspendedError``,
propagates out of the run) or ``mode="message"`` (the model reads :func:`refusal_text` as the
tool's result and carries on). The text is the same on every framework.
"""

from __future__ import annotations

from typing import Any, Literal

from heso.errors import GateRefusal, SuspendedError

Mode = Literal["raise", "message"]
"""``raise``: the refusal propagates out of the run; ``message``: the model reads
:func:`refusal_text` instead of the tool's result."""

MODES: tuple[Mode, ...] = ("raise", "message")

GATE_FAILED = "heso: blocked: the heso gate failed, so the action did not run"
"""What the model reads when the gate itself failed (the error's details are not shown)."""


def check_mode(mode: str) -> Mode:
    """``mode`` if it is a refusal mode, else ``ValueError``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of 'raise', 'message', not {mode!r}")
    return mode


def refusal_text(refusal: BaseException) -> str:
    """What the model reads for a refusal.

    - blocked: ``heso: blocked by rule <id>: <display text>`` (a denied, expired or spent
      approval says so after the display text);
    - awaiting approval: ``heso: needs approval by rule <id>: <display text>; approve with
      `heso approve <short hash> --as <name>```;
    - anything else (the gate failed): :data:`GATE_FAILED`.
    """
    if isinstance(refusal, SuspendedError):
        short = (refusal.action_hash or "")[:12]
        return (
            f"heso: needs approval by rule {refusal.rule_id}: {_reason(refusal)}; approve with "
            f"`heso approve {short} --as <name>`"
        )
    if isinstance(refusal, GateRefusal):
        return f"heso: blocked by rule {refusal.rule_id}: {_reason(refusal)}"
    return GATE_FAILED


def refusal_info(refusal: GateRefusal) -> dict[str, Any]:
    """The refusal as JSON-safe data for a framework's result metadata:
    ``{"heso": {"refusal": "blocked" | "suspended", "action_hash", "rule_id", "reason"}}``."""
    return {
        "heso": {
            "refusal": "suspended" if isinstance(refusal, SuspendedError) else "blocked",
            "action_hash": refusal.action_hash,
            "rule_id": refusal.rule_id,
            "reason": refusal.reason,
        }
    }


def _reason(refusal: GateRefusal) -> str:
    return refusal.reason or refusal.rule_id or "no reason given"


__all__ = ["GATE_FAILED", "MODES", "Mode", "check_mode", "refusal_info", "refusal_text"]
