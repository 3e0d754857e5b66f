"""Both gates over stdio with a real subprocess server."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client

from heso_mcp import wrap_call_tool
from heso_testing.conformance import BLOCK_DISPLAY, BLOCK_RULE, CONFORMANCE_POLICY
from heso_testing.project import make_project

from .conftest import Gated

SERVER = Path(__file__).with_name("mcp_stdio_server.py")


@asynccontextmanager
async def stdio_session(**env: str) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable, args=[str(SERVER)], env={**os.environ, **env}
    )
    with open(os.devnull, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


def text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def ran(session: ClientSession) -> list[str]:
    result = await session.call_tool("calls", {})
    return (
        list(json.loads(text(result)))
        if result.structuredContent is None
        else list(result.structuredContent["result"])
    )


async def test_client_gate_over_stdio(gated_project: Gated) -> None:
    async with stdio_session() as session:
        wrap_call_tool(session, mode="message")
        blocked = await session.call_tool("launch_rocket", {"target": "moon"})
        allowed = await session.call_tool("lookup_order", {"order_id": "A-1"})
        assert await ran(session) == ["lookup_order"]
    assert (
        blocked.isError and text(blocked) == f"heso: blocked by rule {BLOCK_RULE}: {BLOCK_DISPLAY}"
    )
    assert not allowed.isError and text(allowed) == "order A-1: shipped (3 events)"
    assert [r["content"]["policy"]["decision"] for r in gated_project.receipts()] == [
        "block",
        "allow",
        "allow",
    ]


async def test_server_gate_over_stdio(tmp_path: Path, heso_env: None) -> None:
    project = make_project(tmp_path / "server-operator", CONFORMANCE_POLICY)
    async with stdio_session(HESO_MCP_GATE="1", HESO_PROJECT_ROOT=str(project.root)) as session:
        blocked = await session.call_tool("launch_rocket", {"target": "moon"})
        allowed = await session.call_tool("lookup_order", {"order_id": "A-1", "limit": 2})
        assert await ran(session) == ["lookup_order"]
    assert (
        blocked.isError and text(blocked) == f"heso: blocked by rule {BLOCK_RULE}: {BLOCK_DISPLAY}"
    )
    assert not allowed.isError and text(allowed) == "order A-1: shipped (2 events)"
    actions = [
        (r["content"]["action"]["tool_name"], r["content"]["policy"]["decision"])
        for r in project.receipts()
    ]
    assert actions == [("launch_rocket", "block"), ("lookup_order", "allow"), ("calls", "allow")]
