"""The server-side gate: ``HesoFastMCP`` and ``gate_server`` refuse with ``ToolError`` before
the tool body runs, so any MCP client receives ``isError=True``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from pydantic import BaseModel

import heso
from heso_mcp import HesoFastMCP, gate_server
from heso_testing.conformance import BLOCK_DISPLAY, BLOCK_RULE

from .conftest import Gated, call_once


class Launch(BaseModel):
    target: str
    receipt: str | None


def add_tools(server: FastMCP, ran: list[str]) -> FastMCP:
    @server.tool()
    def launch_rocket(target: str) -> str:
        """Launch a rocket at the target."""
        ran.append(target)
        return f"launched at {target}"

    @server.tool()
    async def lookup_order(order_id: str, ctx: Context) -> Launch:
        """Look up an order; returns the receipt it runs under."""
        await ctx.info(f"looking up {order_id}")
        ran.append(order_id)
        return Launch(target=order_id, receipt=heso.current_action_hash())

    return server


MakeServer = Callable[[list[str]], FastMCP]


@pytest.fixture(params=["subclass", "gate_server"])
def make_server(request: pytest.FixtureRequest) -> MakeServer:
    if request.param == "subclass":
        return lambda ran: add_tools(HesoFastMCP("ops"), ran)
    return lambda ran: gate_server(add_tools(FastMCP("ops"), ran))


async def test_blocked_call_is_a_tool_error(gated_project: Gated, make_server: MakeServer) -> None:
    ran: list[str] = []
    served = await call_once(make_server(ran), "launch_rocket", {"target": "moon"})
    assert served.requests == ["launch_rocket"] and ran == []
    assert served.result is not None and served.result.isError
    assert served.text == f"heso: blocked by rule {BLOCK_RULE}: {BLOCK_DISPLAY}"
    (receipt,) = gated_project.receipts("launch_rocket")
    assert receipt["content"]["policy"]["decision"] == "block"


async def test_allowed_tool_runs_under_its_receipt(
    gated_project: Gated, make_server: MakeServer
) -> None:
    ran: list[str] = []
    served = await call_once(make_server(ran), "lookup_order", {"order_id": "A-1"})
    assert ran == ["A-1"]
    assert served.result is not None and not served.result.isError
    (receipt,) = gated_project.receipts("lookup_order")
    assert receipt["content"]["action"]["fields"] == {"order_id": "A-1"}
    assert served.result.structuredContent == {
        "target": "A-1",
        "receipt": receipt["content"]["action_hash"],
    }


async def test_direct_calls_are_gated_too(gated_project: Gated, make_server: MakeServer) -> None:
    ran: list[str] = []
    server = make_server(ran)
    with pytest.raises(ToolError, match=BLOCK_DISPLAY):
        await server.call_tool("launch_rocket", {"target": "moon"})
    assert ran == []


def test_gate_server_once() -> None:
    for server in (gate_server(FastMCP("ops")), HesoFastMCP("ops")):
        with pytest.raises(ValueError, match="already gated"):
            gate_server(server)
