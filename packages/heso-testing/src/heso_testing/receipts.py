"""Signed receipts made directly (no policy, no project), for tests of the ledger, its stores
and the verifiers: :func:`signed_receipt` mints receipt number ``i`` under ``key``."""

from __future__ import annotations

from typing import Any

__all__ = ["signed_receipt", "tool_content"]

CAPTURED_AT = "2026-01-02T03:04:05Z"


def tool_content(key: Any, i: int, *, tool: str = "send_email") -> dict[str, Any]:
    """The content of an allowed ``tool_call`` of ``tool`` with fields ``{"i": i}``, by the
    operator ``key`` (a :class:`heso.keys.SigningKey`), at a fixed time."""
    from heso.receipt import build_content

    return build_content(
        captured_at=CAPTURED_AT,
        agent_identity=key.public_key().to_str(),
        action={
            "verb": "tool_call",
            "tool_name": tool,
            "workflow": "default",
            "account": "default",
            "fields": {"i": i},
        },
        policy={
            "rule_id": "r",
            "rule_display": "r",
            "matched_conditions": [],
            "decision_path": "rule:r",
            "decision": "allow",
        },
    )


def signed_receipt(key: Any, i: int, *, tool: str = "send_email") -> dict[str, Any]:
    """:func:`tool_content` signed by ``key``."""
    from heso.receipt import mint

    return mint(tool_content(key, i, tool=tool), key)
