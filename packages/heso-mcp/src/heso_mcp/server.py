"""The server-side gate: a server operator enforces their policy on whoever calls the server.

``HesoFastMCP`` is a ``FastMCP`` whose every ``tools/call`` passes heso's gate first;
``gate_server(server)`` does the same to a ``FastMCP`` built elsewhere. The server process's
heso project (``heso.init()`` there) decides and signs the receipts.

The gate decides on the arguments the tool function receives: FastMCP's own validation runs
first (a JSON string sent for a list or model parameter is parsed, loose values such as
``"yes"`` for a ``bool`` are coerced, defaults are filled in), then heso gates the validated
arguments, and the tool function is called with exactly those, not validated a second time.
A refusal raises ``ToolError``, so the client receives ``CallToolResult(isError=True)`` with
``heso: blocked by rule <id>: <reason>`` and the tool body never runs. Arguments FastMCP
rejects, and unknown tools, are refused as FastMCP refuses them, without a receipt (nothing
runs).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.fastmcp.tools import Tool
from mcp.shared.exceptions import UrlElicitationRequiredError
from mcp.types import ContentBlock

import heso
from heso.adapters import refusal_text
from heso_mcp._gate import run

ToolResult = Sequence[ContentBlock] | dict[str, Any]


def validated_arguments(tool: Tool, arguments: dict[str, Any] | None) -> dict[str, Any]:
    """The keyword arguments FastMCP's validation hands ``tool``'s function (JSON strings
    pre-parsed, values coerced, defaults applied); ``ToolError`` as FastMCP words it when
    they do not validate."""
    meta = tool.fn_metadata
    try:
        model = meta.arg_model.model_validate(meta.pre_parse_json(dict(arguments or {})))
    except Exception as exc:
        raise ToolError(f"Error executing tool {tool.name}: {exc}") from exc
    return model.model_dump_one_level()


async def _invoke(tool: Tool, kwargs: dict[str, Any], context: Any) -> Any:
    """Call ``tool``'s function with ``kwargs`` as they are, as ``Tool.run`` would after its
    validation (result conversion and error wrapping included)."""
    injected = {tool.context_kwarg: context} if tool.context_kwarg is not None else {}
    try:
        result = tool.fn(**kwargs, **injected)
        if inspect.isawaitable(result):
            result = await result
        return tool.fn_metadata.convert_result(result)
    except UrlElicitationRequiredError:
        raise
    except Exception as exc:
        raise ToolError(f"Error executing tool {tool.name}: {exc}") from exc


async def gated_call(server: FastMCP, name: str, arguments: dict[str, Any] | None) -> ToolResult:
    """One ``tools/call`` of ``server``: validate, gate, then run the tool with the gated
    arguments."""
    tool = server._tool_manager.get_tool(name)
    if tool is None:
        raise ToolError(f"Unknown tool: {name}")
    kwargs = validated_arguments(tool, arguments)
    context = server.get_context()
    try:
        result: ToolResult = await run(name, kwargs, lambda: _invoke(tool, kwargs, context))
    except heso.GateRefusal as refusal:
        raise ToolError(refusal_text(refusal)) from refusal
    return result


class HesoFastMCP(FastMCP):
    """``FastMCP`` that gates every tool call with heso before the tool body runs."""

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        return await gated_call(self, name, arguments)


def gate_server(server: FastMCP) -> FastMCP:
    """Gate every tool call of an existing ``FastMCP`` server; returns ``server``.

    The gated ``call_tool`` runs the server's registered tools itself (with the arguments it
    gated), in place of ``server.call_tool``.
    """
    if isinstance(server, HesoFastMCP) or getattr(server.call_tool, "__heso_gated__", False):
        raise ValueError("this FastMCP server is already gated by heso")

    async def call_tool(name: str, arguments: dict[str, Any]) -> ToolResult:
        return await gated_call(server, name, arguments)

    call_tool.__heso_gated__ = True  # type: ignore[attr-defined]
    server.call_tool = call_tool  # type: ignore[method-assign]
    # FastMCP registered its bound call_tool with the low-level server at construction;
    # register the gated one the same way (FastMCP validates input itself).
    server._mcp_server.call_tool(validate_input=False)(call_tool)
    return server
