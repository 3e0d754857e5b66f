"""``HesoCapability``: gate every tool call (and optionally every model request) of a Pydantic
AI agent through heso's one capture path.

The seam is ``AbstractCapability.before_tool_execute``: it runs after argument validation
(coercion and defaults applied: the arguments the body receives, returned to the framework
unchanged) and before the tool body, and anything it raises other than the framework's control-flow
exceptions aborts the run, so the gate fails closed. The capability sits innermost, so it
sees the arguments exactly as the body will receive them.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from contextvars import ContextVar
from typing import Any, Literal, NoReturn

from pydantic_ai import ApprovalRequired, SkipModelRequest, ToolFailed
from pydantic_ai.capabilities import AbstractCapability, CapabilityOrdering
from pydantic_ai.exceptions import UserError
from pydantic_ai.messages import ModelMessagesTypeAdapter, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models import ModelRequestContext
from pydantic_ai.tools import RunContext, ToolDefinition

from heso import BlockedError, GateRefusal, SuspendedError
from heso.adapters import (
    Mode,
    Verb,
    action_hash_scope,
    blocking,
    check_mode,
    find,
    fire,
    gate,
    refusal_text,
)
from heso_pydantic_ai.deferred import HINT_KEY, hint, hint_of

log = logging.getLogger("heso.pydantic_ai")

Approvals = Literal["defer", "refuse"]

_APPROVALS = ("defer", "refuse")

# The ``with`` scope of the tool call being executed: ``wrap_tool_execute`` opens it around
# the whole execution, ``before_tool_execute`` enters what the body must run inside.
_execution: ContextVar[ExitStack | None] = ContextVar("heso_pydantic_ai_execution", default=None)


class HesoCapability(AbstractCapability[Any]):
    """Gate, sign and chain every tool call the agent makes.

    ``Agent(model, capabilities=[HesoCapability()])``. Each call is captured once (verb
    ``tool_call``, the tool's name, its validated arguments as fields) before its body runs.

    - ``mode="raise"`` (default): a blocked call raises ``heso.BlockedError`` out of the run.
      ``mode="message"``: the model gets a failed tool result ``heso: blocked by rule <id>:
      <display text>`` and carries on.
    - ``approvals="defer"`` (default): a ``require_approval`` call raises ``ApprovalRequired``,
      so a run with ``output_type=[..., DeferredToolRequests]`` ends with the call deferred
      (its metadata carries heso's ``action_hash``). Resume with :func:`resume_results` once
      an approver signed in heso: the call then runs exactly once, without a new receipt. The
      framework's ``ToolApproved`` alone never runs it. ``approvals="refuse"``: refuse it
      like a block (``heso.SuspendedError`` / a message), for agents that cannot defer.
    - ``gate_model_requests=True`` also gates each model request as an ``llm_call`` (tool
      name: the model's name; fields: ``model`` and the request's ``messages``).
    - ``redact``: field paths redacted in this agent's receipts, on top of ``heso.step`` and
      ``[heso] redact``.

    A failure of the gate itself (``heso.BridgeError``) always aborts the run: the tool
    never runs unrecorded while blocking is on.
    """

    def __init__(
        self,
        *,
        mode: Mode = "raise",
        approvals: Approvals = "defer",
        gate_model_requests: bool = False,
        redact: Any = None,
    ) -> None:
        mode = check_mode(mode)
        if approvals not in _APPROVALS:
            raise ValueError(f"approvals must be one of {_APPROVALS}, not {approvals!r}")
        self.mode: Mode = mode
        self.approvals: Approvals = approvals
        self.gate_model_requests = gate_model_requests
        self.redact = redact
        self._deferred: list[SuspendedError] = []

    def __repr__(self) -> str:
        return (
            f"HesoCapability(mode={self.mode!r}, approvals={self.approvals!r}, "
            f"gate_model_requests={self.gate_model_requests!r})"
        )

    def get_ordering(self) -> CapabilityOrdering:
        return CapabilityOrdering(position="innermost")

    async def for_run(self, ctx: RunContext[Any]) -> HesoCapability:
        run = copy.copy(self)
        run._deferred = []
        return run

    # -- tools -------------------------------------------------------------------------------

    async def wrap_tool_execute(
        self,
        ctx: RunContext[Any],
        *,
        call: ToolCallPart,
        tool_def: ToolDefinition,
        args: dict[str, Any],
        handler: Callable[[dict[str, Any]], Awaitable[Any]],
    ) -> Any:
        stack = ExitStack()
        token = _execution.set(stack)
        try:
            with stack:
                return await handler(args)
        finally:
            _execution.reset(token)

    async def before_tool_execute(
        self,
        ctx: RunContext[Any],
        *,
        call: ToolCallPart,
        tool_def: ToolDefinition,
        args: dict[str, Any],
    ) -> dict[str, Any]:
        stack = _execution.get() or ExitStack()
        if ctx.tool_call_approved:
            hinted = hint_of(ctx.tool_call_metadata)
            found = find(Verb.TOOL_CALL, call.tool_name, args, hint=hinted, include_spent=True)
            if found is not None:
                fired = fire(found)
                if isinstance(fired, GateRefusal):
                    if blocking():
                        self._refuse(fired)
                    log.warning("observe-only mode: %s runs although %s", call.tool_name, fired)
                    stack.enter_context(action_hash_scope(found.action_hash))
                else:
                    stack.enter_context(fired)  # records `completed` when the body ends
                return args
            # heso never suspended this call (a tool the framework itself asks approval for,
            # or arguments the approver changed): it is a new action, gated like any other.
        try:
            outcome = gate(Verb.TOOL_CALL, call.tool_name, args, redact_fields=self.redact)
        except SuspendedError as suspended:
            if self.approvals == "defer":
                self._deferred.append(suspended)
                raise ApprovalRequired(metadata={HINT_KEY: hint(suspended)}) from None
            self._refuse(suspended)
        except BlockedError as blocked:
            self._refuse(blocked)
        stack.enter_context(action_hash_scope(outcome.action_hash))
        return args

    def _refuse(self, refusal: GateRefusal) -> NoReturn:
        if self.mode == "message":
            raise ToolFailed(refusal_text(refusal)) from None
        raise refusal

    # -- model requests ----------------------------------------------------------------------

    async def before_model_request(
        self, ctx: RunContext[Any], request_context: ModelRequestContext
    ) -> ModelRequestContext:
        if not self.gate_model_requests:
            return request_context
        model = request_context.model.model_name
        fields = {
            "model": model,
            "messages": ModelMessagesTypeAdapter.dump_python(
                list(request_context.messages), mode="json"
            ),
        }
        try:
            gate(Verb.LLM_CALL, model, fields, redact_fields=self.redact)
        except GateRefusal as refusal:
            if self.mode == "message":
                text = refusal_text(refusal)
                raise SkipModelRequest(ModelResponse(parts=[TextPart(text)])) from None
            raise
        return request_context

    # -- runs --------------------------------------------------------------------------------

    async def on_run_error(self, ctx: RunContext[Any], *, error: BaseException) -> Any:
        # A deferral the agent cannot return (no DeferredToolRequests among its output types)
        # surfaces as the heso suspension it is, with the framework's advice as its cause.
        if self._deferred and isinstance(error, UserError) and "DeferredToolRequests" in str(error):
            raise self._deferred[-1] from error
        raise error
