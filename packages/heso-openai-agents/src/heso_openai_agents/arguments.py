"""The arguments a function tool's function receives for a call, as heso gates them.

The SDK hands the guardrail and ``needs_approval`` the model's JSON arguments; the tool then
validates them with its parameters' pydantic model (coercion, defaults) and calls the
function. :func:`call_fields_of` does the same validation, from the function ``function_tool``
wrapped, and binds the result to its parameters as ``@heso.tool`` does, so a default the
model left out is gated and the receipt is ``@heso.tool``'s for the same call.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any

from agents import FunctionTool
from agents.function_schema import function_schema
from pydantic import ValidationError

from heso import BridgeError
from heso.adapters import call_fields

Binder = Callable[[Mapping[str, Any]], "dict[str, Any] | None"]

_ATTR = "_heso_call_fields"


def call_fields_of(tool: FunctionTool, arguments: Mapping[str, Any]) -> dict[str, Any] | None:
    """The arguments ``tool``'s function receives for the JSON ``arguments``; ``None`` when
    the tool's validation rejects them (the SDK then runs nothing). A ``FunctionTool`` not
    made by ``function_tool`` parses the JSON itself: its fields are the arguments as sent."""
    binder = getattr(tool, _ATTR, None)
    if binder is None:
        binder = _binder(tool)
        setattr(tool, _ATTR, binder)
    return binder(arguments)


def _binder(tool: FunctionTool) -> Binder:
    func = _function(tool)
    if func is None:
        return dict
    schema = function_schema(func, use_docstring_info=False, strict_json_schema=False)
    context = next(iter(schema.signature.parameters), None) if schema.takes_context else None

    def bind(arguments: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            parsed = schema.params_pydantic_model(**arguments)
        except ValidationError:
            return None
        args, kwargs = schema.to_call_args(parsed)
        if context is None:
            return call_fields(func, args, kwargs)
        return call_fields(func, (None, *args), kwargs, exclude=(context,))

    return bind


def _function(tool: FunctionTool) -> Callable[..., Any] | None:
    """The function ``function_tool`` made ``tool`` from, as it calls it."""
    wrapped = getattr(tool.on_invoke_tool, "_get_wrapped_callable", None)
    func = wrapped() if callable(wrapped) else None
    if not callable(func):
        return None
    if inspect.isroutine(func) or inspect.isclass(func):
        return func  # type: ignore[no-any-return]
    # A callable instance: function_tool made a function of its __call__; make it the same way.
    from agents.tool import _normalize_function_tool_callable

    normalized, _ = _normalize_function_tool_callable(func, None, None, False)
    return normalized  # type: ignore[no-any-return]


def parse_arguments(tool_name: str, arguments: str | None) -> dict[str, Any]:
    """A call's JSON arguments as the action's fields (an empty string is no arguments)."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError as exc:
        raise BridgeError(
            f"heso cannot gate {tool_name!r}: its arguments are not JSON ({exc})"
        ) from None
    if not isinstance(value, dict):
        raise BridgeError(
            f"heso cannot gate {tool_name!r}: its arguments are a JSON "
            f"{type(value).__name__}, not an object"
        )
    return value


__all__ = ["call_fields_of", "parse_arguments"]
