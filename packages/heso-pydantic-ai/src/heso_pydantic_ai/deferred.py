"""Resuming a run whose tool calls heso deferred for human approval.

A deferred call's metadata carries heso's entry (``{"heso": {"action_hash", "session", ...}}``);
on re-entry :class:`~heso_pydantic_ai.HesoCapability` passes its ``action_hash`` to
:func:`heso.adapters.find` as the hint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic_ai import DeferredToolRequests, DeferredToolResults, ToolApproved

from heso import SuspendedError
from heso.adapters import decision, session_of

HINT_KEY = "heso"
"""The key of heso's entry in a deferred call's metadata (``{"heso": {"action_hash": ...}}``)."""

_UNDECIDED = ("suspended", "escalated")


def hint(suspended: SuspendedError) -> dict[str, Any]:
    """heso's entry in the metadata of a call it deferred."""
    return {
        "action_hash": suspended.action_hash,
        "session": session_of(suspended.action_hash or ""),
        "rule_id": suspended.rule_id,
        "reason": suspended.reason,
        "approvers": list(suspended.approvers),
    }


def hint_of(metadata: Any) -> str | None:
    """The ``action_hash`` heso put in a deferred call's metadata, if it is there."""
    if isinstance(metadata, Mapping):
        entry = metadata.get(HINT_KEY)
        if isinstance(entry, Mapping) and isinstance(entry.get("action_hash"), str):
            return str(entry["action_hash"])
    return None


def decisions(requests: DeferredToolRequests) -> dict[str, str | None]:
    """heso's decision for each call it deferred in ``requests``, by ``tool_call_id``:
    ``suspended``, ``escalated``, ``approved``, ``denied``, ``expired``, ``completed``."""
    out: dict[str, str | None] = {}
    for call in requests.approvals:
        action_hash = hint_of(requests.metadata.get(call.tool_call_id))
        if action_hash is not None:
            out[call.tool_call_id] = decision(session_of(action_hash))
    return out


def resume_results(requests: DeferredToolRequests) -> DeferredToolResults:
    """The ``deferred_tool_results`` that continue every call heso deferred in ``requests``.

    Each is re-entered (``ToolApproved``) with heso's metadata; :class:`HesoCapability` then
    runs it exactly once if the approvers approved in heso, and refuses it (per its mode) if
    they denied it or it expired. Raises ``heso.SuspendedError`` while any call still awaits a
    decision. Calls the framework deferred for its own reasons are left out: add their
    results (``results.approvals[id] = ...``) before resuming.

    ``agent.run(message_history=result.all_messages(),
    deferred_tool_results=resume_results(result.output))``
    """
    results = DeferredToolResults()
    waiting = []
    for call_id, state in decisions(requests).items():
        if state in _UNDECIDED:
            waiting.append(requests.metadata[call_id][HINT_KEY])
            continue
        results.approvals[call_id] = ToolApproved()
        results.metadata[call_id] = requests.metadata[call_id]
    if waiting:
        first = waiting[0]
        short = str(first["action_hash"])[:12]
        raise SuspendedError(
            f"{len(waiting)} deferred call(s) still await approval in heso (first: receipt "
            f"{short}, rule {first.get('rule_id')}). Next: an approver runs `heso approve "
            f"{short} --as <name>`; then resume",
            action_hash=first["action_hash"],
            rule_id=first.get("rule_id"),
            reason=first.get("reason"),
            approvers=list(first.get("approvers") or ()),
        )
    return results
