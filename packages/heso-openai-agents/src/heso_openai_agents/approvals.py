"""Native approvals: a paused tool call runs only once heso's approvers approved it, once.

When the gate suspends a call, the core opens its pending approval (session
``action-<action_hash>``) and the SDK run ends with ``result.interruptions``. This module
remembers which heso action each paused call is (tool, ``call_id`` and arguments ->
``action_hash``), so re-entry after the SDK's resume finds that action instead of capturing the
call again. :func:`apply_approvals` mirrors heso's decisions into the SDK's ``RunState``; the
guardrail fires the action only when the approvals store says ``approved``, and claims its one
firing there, so neither ``state.approve(item)`` alone nor a second resume runs it.

The memory is per process. To resume a ``RunState`` in another process, save
:func:`pending_actions` with it and pass it to :func:`apply_approvals` as ``actions=``.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from agents import FunctionTool, ToolInputGuardrail
from agents.items import ToolApprovalItem
from agents.run_state import RunState

from heso import BridgeError, GateRefusal, SuspendedError, adapters
from heso.adapters import (
    ApprovalStatus,
    FireTicket,
    Mode,
    Outcome,
    Verb,
    find,
    lookup,
    project_key,
    refusal_text,
    session_of,
    suspension,
)
from heso_openai_agents.arguments import call_fields_of, parse_arguments
from heso_openai_agents.refusals import tripwire

_HELD_LIMIT = 4096


@dataclass(frozen=True)
class Call:
    """One function tool call as the SDK identifies it, in the current heso project."""

    project: str
    tool_name: str
    call_id: str
    arguments: str

    @classmethod
    def of(cls, tool_name: str, call_id: str, fields: Mapping[str, Any]) -> Call:
        arguments = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return cls(project_key(), tool_name, call_id, arguments)


class PausingGate(Protocol):
    """What a paused call remembers of the gate that paused it
    (:class:`~heso_openai_agents.HesoGate`)."""

    @property
    def mode(self) -> Mode: ...

    @property
    def guardrail(self) -> ToolInputGuardrail[Any]: ...


@dataclass(frozen=True)
class Parked:
    """A call the gate suspended: the heso action it is, and the gate that paused it."""

    action_hash: str
    session: str
    refusal: SuspendedError
    gate: PausingGate
    """The gate that paused it (its ``mode`` and ``guardrail``)."""


class PausedCalls:
    """What the two seams hand each other, per call: a paused call's action until it fires
    or is refused, and a verdict ``needs_approval`` captured for the guardrail to take."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parked: dict[Call, Parked] = {}
        self._pausing: set[Call] = set()
        self._held: OrderedDict[Call, Outcome | GateRefusal] = OrderedDict()

    def park(self, call: Call, refusal: SuspendedError, gate: PausingGate) -> Parked:
        assert refusal.action_hash is not None
        session = session_of(refusal.action_hash)  # opened by the core
        parked = Parked(refusal.action_hash, session, refusal, gate)
        with self._lock:
            self._parked[call] = parked
        return parked

    def parked(self, call: Call) -> Parked | None:
        with self._lock:
            return self._parked.get(call)

    def forget(self, call: Call) -> None:
        with self._lock:
            self._parked.pop(call, None)
            self._pausing.discard(call)

    def set_pausing(self, call: Call, pausing: bool) -> None:
        """Record whether ``needs_approval`` last told the SDK to pause ``call``."""
        with self._lock:
            if pausing:
                self._pausing.add(call)
            else:
                self._pausing.discard(call)

    def pausing(self, call: Call) -> bool:
        with self._lock:
            return call in self._pausing

    def hold(self, call: Call, held: Outcome | GateRefusal) -> None:
        with self._lock:
            self._held[call] = held
            self._held.move_to_end(call)
            while len(self._held) > _HELD_LIMIT:
                self._held.popitem(last=False)

    def take(self, call: Call) -> Outcome | GateRefusal | None:
        with self._lock:
            return self._held.pop(call, None)

    def clear(self) -> None:
        """Forget every call (what a fresh process knows)."""
        with self._lock:
            self._parked.clear()
            self._pausing.clear()
            self._held.clear()


paused_calls = PausedCalls()


def status(parked: Parked) -> ApprovalStatus | None:
    """Where the paused action's session stands after recording due timeouts; ``None`` for an
    unknown session."""
    return adapters.status(parked.session, settle=True)


def fire(call: Call, parked: Parked) -> FireTicket | GateRefusal:
    """Claim the one firing of a paused call (:func:`heso.adapters.fire`): its ticket, or why
    it may not run (``SuspendedError`` keeps the call paused)."""
    found = lookup(parked.session)
    fired = adapters.fire(found) if found is not None else parked.refusal
    if not isinstance(fired, SuspendedError):
        paused_calls.forget(call)
    return fired


# -- mirroring heso's decisions into the SDK's RunState -------------------------------------


@dataclass
class Decisions:
    """What :func:`apply_approvals` found for each interruption of a ``RunState``."""

    approved: list[ToolApprovalItem] = field(default_factory=list)
    """Approved in heso; approved in the state too. Resuming runs each exactly once."""
    refused: list[ToolApprovalItem] = field(default_factory=list)
    """Denied or expired in heso: rejected in the state with heso's reason (the model is
    told)."""
    pending: list[ToolApprovalItem] = field(default_factory=list)
    """Still awaiting heso's approvers: resuming pauses again."""
    unknown: list[ToolApprovalItem] = field(default_factory=list)
    """Not paused by heso in this process (another approval, or a ``RunState`` restored
    elsewhere without ``actions=``); decide them yourself."""

    @property
    def ready(self) -> bool:
        """Nothing awaits heso's approvers: resume now."""
        return not self.pending


def apply_approvals(
    state: RunState[Any, Any], *, actions: Mapping[str, str] | None = None
) -> Decisions:
    """Mirror heso's approval decisions into ``state`` for every call the gate paused; then
    resume with ``Runner.run(agent, state)``.

    Approved in heso: ``state.approve(item)``; the call runs once on resume. Denied or expired:
    ``state.reject(item, rejection_message=<heso's reason>)``, and in ``mode="raise"`` the
    refusal (:class:`~heso_openai_agents.ToolBlocked`) is raised once every item is applied
    (resuming anyway tells the model). Only a signed decision in heso's approvals store counts
    (``heso approve``/``heso deny``); the approval is checked again, and the action claimed
    exactly once, when the call runs. ``actions`` (from :func:`pending_actions`) restores
    what a ``RunState`` restored in another process is waiting for.
    """
    decisions = Decisions()
    raised: GateRefusal | None = None
    for item in state.get_interruptions():
        found = _parked_of(item, actions)
        if found is None:
            decisions.unknown.append(item)
            continue
        call, parked = found
        decision = status(parked)
        if decision is not None and decision.waiting:
            decisions.pending.append(item)
        elif decision is ApprovalStatus.APPROVED:
            state.approve(item)
            decisions.approved.append(item)
        else:
            found = lookup(parked.session)
            refusal = (found.refusal() if found is not None else None) or parked.refusal
            state.reject(item, rejection_message=refusal_text(refusal))
            paused_calls.forget(call)
            decisions.refused.append(item)
            if parked.gate.mode == "raise" and raised is None:
                raised = tripwire(refusal, parked.gate.guardrail)
    if raised is not None:
        raise raised
    return decisions


def pending_actions(source: Any) -> dict[str, str]:
    """``call_id -> action_hash`` of the interruptions of a ``RunResult`` or ``RunState``
    that heso paused: save it with ``state.to_json()`` to resume in another process."""
    items = source.interruptions if hasattr(source, "interruptions") else source.get_interruptions()
    found: dict[str, str] = {}
    for item in items:
        hit = _parked_of(item, None)
        if hit is not None:
            found[hit[0].call_id] = hit[1].action_hash
    return found


def _parked_of(
    item: ToolApprovalItem, actions: Mapping[str, str] | None
) -> tuple[Call, Parked] | None:
    raw = item.raw_item
    kind = raw.get("type") if isinstance(raw, Mapping) else getattr(raw, "type", None)
    tool_name, call_id = item.tool_name, item.call_id
    if kind != "function_call" or not tool_name or not call_id:
        return None
    try:
        fields = parse_arguments(tool_name, item.arguments)
    except BridgeError:
        return None  # the SDK pauses calls it cannot parse without asking the gate
    call = Call.of(tool_name, call_id, fields)
    parked = paused_calls.parked(call)
    if parked is None and actions and call_id in actions:
        tool = _tool_of(item)
        gate = getattr(tool, "_heso_gate", None)
        if gate is not None:
            bound = call_fields_of(tool, fields)
            parked = _adopt(call, fields if bound is None else bound, actions[call_id], gate)
    return (call, parked) if parked is not None else None


def _tool_of(item: ToolApprovalItem) -> FunctionTool | None:
    for tool in getattr(item.agent, "tools", ()):
        if isinstance(tool, FunctionTool) and tool.name == item.tool_name:
            return tool
    return None


def _adopt(call: Call, fields: Mapping[str, Any], action_hash: str, gate: PausingGate) -> Parked:
    """Park ``call`` as ``action_hash`` after checking the suspended receipt is this call
    (redacted arguments must open their commitments); the workflow and account are the
    recorded ones, as the restored run may resume outside the original ``heso.step``."""
    suspended = lookup(action_hash)
    found = None
    if suspended is not None:
        recorded = suspended.state.receipt["content"]["action"]
        found = find(
            Verb.TOOL_CALL,
            call.tool_name,
            fields,
            workflow=recorded.get("workflow"),
            account=recorded.get("account"),
            hint=action_hash,
            include_spent=True,
        )
    if suspended is None or found is None or found.session != suspended.session:
        raise ValueError(
            f"action {action_hash[:12]} is not the paused call {call.call_id!r} of "
            f"{call.tool_name!r}: actions= must come from pending_actions() of this run"
        )
    return paused_calls.park(call, suspension(found.state), gate)


__all__ = [
    "Call",
    "Decisions",
    "Parked",
    "apply_approvals",
    "fire",
    "pending_actions",
    "status",
]
