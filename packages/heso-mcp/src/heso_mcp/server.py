"""The server-side gate: a server operator enforces their policy on whoever calls the server.

``HesoFastMCP`` is a ``FastMCP`` whose every ``tools/call`` passes heso's gate first;
``gate_server(server)`` does the same to a ``FastMCP`` built elsewhere. The server process's
heso project (``heso.init()`` there) decides and signs the receipts. A refusal raises
``ToolError``, so the client receives ``CallToolResult(isError=True)`` with
``heso: blocked by rule <id>: <reason>`` and the tool body never runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import ContentBlock

from heso.errors import GateRefusal
from heso.refusals import refusal_text
from heso_mcp._gate import run

ToolResult = Sequence[ContentBlock] | dict[str, Any]
CallTool = Callable[[str, dict[str, Any]], Awaitable[ToolResult]]


async def _gated_call(call: CallTool, name: str, arguments: dict[str, Any]) -> ToolResult:
    try:
        return await run(name, arguments, lambda: call(name, arguments))
    except GateRefusal as refusal:
        raise ToolError(refusal_text(refusal)) from refusal


class HesoFastMCP(FastMCP):
    """``FastMCP`` that gates every tool call with heso before the tool body runs."""

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        return await _gated_call(super().call_tool, name, arguments)


def gate_server(server: FastMCP) -> FastMCP:
    """Gate every tool call of an existing ``FastMCP`` server; returns ``server``."""
    if isinstance(server, HesoFastMCP) or getattr(server.call_tool, "__heso_gated__", False):
        raise ValueError("this FastMCP server is already gated by heso")
    original = server.call_tool

    async def call_tool(name: str, arguments: dict[str, Any]) -> ToolResult:
        return await _gated_call(original, name, arguments)

    call_tool.__heso_gated__ = True  # type: ignore[attr-defined]
    server.call_tool = call_tool  # type: ignore[method-assign]
    # FastMCP registered its bound call_tool with the low-level server at construction;
    # register the gated one the same way (FastMCP validates input itself).
    server._mcp_server.call_tool(validate_input=False)(call_tool)
    return server
