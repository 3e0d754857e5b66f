"""``wrap_call_tool`` through a real FastMCP server and ClientSession in memory: a refused
call never reaches the server, an allowed one goes through untouched."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from mcp import types
from mcp.server.fastmcp import FastMCP
from mcp.shared.memory import create_connected_server_and_client_session
from pydantic import BaseModel

import heso
from heso.errors import BlockedError, HesoConfigError
from heso_mcp import refused_result, wrap_call_tool
from heso_testing.conformance import BLOCK_DISPLAY, BLOCK_RULE, find_exception

from .conftest import Gated, Served, call_once


class Status(BaseModel):
    order_id: str
    state: str


def rocket_server(ran: list[str]) -> FastMCP:
    server = FastMCP("ops")

    @server.tool()
    def launch_rocket(target: str) -> str:
        """Launch a rocket at the target."""
        ran.append(target)
        return f"launched at {target}"

    @server.tool()
    def lookup_order(order_id: str, limit: int = 3) -> Status:
        """Look up an order."""
        ran.append(order_id)
        return Status(order_id=order_id, state=f"shipped ({limit} events)")

    return server


async def test_blocked_call_is_never_sent_raise(gated_project: Gated) -> None:
    ran: list[str] = []
    served = Served()
    with pytest.raises(BaseException) as info:
        await call_once(
            rocket_server(ran),
            "launch_rocket",
            {"target": "moon"},
            client_mode="raise",
            served=served,
        )
    assert isinstance(find_exception(info.value, BlockedError), BlockedError)
    assert served.requests == [] and ran == []
    (receipt,) = gated_project.receipts("launch_rocket")
    assert receipt["content"]["policy"]["decision"] == "block"


async def test_blocked_call_is_never_sent_message(gated_project: Gated) -> None:
    ran: list[str] = []
    served = await call_once(
        rocket_server(ran), "launch_rocket", {"target": "moon"}, client_mode="message"
    )
    assert served.requests == [] and ran == []
    assert served.result is not None and served.result.isError
    assert served.text == f"heso: blocked by rule {BLOCK_RULE}: {BLOCK_DISPLAY}"
    (receipt,) = gated_project.receipts("launch_rocket")
    assert served.result.meta == {
        "heso": {
            "refusal": "blocked",
            "action_hash": receipt["content"]["action_hash"],
            "rule_id": BLOCK_RULE,
            "reason": BLOCK_DISPLAY,
        }
    }


async def test_refusal_is_caught_inside_the_session(gated_project: Gated) -> None:
    """In raise mode the refusal is a plain ``BlockedError`` where the call is made."""
    ran: list[str] = []
    async with create_connected_server_and_client_session(rocket_server(ran)) as session:
        wrap_call_tool(session)
        with pytest.raises(BlockedError) as info:
            await session.call_tool("launch_rocket", {"target": "moon"})
        assert info.value.rule_id == BLOCK_RULE
        ok = await session.call_tool("lookup_order", {"order_id": "A-1"})
    assert not ok.isError and ran == ["A-1"]


async def test_allowed_call_goes_through_untouched(gated_project: Gated) -> None:
    ran: list[str] = []
    served = await call_once(
        rocket_server(ran), "lookup_order", {"order_id": "A-1", "limit": 2}, client_mode="raise"
    )
    assert served.requests == ["lookup_order"] and ran == ["A-1"]
    assert served.result is not None and not served.result.isError
    assert served.result.structuredContent == {"order_id": "A-1", "state": "shipped (2 events)"}
    (receipt,) = gated_project.receipts("lookup_order")
    action = receipt["content"]["action"]
    assert (action["verb"], action["fields"]) == ("tool_call", {"order_id": "A-1", "limit": 2})


async def test_request_carries_parameters_and_action_hash(gated_project: Gated) -> None:
    """Every ``call_tool`` parameter is forwarded, the arguments as gated (the schema's default
    ``limit`` filled in); the send runs under the receipt's hash."""
    seen: list[tuple[Any, str | None]] = []
    async with create_connected_server_and_client_session(rocket_server([])) as session:
        send_request = session.send_request

        async def spy(request: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(request.root, types.CallToolRequest):
                seen.append((request.root.params, heso.current_action_hash()))
                assert kwargs["request_read_timeout_seconds"] == timedelta(seconds=7)
            return await send_request(request, *args, **kwargs)

        session.send_request = spy  # type: ignore[method-assign]
        wrap_call_tool(session)
        await session.call_tool(
            "lookup_order", {"order_id": "A-2"}, timedelta(seconds=7), meta={"trace": "t-1"}
        )
    ((params, action_hash),) = seen
    assert params.arguments == {"order_id": "A-2", "limit": 3}
    fields = gated_project.receipts("lookup_order")[0]["content"]["action"]["fields"]
    assert fields == params.arguments
    assert params.meta is not None and params.meta.model_extra == {"trace": "t-1"}
    assert action_hash == gated_project.receipts("lookup_order")[0]["content"]["action_hash"]
    assert heso.current_action_hash() is None


async def test_no_arguments_are_empty_fields(gated_project: Gated) -> None:
    server = FastMCP("clock")

    @server.tool()
    def now() -> str:
        """The time."""
        return "noon"

    served = await call_once(server, "now", None, client_mode="raise")  # type: ignore[arg-type]
    assert served.text == "noon"
    assert gated_project.receipts("now")[0]["content"]["action"]["fields"] == {}


async def test_before_init_the_call_is_not_sent(heso_env: None) -> None:
    ran: list[str] = []
    served = Served()
    with pytest.raises(BaseException) as info:
        await call_once(
            rocket_server(ran),
            "lookup_order",
            {"order_id": "A-1"},
            client_mode="message",
            served=served,
        )
    assert isinstance(find_exception(info.value, HesoConfigError), HesoConfigError)
    assert served.requests == [] and ran == []


async def test_wrapping_twice_or_a_bad_mode_is_refused(gated_project: Gated) -> None:
    async with create_connected_server_and_client_session(rocket_server([])) as session:
        with pytest.raises(ValueError, match="mode"):
            wrap_call_tool(session, mode="warn")  # type: ignore[arg-type]
        assert wrap_call_tool(session, mode="message") is session
        with pytest.raises(ValueError, match="already gated"):
            wrap_call_tool(session)


def test_refused_result_for_a_refusal() -> None:
    refusal = BlockedError("x", action_hash="ab" * 32, rule_id="r1", reason="not today")
    result = refused_result(refusal)
    assert result.isError
    assert [c.text for c in result.content if isinstance(c, types.TextContent)] == [
        "heso: blocked by rule r1: not today"
    ]
