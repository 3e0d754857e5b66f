"""The heso gate on every function tool of an OpenAI Agents SDK agent.

Two SDK seams, one capture per tool call (verb ``tool_call``, the tool's name, and as fields
the arguments its function receives: the call's JSON validated by the tool's parameter model,
defaults applied, :func:`heso_openai_agents.arguments.call_fields_of`):

- ``needs_approval`` (installed by :meth:`HesoGate.protect`) runs first, when the SDK decides
  whether the call must wait for a human. It captures the call; a ``require_approval`` verdict
  returns ``True``, so the run ends with ``result.interruptions`` (a native pause).
- the tool input guardrail runs right before the body. It takes the verdict the first seam
  captured (or captures itself when that seam was not consulted) and lets the body run,
  hands the model ``reject_content`` (``mode="message"``), or raises (``mode="raise"``). For
  a call that paused, it fires the action only once heso's approvals store says the approvers
  approved it, exactly once: the SDK's ``state.approve(item)`` alone never runs it.

The body runs with ``heso.current_action_hash()`` naming its receipt. A failure of the gate
itself propagates (the SDK aborts the run): the body never runs
unrecorded while blocking is on.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar, get_args, get_origin

from agents import Agent, FunctionTool, RunContextWrapper
from agents.agent import AgentBase
from agents.tool import Tool
from agents.tool_guardrails import (
    ToolGuardrailFunctionOutput,
    ToolInputGuardrail,
    ToolInputGuardrailData,
)

from heso import GateRefusal, SuspendedError
from heso.adapters import (
    ApprovalStatus,
    FireTicket,
    Mode,
    Outcome,
    Verb,
    action_hash_scope,
    check_mode,
    gate,
    refusal_info,
    refusal_text,
)
from heso_openai_agents import approvals
from heso_openai_agents.arguments import call_fields_of, parse_arguments
from heso_openai_agents.refusals import tripwire

GUARDRAIL_NAME = "heso"

_TOOL_TYPES = tuple(get_origin(t) or t for t in get_args(Tool))

T = TypeVar("T")
NeedsApproval = Callable[[RunContextWrapper[Any], dict[str, Any], str], Awaitable[bool]]


# -- the gate -------------------------------------------------------------------------------


class HesoGate:
    """Gate, sign and chain every function tool call of the agents it protects.

    ``HesoGate(mode="raise").protect(agent)`` (or :func:`protect`) installs the guardrail and
    the ``needs_approval`` check on every ``FunctionTool`` of the agent, of its handoff targets
    and of agents it uses as tools.

    - ``mode="raise"`` (default): a refusal raises :class:`ToolBlocked` (a ``heso.BlockedError``)
      or :class:`ToolSuspended` out of ``Runner.run``.
    - ``mode="message"``: the model receives ``heso: blocked by rule <id>: <display text>``
      instead of the tool's result and carries on.

    Either way a ``require_approval`` call pauses the run natively: see
    :func:`heso_openai_agents.apply_approvals`.
    """

    def __init__(self, *, mode: Mode = "raise") -> None:
        self.mode: Mode = check_mode(mode)
        self.guardrail: ToolInputGuardrail[Any] = ToolInputGuardrail(
            guardrail_function=self._check, name=GUARDRAIL_NAME
        )
        """The tool input guardrail alone, for ``function_tool(tool_input_guardrails=[...])``
        (without :meth:`protect`, a ``require_approval`` call is refused, not paused)."""

    def __repr__(self) -> str:
        return f"HesoGate(mode={self.mode!r})"

    # -- attaching --------------------------------------------------------------------------

    def protect(self, target: T) -> T:
        """Gate every ``FunctionTool`` of ``target`` (an ``Agent``, a ``FunctionTool`` or an
        iterable of them), following handoffs and agents used as tools; returns ``target``.

        Idempotent. Tools are changed in place, so agents sharing a tool share its gate; a tool
        already gated by another :class:`HesoGate` is a ``ValueError``. Tools that MCP servers
        list at run time are not reached: gate those servers with ``heso-mcp``.
        """
        todo = list(target) if _is_many(target) else [target]
        for item in todo:
            if not isinstance(item, (AgentBase, *_TOOL_TYPES)):
                raise TypeError(
                    "protect() takes an Agent, a FunctionTool or an iterable of them, not "
                    f"{type(item).__name__}"
                )
        seen: set[int] = set()
        while todo:
            item = todo.pop()
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, AgentBase):
                todo.extend(item.tools)
                todo.extend(_handoff_targets(item))
            elif isinstance(item, FunctionTool):
                self._attach(item)
                nested = getattr(item, "_agent_instance", None)
                if isinstance(nested, AgentBase):
                    todo.append(nested)
        return target

    def _attach(self, tool: FunctionTool) -> None:
        owner = getattr(tool, "_heso_gate", None)
        if owner is self:
            return
        if owner is not None:
            raise ValueError(f"tool {tool.name!r} is already gated by {owner!r}")
        tool.tool_input_guardrails = [self.guardrail, *(tool.tool_input_guardrails or [])]
        tool.needs_approval = self._needs_approval(tool, tool.needs_approval)
        tool._heso_gate = self  # type: ignore[attr-defined]

    def _needs_approval(
        self, tool: FunctionTool, original: bool | Callable[..., Any]
    ) -> NeedsApproval:
        async def needs_approval(
            ctx: RunContextWrapper[Any], params: dict[str, Any], call_id: str
        ) -> bool:
            verdict = self._decide(tool, params, call_id)
            if verdict is not None:
                return verdict
            if isinstance(original, bool):
                return original
            result = original(ctx, params, call_id)
            return bool(await result if inspect.isawaitable(result) else result)

        return needs_approval

    # -- the two seams ----------------------------------------------------------------------

    def _decide(self, tool: FunctionTool, params: dict[str, Any], call_id: str) -> bool | None:
        """``needs_approval``: ``True`` pauses the run for heso's approvers, ``False`` sends
        the call on to the guardrail, ``None`` defers to the tool's own setting."""
        call = approvals.Call.of(tool.name, call_id, params)
        verdict = self._verdict(call, tool.name, _fields_of(tool, params))
        approvals.paused_calls.set_pausing(call, verdict is True)
        return verdict

    def _verdict(self, call: approvals.Call, tool_name: str, fields: dict[str, Any]) -> bool | None:
        parked = approvals.paused_calls.parked(call)
        if parked is not None:
            status = approvals.status(parked)
            if status is not None and status.waiting:
                return True
            if status is not None:
                return None if status is ApprovalStatus.APPROVED else False
            approvals.paused_calls.forget(call)
        held = capture(tool_name, fields)
        if isinstance(held, SuspendedError):
            approvals.paused_calls.park(call, held, self)
            return True
        approvals.paused_calls.hold(call, held)
        return None

    def _check(self, data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
        ctx = data.context
        params = parse_arguments(ctx.tool_name, ctx.tool_arguments)
        call = approvals.Call.of(ctx.tool_name, ctx.tool_call_id, params)
        held: Outcome | GateRefusal | FireTicket | None
        parked = approvals.paused_calls.parked(call)
        if parked is not None:
            if _pre_approval(ctx, call):
                # RunConfig(tool_execution=ToolExecutionConfig(pre_approval_tool_input_guardrails
                # =True)): the SDK asks before it pauses the call; let it pause.
                return ToolGuardrailFunctionOutput.allow(refusal_info(parked.refusal))
            held = approvals.fire(call, parked)
        elif (held := approvals.paused_calls.take(call)) is None:
            held = capture(ctx.tool_name, _fields_of(_tool_of(data, self.guardrail), params))
        if isinstance(held, GateRefusal):
            return self._refuse(held)
        action_hash = held.action_hash
        # The SDK runs each tool call in its own task and starts the body from this context,
        # so the body sees its receipt as heso.current_action_hash(); nothing outlives the task.
        action_hash_scope(action_hash).__enter__()
        return ToolGuardrailFunctionOutput.allow(output_info={"heso": {"action_hash": action_hash}})

    def _refuse(self, refusal: GateRefusal) -> ToolGuardrailFunctionOutput:
        if self.mode == "raise":
            raise tripwire(refusal, self.guardrail)
        return ToolGuardrailFunctionOutput.reject_content(
            refusal_text(refusal), output_info=refusal_info(refusal)
        )


def capture(tool_name: str, fields: dict[str, Any]) -> Outcome | GateRefusal:
    """Gate one call through the core: its :class:`~heso.adapters.Outcome`, or the refusal
    (``BlockedError``/``SuspendedError``) when blocking is on. Gate failures propagate."""
    try:
        return gate(Verb.TOOL_CALL, tool_name, fields)
    except GateRefusal as refusal:
        return refusal


def protect(target: T, *, mode: Mode = "raise") -> T:
    """``HesoGate(mode=mode).protect(target)``: gate every function tool of an agent, its
    handoff targets and agents used as tools. Returns ``target``."""
    return HesoGate(mode=mode).protect(target)


def tool_guardrail(*, mode: Mode = "raise") -> ToolInputGuardrail[Any]:
    """A heso tool input guardrail for ``function_tool(tool_input_guardrails=[...])``.

    Alone it cannot pause a run, so a ``require_approval`` call is refused (``ToolSuspended``
    or a message); use :func:`protect` for native approvals.
    """
    return HesoGate(mode=mode).guardrail


def _fields_of(tool: FunctionTool | None, params: dict[str, Any]) -> dict[str, Any]:
    """The arguments ``tool``'s function receives for ``params``; ``params`` as sent when the
    tool's validation rejects them (the SDK then runs nothing) or the tool is not known."""
    bound = call_fields_of(tool, params) if tool is not None else None
    return bound if bound is not None else dict(params)


def _tool_of(data: ToolInputGuardrailData, guardrail: ToolInputGuardrail[Any]) -> Any:
    """The function tool of the running agent the guardrail checks a call of."""
    name = data.context.tool_name
    agent = data.context.agent or data.agent
    for tool in getattr(agent, "tools", ()):
        if (
            isinstance(tool, FunctionTool)
            and tool.name == name
            and guardrail in (tool.tool_input_guardrails or ())
        ):
            return tool
    return None


def _pre_approval(ctx: Any, call: approvals.Call) -> bool:
    """The guardrail runs before the SDK pauses a call ``needs_approval`` just paused."""
    undecided = ctx.is_tool_approved(ctx.tool_name, ctx.tool_call_id) is None
    return undecided and approvals.paused_calls.pausing(call)


def _is_many(target: Any) -> bool:
    return isinstance(target, Iterable) and not isinstance(target, (str, bytes, AgentBase))


def _handoff_targets(agent: AgentBase[Any]) -> list[AgentBase[Any]]:
    if not isinstance(agent, Agent):
        return []
    found: list[AgentBase[Any]] = []
    for handoff in agent.handoffs:
        if isinstance(handoff, AgentBase):
            found.append(handoff)
            continue
        ref = getattr(handoff, "_agent_ref", None)
        target = ref() if callable(ref) else None
        if isinstance(target, AgentBase):
            found.append(target)
    return found


__all__ = ["HesoGate", "capture", "protect", "tool_guardrail"]
