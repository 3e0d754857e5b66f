"""One MCP ``tools/call`` through heso's capture path, shared by the client and server gates.

MCP has no native pause, so a ``require_approval`` call is refused and parked: the core opens
the pending approval ``action-<action_hash>``. When the same tool is called again with the same
arguments (same workflow and account, same project), the parked approval is resumed
(``heso.resume``) instead of capturing a new action: once approvers approved, the call fires
exactly once (the approvals store's fire claim) under the approved receipt's ``action_hash``;
while pending it is refused again without a new receipt; after a denial or expiry it is refused
and forgotten. Parked calls are remembered by this process; with a pinned clock the same call
reproduces the same ``action_hash`` and is recognised from the approvals store alone.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from heso import config as _config
from heso.action import Verb
from heso.approvals.gated import resume
from heso.approvals.session import AUTO_SESSION_PREFIX
from heso.approvals.sla import clock, stamp
from heso.approvals.store import Store
from heso.canonical import canonical_bytes, to_json_value
from heso.capture import action_hash_scope, gate
from heso.errors import BlockedError, GateRefusal, SuspendedError
from heso.steps import current_step

T = TypeVar("T")

Mode = Literal["raise", "message"]
"""``raise``: the refusal is raised (``BlockedError`` / ``SuspendedError``); ``message``: it
becomes a tool error the model reads (``heso: blocked by rule <id>: <reason>``)."""

MODES: tuple[Mode, ...] = ("raise", "message")
_OPEN = ("suspended", "escalated")


def check_mode(mode: str) -> Mode:
    """``mode`` if it is a refusal mode."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'raise' or 'message', not {mode!r}")
    return mode  # type: ignore[return-value]


@dataclass(frozen=True)
class _Parked:
    session: str
    suspended: SuspendedError
    """Kept without a traceback (it would hold the calling frames alive); raise ``refusal()``."""

    def refusal(self) -> SuspendedError:
        return copy.copy(self.suspended)


_parked: dict[bytes, _Parked] = {}


def _call_key(tool_name: str, fields: Mapping[str, Any]) -> bytes:
    """What makes two calls the same action: project, tool, arguments, workflow, account."""
    frame = current_step()
    return canonical_bytes(
        {
            "account": frame.account if frame else None,
            "data_dir": str(_config.current().config.data_dir),
            "fields": to_json_value(dict(fields), path="fields"),
            "tool": tool_name,
            "workflow": frame.workflow if frame else None,
        }
    )


async def run(
    tool_name: str, arguments: Mapping[str, Any] | None, send: Callable[[], Awaitable[T]]
) -> T:
    """Gate ``tool_name(**arguments)`` as a ``tool_call`` and await ``send()`` only when admitted.

    Raises the ``GateRefusal`` when blocking is on and policy refused (the caller turns it into
    its framework's refusal); a gate failure raises (fail closed). ``send`` runs with
    :func:`heso.current_action_hash` set.
    """
    fields = dict(arguments or {})
    key = None
    if _parked and _config.current().config.blocking:
        key = _call_key(tool_name, fields)
        parked = _parked.get(key)
        if parked is not None:
            done, value = await _resume(key, parked, send)
            if done:
                return value
    try:
        outcome = gate(Verb.TOOL_CALL, tool_name, fields)
    except SuspendedError as exc:
        refusal = exc
    else:
        with action_hash_scope(outcome.action_hash):
            return await send()
    # A pinned clock reproduces the same action_hash, whose approval may already be given.
    parked = _Parked(f"{AUTO_SESSION_PREFIX}{refusal.action_hash}", copy.copy(refusal))
    done, value = await _resume(key or _call_key(tool_name, fields), parked, send)
    if done:
        return value
    raise refusal


async def _resume(
    key: bytes, parked: _Parked, send: Callable[[], Awaitable[T]]
) -> tuple[bool, Any]:
    """Resume a parked approval: ``(True, result)`` once it fired, raise while it is pending or
    after it was refused, ``(False, None)`` when it is spent or gone (capture anew)."""
    refusal = parked.suspended
    state = resume(parked.session)  # records due timeouts, finalizes the L1 receipt
    if state in _OPEN:
        _parked[key] = parked
        raise parked.refusal()
    _parked.pop(key, None)
    if state in ("denied", "expired"):
        raise BlockedError(
            f"heso refused action {(refusal.action_hash or '')[:12]}: its approval was {state} "
            f"(rule {refusal.rule_id})",
            action_hash=refusal.action_hash,
            rule_id=refusal.rule_id,
            reason=f"approval {state}",
        )
    if state != "approved" or not _claim(parked):
        return False, None
    with action_hash_scope(refusal.action_hash):
        return True, await send()


def _claim(parked: _Parked) -> bool:
    """Win the approved session's one firing, across threads and processes."""
    runtime = _config.current()
    note = {
        "action_hash": parked.suspended.action_hash,
        "at": stamp(clock(runtime)),
        "by": "heso-mcp",
        "pid": os.getpid(),
    }
    return Store(runtime.config.data_dir).claim_fire(parked.session, note)


def refusal_text(refusal: GateRefusal, tool_name: str) -> str:
    """What the model reads for a refusal: the rule, its display text and, for an approval,
    the next step."""
    if isinstance(refusal, SuspendedError):
        short = (refusal.action_hash or "")[:12]
        who = ", ".join(refusal.approvers) or "the policy's approvers"
        return (
            f"heso: approval required by rule {refusal.rule_id}: {refusal.reason}. Action {short} "
            f"awaits an approver ({who}): `heso approve {short} --as <name>`; once approved, "
            f"call {tool_name} again with the same arguments"
        )
    return f"heso: blocked by rule {refusal.rule_id}: {refusal.reason}"


def refusal_meta(refusal: GateRefusal) -> dict[str, Any]:
    """Machine-readable refusal for an MCP result's ``_meta``."""
    return {
        "heso": {
            "refusal": "suspended" if isinstance(refusal, SuspendedError) else "blocked",
            "action_hash": refusal.action_hash,
            "rule_id": refusal.rule_id,
        }
    }
