"""Gate a LangGraph ``ToolNode``: pass :func:`wrap_tool_call` / :func:`awrap_tool_call` (or a
configured :class:`ToolCallGate`'s methods) as ``ToolNode(tools, wrap_tool_call=...,
awrap_tool_call=...)``.

Each tool call is gated once as ``tool_call``; its fields are the arguments the tool's function
will receive (the model's arguments validated, coerced and defaulted as the tool does it,
:func:`heso_langchain._gate.call_fields_of`; the raw arguments of a tool the node does not
know, or that the tool's validation rejects). A blocked call
raises ``heso.BlockedError`` (``mode="raise"``, the default) or returns its refusal to the
model as an error ``ToolMessage`` (``mode="message"``). A ``require_approval`` call pauses the
graph with ``interrupt()`` when the graph has a checkpointer: the interrupt's value describes
the action (``action_hash``, ``rule_id``, ``reason``, ``approvers``, ``args`` as gated); an
approver
runs ``heso approve <action> --as <name>``; resuming the graph (``Command(resume=...)``) then
fires the action through the core's re-entry (:func:`heso.adapters.fire`: finalizes
the L1 receipt, takes the exactly-once claim, records ``fired``, then ``completed`` when the
tool returns), refuses it if it was denied or expired, and pauses again while it is still
pending. Without a checkpointer the call is refused like a block (``heso.SuspendedError``, or
the refusal text in message mode).

Re-entry on resume does not capture again: the gate's result is checkpointed as a LangGraph
``task``, so the node's re-run reads it back instead of minting a second receipt. (A
``ToolNode`` that runs several tool calls in one step re-runs its allowed siblings' bodies on
resume, as LangGraph re-executes the node; their receipts are not minted twice.
``create_agent`` runs each tool call as its own task and re-runs nothing.)

An approved call fires at most once. If LangGraph re-runs a node whose approved call already
fired (a sibling in the same ``ToolNode`` step paused again, so the node runs once more on the
next resume), the tool does not run again: the model reads, whatever the mode, the core's
refusal ``heso: blocked by rule <id>: <display text> (it already ran once)`` as that call's
result (the first run's output is not checkpointed), instead of the graph crashing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langchain_core.messages import ToolMessage
from langgraph.func import task
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command, interrupt

from heso import BridgeError, GateRefusal, SuspendedError
from heso.adapters import (
    ApprovalStatus,
    FireTicket,
    action_hash_scope,
    append_decision,
    decision,
    fire,
    lookup,
)
from heso_langchain._gate import (
    GateResult,
    call_fields_of,
    check,
    check_mode,
    refusal_text,
    tool_fields,
)

ToolResult = ToolMessage | Command
Execute = Callable[[ToolCallRequest], ToolResult]
AExecute = Callable[[ToolCallRequest], Awaitable[ToolResult]]

_APPROVE = frozenset({"approve", "approved", "accept", "yes", "true"})
_DENY = frozenset({"deny", "denied", "reject", "rejected", "no", "false"})
_PENDING = ("suspended", "escalated")
_RAN = (ApprovalStatus.FIRED, ApprovalStatus.COMPLETED)


class ToolCallGate:
    """The heso gate for tool calls run by a ``ToolNode`` (or an agent middleware).

    ``mode``: ``"raise"`` (default) or ``"message"`` for blocked, denied and (without a
    checkpointer) approval-needing calls. ``approve_on_resume``: let a resume value of
    ``"approve"`` approve a pending action as the operator (an L0 approval recorded with
    ``heso.append_decision``); by default only approvers' signed decisions (``heso approve``)
    approve, and the resume value only says "check again". A resume value of ``"deny"``
    (or ``{"type": "reject"}``) records the operator's denial. ``agent`` names the acting
    agent in the receipts (policies match it with ``subject = { kind = "agent" }``).
    """

    def __init__(
        self, *, mode: str = "raise", approve_on_resume: bool = False, agent: str | None = None
    ) -> None:
        self.mode = check_mode(mode)
        self.approve_on_resume = approve_on_resume
        self.agent = agent

    def __repr__(self) -> str:
        return f"ToolCallGate(mode={self.mode!r}, approve_on_resume={self.approve_on_resume})"

    # -- the two wrappers --------------------------------------------------------------------

    def wrap_tool_call(self, request: ToolCallRequest, execute: Execute) -> ToolResult:
        """``ToolNode(wrap_tool_call=...)``: gate, then ``execute(request)`` at most once."""
        if _pausable(request):
            gate_task = task(self._gate_result_task(request, False), name=_task_name(request))
            gate_result = _gate_result_from(gate_task().result(), request)
        else:
            gate_result = self._gate_result(request, False)
        settled = self._settle(request, gate_result)
        if isinstance(settled, ToolMessage):
            return settled
        if settled is None:
            with action_hash_scope(gate_result.action_hash):
                return execute(request)
        with settled:  # the one firing: `completed` is recorded when the tool returns
            return _completed(settled, execute(request))

    async def awrap_tool_call(self, request: ToolCallRequest, execute: AExecute) -> ToolResult:
        """``ToolNode(awrap_tool_call=...)``: the async form of :meth:`wrap_tool_call`."""
        if _pausable(request):
            gate_task = task(self._gate_result_task(request, True), name=_task_name(request))
            gate_result = _gate_result_from(await gate_task(), request)
        else:
            gate_result = self._gate_result(request, True)
        settled = self._settle(request, gate_result)
        if isinstance(settled, ToolMessage):
            return settled
        if settled is None:
            with action_hash_scope(gate_result.action_hash):
                return await execute(request)
        with settled:
            return _completed(settled, await execute(request))

    # -- steps -------------------------------------------------------------------------------

    def _gate_result(self, request: ToolCallRequest, asynchronous: bool) -> GateResult:
        call = request.tool_call
        fields = _fields(request, asynchronous)
        outcome, refusal = check("tool_call", call["name"], fields, agent=self.agent)
        return GateResult.of(call.get("id"), outcome, refusal, fields)

    def _gate_result_task(
        self, request: ToolCallRequest, asynchronous: bool
    ) -> Callable[[], dict[str, Any]]:
        def heso_gate() -> dict[str, Any]:
            return self._gate_result(request, asynchronous).to_data()

        return heso_gate

    def _refuse(
        self, request: ToolCallRequest, refusal: GateRefusal, *, raising: bool = True
    ) -> ToolMessage:
        if raising and self.mode == "raise":
            raise refusal
        call = request.tool_call
        return ToolMessage(
            content=refusal_text(refusal),
            name=call["name"],
            tool_call_id=call.get("id") or "",
            status="error",
        )

    def _payload(
        self, request: ToolCallRequest, gate_result: GateResult, refusal: GateRefusal, session: str
    ) -> dict[str, Any]:
        call = request.tool_call
        short = (refusal.action_hash or "")[:12]
        return {
            "heso": "approval_required",
            "tool": call["name"],
            "args": dict(gate_result.fields or {}),
            "tool_call_id": call.get("id"),
            "action_hash": refusal.action_hash,
            "session": session,
            "rule_id": refusal.rule_id,
            "reason": refusal.reason,
            "approvers": list(getattr(refusal, "approvers", ())),
            "next": f"an approver runs `heso approve {short} --as <name>`, then resume the graph",
        }

    def _record_answer(self, session: str, answer: Any) -> None:
        """Record the resumer's own decision, when it made one heso should keep."""
        word = _answer_word(answer)
        if word is None or decision(session) not in _PENDING:
            return
        if word in _DENY:
            append_decision(session, "denied", reason=_answer_reason(answer))
        elif word in _APPROVE and self.approve_on_resume:
            append_decision(session, "approved", reason=_answer_reason(answer))

    def _settle(
        self, request: ToolCallRequest, gate_result: GateResult
    ) -> ToolMessage | FireTicket | None:
        """``None`` when the call may run now as the action it was captured as; a
        :class:`~heso.adapters.FireTicket` when it runs as the one firing of its
        approved suspension; else its refusal (raised in raise mode). A suspended call in a
        pausable graph waits here, across interrupts, for its decision."""
        refusal = gate_result.refusal_error()
        if refusal is None:
            return None
        if not (gate_result.suspended and _pausable(request)):
            return self._refuse(request, refusal)
        found = lookup(refusal.action_hash or "")
        if found is None:
            raise BridgeError(
                f"heso: no approval session for the suspended action "
                f"{(refusal.action_hash or '')[:12]!r}; refusing to run it"
            )
        while True:
            answer = interrupt(self._payload(request, gate_result, refusal, found.session))
            self._record_answer(found.session, answer)
            fired = fire(found)
            if isinstance(fired, FireTicket):
                return fired
            if isinstance(fired, SuspendedError):
                continue
            now = lookup(found.session)
            if now is not None and now.status in _RAN:
                # LangGraph re-ran the node after this call fired: tell the model, don't crash.
                return self._refuse(request, fired, raising=False)
            return self._refuse(request, fired)


def _fields(request: ToolCallRequest, asynchronous: bool) -> dict[str, Any]:
    """The arguments the requested tool's function will receive; the raw arguments when the
    node does not know the tool or the tool's validation rejects them (it then runs
    nothing)."""
    call = request.tool_call
    tool = getattr(request, "tool", None)
    args = call.get("args") or {}
    bound = None
    if tool is not None:
        bound = call_fields_of(tool, args, call.get("id"), asynchronous=asynchronous)
    return bound if bound is not None else tool_fields(args)


def _completed(ticket: FireTicket, result: ToolResult) -> ToolResult:
    """``result``; a tool error ``ToolNode`` turned into an error ``ToolMessage`` is recorded
    as ``completed`` with ``error="ToolError"``."""
    if isinstance(result, ToolMessage) and result.status == "error":
        ticket.complete(False, error="ToolError")
    return result


def _pausable(request: ToolCallRequest) -> bool:
    """The graph has a checkpointer, so ``interrupt()`` can pause it."""
    info = getattr(getattr(request, "runtime", None), "execution_info", None)
    return info is not None and info.thread_id is not None


def _task_name(request: ToolCallRequest) -> str:
    # Unique per tool call: LangGraph matches a task's checkpointed result by name and call
    # order, so parallel calls in one node never read each other's gate result.
    call = request.tool_call
    key = call.get("id") or f"{call['name']}:{sorted((call.get('args') or {}).items())!r}"
    return "heso_gate_" + hashlib.sha256(str(key).encode()).hexdigest()[:20]


def _gate_result_from(data: Mapping[str, Any], request: ToolCallRequest) -> GateResult:
    gate_result = GateResult.from_data(data)
    if gate_result.tool_call_id != request.tool_call.get("id"):
        raise BridgeError(
            "heso: the checkpointed gate result belongs to tool call "
            f"{gate_result.tool_call_id!r}, "
            f"not {request.tool_call.get('id')!r}; refusing to run it"
        )
    return gate_result


def _answer_word(answer: Any) -> str | None:
    if isinstance(answer, bool):
        return str(answer).lower()
    if isinstance(answer, str):
        return answer.strip().lower()
    if isinstance(answer, Mapping):
        for key in ("type", "decision", "action"):
            if isinstance(answer.get(key), str):
                return str(answer[key]).strip().lower()
        decisions = answer.get("decisions")
        if isinstance(decisions, list) and decisions:
            return _answer_word(decisions[0])
    return None


def _answer_reason(answer: Any) -> str | None:
    if isinstance(answer, Mapping):
        for key in ("message", "reason"):
            if isinstance(answer.get(key), str):
                return str(answer[key])
    return None


_default = ToolCallGate()


def wrap_tool_call(request: ToolCallRequest, execute: Execute) -> ToolResult:
    """Gate one tool call of a ``ToolNode`` (raise mode); see the module docstring."""
    return _default.wrap_tool_call(request, execute)


async def awrap_tool_call(request: ToolCallRequest, execute: AExecute) -> ToolResult:
    """Async :func:`wrap_tool_call`."""
    return await _default.awrap_tool_call(request, execute)


__all__ = ["ToolCallGate", "awrap_tool_call", "wrap_tool_call"]
