"""The standard adapter cases, through a real FastMCP server and ClientSession in memory.

Client side: ``wrap_call_tool`` on the session the scripted model uses. Server side:
``HesoFastMCP`` serving the tools to an ungated client; the client always receives a refusal as
``CallToolResult(isError=True)``, so only ``message`` mode applies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import anyio
from mcp.server.fastmcp import FastMCP

from heso_mcp import HesoFastMCP
from heso_testing.conformance import AdapterConformance, ConformanceTools, RunResult

from .conftest import Served, call_once, serve

Tools = Iterable[Callable[..., Any]]


def _result(served: Served) -> RunResult:
    assert served.result is not None
    return RunResult(tool_output=served.text)


class TestMcpClientConformance(AdapterConformance):
    def run(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        return anyio.run(self._serve, tools.sync_tools(), tool_name, arguments, mode)

    async def arun(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        return await self._serve(tools.async_tools(), tool_name, arguments, mode)

    async def _serve(
        self, fns: Tools, tool_name: str, arguments: dict[str, Any], mode: str
    ) -> RunResult:
        server = serve(FastMCP("conformance"), fns)
        return _result(await call_once(server, tool_name, arguments, client_mode=mode))


class TestMcpServerConformance(AdapterConformance):
    refusal_modes = ("message",)

    def run(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        return anyio.run(self._serve, tools.sync_tools(), tool_name, arguments)

    async def arun(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        return await self._serve(tools.async_tools(), tool_name, arguments)

    async def _serve(self, fns: Tools, tool_name: str, arguments: dict[str, Any]) -> RunResult:
        return _result(
            await call_once(serve(HesoFastMCP("conformance"), fns), tool_name, arguments)
        )
