"""A real FastMCP server and client over memory streams, and a scripted "model" that calls one
tool once; the server counts the ``tools/call`` requests that reach it."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from mcp import types
from mcp.server.fastmcp import FastMCP
from mcp.shared.memory import create_connected_server_and_client_session

from heso_mcp import Mode, wrap_call_tool
from heso_testing.conformance import APPROVER, APPROVER_GROUP, CONFORMANCE_POLICY
from heso_testing.project import Project, make_project


@dataclass
class Served:
    """What one scripted run saw."""

    result: types.CallToolResult | None = None
    requests: list[str] = field(default_factory=list)
    """The tool names of the ``tools/call`` requests that reached the server."""

    @property
    def text(self) -> str | None:
        if self.result is None:
            return None
        return "\n".join(c.text for c in self.result.content if isinstance(c, types.TextContent))


def serve(server: FastMCP, tools: Iterable[Callable[..., Any]]) -> FastMCP:
    """``server`` with ``tools`` added as MCP tools."""
    for fn in tools:
        server.add_tool(fn)
    return server


def count_requests(server: FastMCP, seen: list[str]) -> None:
    """Record every ``tools/call`` request that reaches ``server``'s handler."""
    low = server._mcp_server
    handler = low.request_handlers[types.CallToolRequest]

    async def counted(req: types.CallToolRequest) -> types.ServerResult:
        seen.append(req.params.name)
        return await handler(req)

    low.request_handlers[types.CallToolRequest] = counted


async def call_once(
    server: FastMCP,
    tool_name: str,
    arguments: dict[str, Any],
    *,
    client_mode: str | None = None,
    served: Served | None = None,
) -> Served:
    """A scripted model run: list the server's tools, call ``tool_name(**arguments)`` once
    through a client session (gated when ``client_mode`` is set), then finish."""
    served = served if served is not None else Served()
    count_requests(server, served.requests)
    async with create_connected_server_and_client_session(server) as session:
        if client_mode is not None:
            wrap_call_tool(session, mode=cast(Mode, client_mode))
        listed = await session.list_tools()
        assert tool_name in {t.name for t in listed.tools}
        served.result = await session.call_tool(tool_name, arguments)
    return served


# -- a project for the adapter's own tests ----------------------------------------------------


@dataclass
class Gated:
    """A heso project with the conformance policy, a real approver and the real clock."""

    project: Project

    def receipts(self, tool_name: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.project.receipts()
            if tool_name is None or r["content"]["action"]["tool_name"] == tool_name
        ]

    def pending(self) -> dict[str, str]:
        """``action_hash -> session`` of every action awaiting a decision."""
        from heso.approvals.file_store import FileApprovalStore

        return dict(FileApprovalStore(self.project.data_dir).open_hashes())

    def decide(self, verb: str, action_hash: str) -> None:
        """``heso approve|deny <hash> --as alice``, signed with alice's own key."""
        from heso.cli import main

        argv = [verb, action_hash, "--as", APPROVER, "--project", str(self.project.root)]
        with contextlib.redirect_stdout(io.StringIO()):
            assert main([*argv, "--json"]) == 0

    def assert_chain_valid(self) -> None:
        """The chain verifies, approvers' co-signatures checked against ``heso.toml``."""
        from heso import config
        from heso.approvals.registry import load_project_registry
        from heso.ledger import verify_chain

        config.current().ledger.seal()
        keys = load_project_registry(self.project.root).approver_keys()
        verdict = verify_chain(self.project.data_dir, approver_keys=keys)
        assert verdict.ok, verdict


@pytest.fixture
def gated_project(
    tmp_path: Path, heso_env: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Gated]:
    """:data:`CONFORMANCE_POLICY` plus ``[approvers.oncall]`` with alice's fresh key."""
    import heso
    from heso.approvals.identity import new_approver

    monkeypatch.setenv("HESO_APPROVER_HOME", str(tmp_path / "alice-laptop"))
    monkeypatch.setenv("HESO_APPROVER_PASSPHRASE", "alice's passphrase")
    _, public = new_approver(APPROVER)
    approvers = f'\n[approvers.{APPROVER_GROUP}]\nmembers = {{ {APPROVER} = "{public}" }}\n'
    project = make_project(tmp_path / "project", CONFORMANCE_POLICY + approvers)
    project.init()
    try:
        yield Gated(project)
    finally:
        heso.shutdown()
