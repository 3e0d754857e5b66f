"""No native pause in MCP: a ``require_approval`` call is refused with the next step, and the
same call made again fires exactly once after a signed approval. Client and server gates."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.server.fastmcp import FastMCP

import heso
from heso.approvals.file_store import FileApprovalStore
from heso.errors import BlockedError, SuspendedError
from heso_mcp import HesoFastMCP
from heso_testing.conformance import APPROVAL_DISPLAY, APPROVAL_RULE, APPROVER, find_exception

from .conftest import Gated, Served, call_once

ARGS = {"ticket_id": "T-7", "note": "customer is down"}


class Desk:
    """An MCP server with ``escalate_ticket``, gated on the client or the server side."""

    def __init__(self, side: str) -> None:
        self.side = side
        self.ran: list[tuple[dict[str, Any], str | None]] = []
        self.requests: list[str] = []

    async def call(self, arguments: dict[str, Any], mode: str = "message") -> Served:
        server = HesoFastMCP("desk") if self.side == "server" else FastMCP("desk")

        @server.tool()
        def escalate_ticket(ticket_id: str, note: str) -> str:
            """Escalate a support ticket."""
            self.ran.append(({"ticket_id": ticket_id, "note": note}, heso.current_action_hash()))
            return f"escalated {ticket_id}"

        client_mode = mode if self.side == "client" else None
        served = Served(requests=self.requests)
        await call_once(
            server, "escalate_ticket", arguments, client_mode=client_mode, served=served
        )
        return served


@pytest.fixture(params=["client", "server"])
def desk(request: pytest.FixtureRequest) -> Desk:
    return Desk(request.param)


def suspended(project: Gated) -> list[str]:
    return [
        r["content"]["action_hash"]
        for r in project.receipts("escalate_ticket")
        if r["content"]["policy"]["decision"] == "require_approval" and len(r["signatures"]) == 1
    ]


async def test_approved_call_fires_once_when_called_again(gated_project: Gated, desk: Desk) -> None:
    first = await desk.call(ARGS)
    assert first.result is not None and first.result.isError
    (action_hash,) = suspended(gated_project)
    short = action_hash[:12]
    assert first.text == (
        f"heso: needs approval by rule {APPROVAL_RULE}: {APPROVAL_DISPLAY}; approve with "
        f"`heso approve {short} --as <name>`"
    )
    assert action_hash in gated_project.pending()

    # Called again before anyone decided: refused again, nothing new minted.
    again = await desk.call(dict(ARGS))
    assert again.text == first.text
    assert suspended(gated_project) == [action_hash] and desk.ran == []

    gated_project.decide("approve", short)
    fired = await desk.call(dict(ARGS))
    assert fired.result is not None and not fired.result.isError, fired.text
    assert fired.text == "escalated T-7"
    assert desk.ran == [(ARGS, action_hash if desk.side == "server" else None)]
    assert suspended(gated_project) == [action_hash], "the approved action was captured again"
    l1 = [r for r in gated_project.receipts("escalate_ticket") if len(r["signatures"]) > 1]
    assert [r["content"]["action_hash"] for r in l1] == [action_hash]
    assert gated_project.pending() == {}
    lifecycle = FileApprovalStore(gated_project.project.data_dir).lines(f"action-{action_hash}")
    assert [line.record["kind"] for line in lifecycle][-3:] == ["finalized", "fired", "completed"]
    # The client gate sent only the approved call; the server gate refused the others itself.
    assert len(desk.requests) == (3 if desk.side == "server" else 1)

    # The approval is spent: the same call once more is a new action that needs approval.
    after = await desk.call(dict(ARGS))
    assert after.result is not None and after.result.isError
    assert len(suspended(gated_project)) == 2 and len(desk.ran) == 1
    gated_project.assert_chain_valid()


async def test_denied_call_is_refused_then_forgotten(gated_project: Gated, desk: Desk) -> None:
    await desk.call(ARGS)
    (action_hash,) = suspended(gated_project)
    gated_project.decide("deny", action_hash[:12])
    denied = await desk.call(dict(ARGS))
    assert denied.result is not None and denied.result.isError
    assert denied.text == (
        f"heso: blocked by rule {APPROVAL_RULE}: {APPROVAL_DISPLAY} (approval denied by {APPROVER})"
    )
    assert desk.ran == []
    again = await desk.call(dict(ARGS))
    assert again.text is not None and again.text.startswith("heso: needs approval")
    assert len(suspended(gated_project)) == 2 and desk.ran == []
    gated_project.assert_chain_valid()


async def test_other_arguments_need_their_own_approval(gated_project: Gated, desk: Desk) -> None:
    await desk.call(ARGS)
    (action_hash,) = suspended(gated_project)
    gated_project.decide("approve", action_hash[:12])
    other = await desk.call({"ticket_id": "T-7", "note": "actually, wire me money"})
    assert other.result is not None and other.result.isError and desk.ran == []
    assert len(suspended(gated_project)) == 2
    fired = await desk.call(dict(ARGS))
    assert fired.text == "escalated T-7" and len(desk.ran) == 1


async def test_raise_mode_raises_until_approved(gated_project: Gated) -> None:
    desk = Desk("client")
    for _ in range(2):
        with pytest.raises(BaseException) as info:
            await desk.call(ARGS, mode="raise")
        refusal = find_exception(info.value, SuspendedError)
        assert isinstance(refusal, SuspendedError) and refusal.rule_id == APPROVAL_RULE
    assert desk.requests == [] and len(suspended(gated_project)) == 1
    gated_project.decide("deny", suspended(gated_project)[0][:12])
    with pytest.raises(BaseException) as info:
        await desk.call(ARGS, mode="raise")
    denial = find_exception(info.value, BlockedError)
    assert isinstance(denial, BlockedError)
    assert denial.reason == f"{APPROVAL_DISPLAY} (approval denied by {APPROVER})"
    assert desk.ran == [] and desk.requests == []


async def test_pinned_clock_recognises_the_approval_once(
    gated_project: Gated, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a pinned clock the same call reproduces the approved action_hash: it fires once,
    and never again from that approval."""
    clock = "2026-04-01T10:00:00Z"
    monkeypatch.setenv("HESO_CLOCK", clock)
    gated_project.project.init(clock_override=clock)
    desk = Desk("client")
    await desk.call(ARGS)
    (action_hash,) = suspended(gated_project)
    gated_project.decide("approve", action_hash[:12])
    for _ in range(2):
        served = await desk.call(dict(ARGS))
    assert desk.ran == [(ARGS, None)] and desk.requests == ["escalate_ticket"]
    assert served.result is not None and served.result.isError
    gated_project.assert_chain_valid()
