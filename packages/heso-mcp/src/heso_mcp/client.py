"""The client-side gate: ``wrap_call_tool(session)`` gates ``ClientSession.call_tool``."""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from mcp import ClientSession
from mcp.types import CallToolResult, TextContent

from heso.errors import GateRefusal
from heso.refusals import Mode, check_mode, refusal_info, refusal_text
from heso_mcp._gate import run

S = TypeVar("S", bound=ClientSession)


def wrap_call_tool(session: S, *, mode: Mode = "raise") -> S:
    """Gate every ``session.call_tool(name, arguments)`` as a ``tool_call`` of the MCP tool
    ``name`` with the arguments as fields; returns ``session``.

    A refused call is never sent to the server. ``mode="raise"`` (default) raises
    ``BlockedError`` / ``SuspendedError``; ``mode="message"`` returns
    ``CallToolResult(isError=True)`` whose text the model reads. After approvers approve a
    parked call, calling again with the same arguments sends it, exactly once. Works on any
    ``ClientSession``, e.g. the one ``mcp.client.stdio.stdio_client`` streams feed.
    """
    mode = check_mode(mode)
    original = session.call_tool
    if getattr(original, "__heso_mode__", None) is not None:
        raise ValueError("this ClientSession's call_tool is already gated by heso")

    @functools.wraps(original)
    async def call_tool(
        name: str, arguments: dict[str, Any] | None = None, *args: Any, **kwargs: Any
    ) -> CallToolResult:
        try:
            return await run(name, arguments, lambda: original(name, arguments, *args, **kwargs))
        except GateRefusal as refusal:
            if mode == "raise":
                raise
            return refused_result(refusal)

    call_tool.__heso_mode__ = mode  # type: ignore[attr-defined]
    session.call_tool = call_tool  # type: ignore[method-assign]
    return session


def refused_result(refusal: GateRefusal) -> CallToolResult:
    """The ``CallToolResult(isError=True)`` a refusal becomes in ``message`` mode."""
    return CallToolResult(
        content=[TextContent(type="text", text=refusal_text(refusal))],
        isError=True,
        _meta=refusal_info(refusal),
    )
