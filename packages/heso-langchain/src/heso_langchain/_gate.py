"""What every LangChain seam shares: the arguments a tool's function receives for a call, one
core gate call per tool call and the checkpointable gate result. The refusal modes and the text
the model sees are the core's (:mod:`heso.adapters`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, Tool

from heso import BlockedError, GateRefusal, HesoError, SuspendedError
from heso.adapters import (
    MODES,
    Mode,
    Outcome,
    call_fields,
    check_mode,
    gate,
    refusal_text,
    to_json_value,
)

_FILTERED = ("run_manager", "callbacks")
"""Parameters langchain-core hands a tool's function itself."""


def tool_fields(args: Any, input_str: str | None = None) -> dict[str, Any]:
    """A tool call's raw arguments as receipt fields, for a call heso cannot bind to a tool
    (an unknown tool); a bare string input is ``{"input": ...}``."""
    if isinstance(args, Mapping):
        return dict(args)
    return {"input": input_str if input_str is not None else args}


def call_fields_of(
    tool: BaseTool, tool_input: Any, tool_call_id: str | None, *, asynchronous: bool
) -> dict[str, Any] | None:
    """The arguments ``tool``'s function receives when ``tool.run`` (``arun`` when
    ``asynchronous``) is given ``tool_input``: langchain-core's validation and coercion of
    the input (its ``args_schema`` defaults included), bound to the function's parameters
    with their defaults as ``@heso.tool`` binds them. Arguments the framework injects
    (``ToolRuntime``, ``InjectedState``, a tool call id, callbacks, config) are left out.

    ``None`` when the tool's own validation rejects the input (the tool will refuse it; the
    caller gates the raw input).
    """
    injected = set(tool._injected_args_keys)
    data = dict(tool_input) if isinstance(tool_input, Mapping) else tool_input
    args: tuple[Any, ...]
    try:
        if isinstance(data, dict) and injected - data.keys():
            # ToolNode injects state/store/runtime after its wrappers ran: validate the
            # model's part of the input, as the tool will, without them.
            args, kwargs = (), _validated(tool, data)
            kwargs.update(dict.fromkeys(injected - kwargs.keys()))
        else:
            args, kwargs = tool._to_args_and_kwargs(data, tool_call_id)
    except Exception:
        return None
    fn = _function(tool, asynchronous)
    exclude = {*_FILTERED, *injected, *_config_params(fn)}
    try:
        return call_fields(fn, args, kwargs, exclude=exclude)
    except (TypeError, ValueError):  # no signature to bind to: the arguments as passed
        fields = {k: v for k, v in kwargs.items() if k not in exclude}
        if args:
            fields["input" if len(args) == 1 else "args"] = args[0] if len(args) == 1 else args
        return fields


def _validated(tool: BaseTool, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` validated by the tool's call schema (its arguments without the injected ones):
    the given fields, and those with a default."""
    schema = tool.tool_call_schema
    if not isinstance(schema, type):
        return data
    result = schema.model_validate(data)
    fields = schema.model_fields
    return {
        name: getattr(result, name)
        for name, info in fields.items()
        if name in data or name in result.model_fields_set or not info.is_required()
    }


def _function(tool: BaseTool, asynchronous: bool) -> Callable[..., Any]:
    """The function a tool's run calls with the validated arguments."""
    if isinstance(tool, (StructuredTool, Tool)):
        if asynchronous and tool.coroutine is not None:
            return tool.coroutine
        return tool.func if tool.func is not None else tool.coroutine  # type: ignore[return-value]
    if asynchronous and type(tool)._arun is not BaseTool._arun:
        return tool._arun
    return tool._run


def _config_params(fn: Callable[..., Any]) -> tuple[str, ...]:
    """The parameter langchain-core passes the ``RunnableConfig`` in, if any."""
    try:
        from langchain_core.tools.base import _get_runnable_config_param
    except ImportError:  # pragma: no cover - another langchain-core
        return ()
    name = _get_runnable_config_param(fn)
    return (name,) if name else ()


def check(
    verb: str, name: str, fields: Mapping[str, Any], *, agent: str | None = None
) -> tuple[Outcome | None, GateRefusal | None]:
    """Gate one action through the core: ``(outcome, None)`` when it may run (allowed, or
    observe-only), ``(None, refusal)`` when policy refused it. Core failures raise (fail
    closed while blocking is on)."""
    try:
        return gate(verb, name, fields, agent=agent), None
    except GateRefusal as refusal:
        return None, refusal


@dataclass(frozen=True)
class GateResult:
    """A gate result that survives a LangGraph checkpoint (plain data)."""

    tool_call_id: str | None
    action_hash: str | None
    refusal: dict[str, Any] | None = None
    fields: dict[str, Any] | None = None
    """The arguments as gated (JSON values)."""

    @classmethod
    def of(
        cls,
        tool_call_id: str | None,
        outcome: Outcome | None,
        refusal: GateRefusal | None,
        fields: Mapping[str, Any] | None = None,
    ) -> GateResult:
        shown = _json_or_none(fields)
        if refusal is None:
            return cls(tool_call_id, outcome.action_hash if outcome else None, None, shown)
        data = {
            "kind": "suspended" if isinstance(refusal, SuspendedError) else "blocked",
            "message": str(refusal),
            "action_hash": refusal.action_hash,
            "rule_id": refusal.rule_id,
            "reason": refusal.reason,
            "approvers": list(getattr(refusal, "approvers", ())),
        }
        return cls(tool_call_id, refusal.action_hash, data, shown)

    def to_data(self) -> dict[str, Any]:
        return {
            "tool_call_id": self.tool_call_id,
            "action_hash": self.action_hash,
            "refusal": self.refusal,
            "fields": self.fields,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> GateResult:
        return cls(data["tool_call_id"], data["action_hash"], data["refusal"], data.get("fields"))

    def refusal_error(self) -> GateRefusal | None:
        """The core's refusal, rebuilt."""
        r = self.refusal
        if r is None:
            return None
        if r["kind"] == "suspended":
            return SuspendedError(
                r["message"],
                action_hash=r["action_hash"],
                rule_id=r["rule_id"],
                reason=r["reason"],
                approvers=r["approvers"],
            )
        return BlockedError(
            r["message"], action_hash=r["action_hash"], rule_id=r["rule_id"], reason=r["reason"]
        )

    @property
    def suspended(self) -> bool:
        return self.refusal is not None and self.refusal["kind"] == "suspended"


def _json_or_none(fields: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``fields`` as JSON values, ``None`` when they have no JSON form (the gate said so
    already, or let the call through in observe-only mode)."""
    if fields is None:
        return None
    try:
        return to_json_value(dict(fields))  # type: ignore[no-any-return]
    except HesoError:
        return None


__all__ = [
    "MODES",
    "GateResult",
    "Mode",
    "call_fields_of",
    "check",
    "check_mode",
    "refusal_text",
    "tool_fields",
]
