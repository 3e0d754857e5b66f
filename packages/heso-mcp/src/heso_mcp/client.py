"""The client-side gate: ``wrap_call_tool(session)`` gates ``ClientSession.call_tool``."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, TypeVar

from mcp import ClientSession
from mcp.types import CallToolResult, TextContent

import heso
from heso.adapters import Mode, check_mode, refusal_info, refusal_text
from heso_mcp._gate import run
from heso_mcp.schema import ArgumentsRejected, prepare

S = TypeVar("S", bound=ClientSession)


class _Schemas:
    """The input schemas of a session's tools, listed from the server when first needed and
    again when a tool is not known yet."""

    def __init__(self, session: ClientSession) -> None:
        self._session = session
        self._known: dict[str, Mapping[str, Any]] = {}

    async def of(self, name: str) -> Mapping[str, Any] | None:
        if name not in self._known:
            await self._list()
        return self._known.get(name)

    async def _list(self) -> None:
        cursor: str | None = None
        while True:
            listed = await self._session.list_tools(cursor)
            for tool in listed.tools:
                self._known[tool.name] = tool.inputSchema
            cursor = listed.nextCursor
            if not cursor:
                return


def wrap_call_tool(session: S, *, mode: Mode = "raise") -> S:
    """Gate every ``session.call_tool(name, arguments)`` as a ``tool_call`` of the MCP tool
    ``name``; returns ``session``.

    The arguments are read against the tool's input schema (listed from the server): a JSON
    string sent for a parameter that takes no string is parsed, defaults are filled in, and
    heso gates, and sends, exactly the result. Arguments that do not match the schema are not
    sent (``CallToolResult(isError=True)`` says why, in either mode); a tool the server does
    not list is gated with its arguments as they are.

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
    schemas = _Schemas(session)

    @functools.wraps(original)
    async def call_tool(
        name: str, arguments: dict[str, Any] | None = None, *args: Any, **kwargs: Any
    ) -> CallToolResult:
        schema = await schemas.of(name)
        sent = dict(arguments or {})
        if schema is not None:
            try:
                sent = prepare(name, schema, sent)
            except ArgumentsRejected as rejected:
                return _error_result(str(rejected))
        try:
            return await run(name, sent, lambda: original(name, sent, *args, **kwargs))
        except heso.GateRefusal as refusal:
            if mode == "raise":
                raise
            return refused_result(refusal)

    call_tool.__heso_mode__ = mode  # type: ignore[attr-defined]
    session.call_tool = call_tool  # type: ignore[method-assign]
    return session


def refused_result(refusal: heso.GateRefusal) -> CallToolResult:
    """The ``CallToolResult(isError=True)`` a refusal becomes in ``message`` mode."""
    return CallToolResult(
        content=[TextContent(type="text", text=refusal_text(refusal))],
        isError=True,
        _meta=refusal_info(refusal),
    )


def _error_result(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], isError=True)
