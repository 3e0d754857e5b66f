"""Arguments sent as JSON strings or loosely typed values are gated as the tool receives them.

FastMCP pre-parses a JSON string sent for a non-string parameter and pydantic coerces loose
values (``"yes"`` -> ``True``). The server gate decides on, and signs, the validated arguments
and hands the tool exactly those; the client gate decides on what it sends, after applying the
tool's input schema (JSON strings parsed, defaults filled in), and never sends arguments that
do not match it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from pydantic import BaseModel

import heso
from heso_mcp import HesoFastMCP, gate_server
from heso_testing.project import Project, make_project

from .conftest import Served, call_once

POLICY = """
[policy]
default = "allow"

[[rule]]
id = "no-system-paths"
verb = "tool_call"
scope = "sync_files"
decision = "block"
display = "system paths are never synced"
conditions = [{ field = "paths.0", op = "glob", value = "/etc/*" }]

[[rule]]
id = "no-forced-options"
verb = "tool_call"
scope = "sync_files"
decision = "block"
display = "forced syncs are never allowed"
conditions = [{ field = "options.force", op = "eq", value = true }]

[[rule]]
id = "no-force-flag"
verb = "tool_call"
scope = "sync_files"
decision = "block"
display = "the force flag is never allowed"
conditions = [{ field = "force", op = "eq", value = true }]
"""


class SyncOptions(BaseModel):
    force: bool = False
    depth: int = 1


def sync_server(server: FastMCP, ran: list[dict[str, Any]]) -> FastMCP:
    @server.tool()
    def sync_files(
        paths: list[str], options: SyncOptions | None = None, force: bool = False
    ) -> str:
        """Sync files to the backup volume."""
        ran.append({"paths": paths, "options": options, "force": force})
        return f"synced {len(paths)} path(s)"

    return server


@pytest.fixture
def project(tmp_path: Path, heso_env: None) -> Iterator[Project]:
    project = make_project(tmp_path / "project", POLICY)
    project.init()
    try:
        yield project
    finally:
        heso.shutdown()


def receipts(project: Project) -> list[dict[str, Any]]:
    return [r for r in project.receipts() if r["content"]["action"]["tool_name"] == "sync_files"]


ATTACKS = [
    pytest.param({"paths": '["/etc/shadow"]'}, "no-system-paths", id="json-string-list"),
    pytest.param(
        {"paths": ["/srv/a"], "options": '{"force": true}'},
        "no-forced-options",
        id="json-string-model",
    ),
    pytest.param({"paths": ["/srv/a"], "force": "yes"}, "no-force-flag", id="loose-bool"),
]


@pytest.mark.parametrize("how", ["subclass", "gate_server"])
@pytest.mark.parametrize(("arguments", "rule"), ATTACKS)
async def test_server_gates_what_the_tool_would_receive(
    project: Project, how: str, arguments: dict[str, Any], rule: str
) -> None:
    ran: list[dict[str, Any]] = []
    server = HesoFastMCP("ops") if how == "subclass" else gate_server(FastMCP("ops"))
    served = await call_once(sync_server(server, ran), "sync_files", arguments)
    assert ran == [], f"the tool ran with {ran} although a rule forbids it"
    assert served.result is not None and served.result.isError
    assert served.text is not None and f"heso: blocked by rule {rule}" in served.text
    (receipt,) = receipts(project)
    assert receipt["content"]["policy"]["rule_id"] == rule
    fields = receipt["content"]["action"]["fields"]
    assert isinstance(fields["paths"], list) and isinstance(fields["force"], bool)
    assert fields["options"] is None or isinstance(fields["options"], dict)


async def test_server_tool_receives_exactly_what_was_signed(project: Project) -> None:
    ran: list[dict[str, Any]] = []
    arguments = {"paths": '["/srv/a", "/srv/b"]', "options": '{"depth": "2"}', "force": "no"}
    served = await call_once(sync_server(HesoFastMCP("ops"), ran), "sync_files", arguments)
    assert served.result is not None and not served.result.isError, served.text
    (got,) = ran
    assert got["paths"] == ["/srv/a", "/srv/b"] and got["force"] is False
    assert got["options"] == SyncOptions(force=False, depth=2)
    (receipt,) = receipts(project)
    assert receipt["content"]["action"]["fields"] == {
        "paths": ["/srv/a", "/srv/b"],
        "options": {"force": False, "depth": 2},
        "force": False,
    }


async def test_server_refuses_invalid_arguments_without_a_receipt(project: Project) -> None:
    ran: list[dict[str, Any]] = []
    served = await call_once(
        sync_server(HesoFastMCP("ops"), ran), "sync_files", {"paths": 7, "force": "maybe"}
    )
    assert ran == [] and served.result is not None and served.result.isError
    assert served.text is not None and "validation error" in served.text
    assert receipts(project) == []


async def test_server_refuses_an_unknown_tool(project: Project) -> None:
    server = sync_server(HesoFastMCP("ops"), [])
    with pytest.raises(ToolError, match="Unknown tool: rm_everything"):
        await server.call_tool("rm_everything", {"path": "/"})
    assert project.receipts() == []


@pytest.mark.parametrize(
    ("arguments", "rule"),
    [
        pytest.param({"paths": '["/etc/shadow"]'}, "no-system-paths", id="json-string-list"),
        pytest.param(
            {"paths": ["/srv/a"], "options": '{"force": true}'},
            "no-forced-options",
            id="json-string-model",
        ),
    ],
)
async def test_client_gates_json_strings_as_parsed(
    project: Project, arguments: dict[str, Any], rule: str
) -> None:
    ran: list[dict[str, Any]] = []
    served = Served()
    await call_once(
        sync_server(FastMCP("ops"), ran),
        "sync_files",
        arguments,
        client_mode="message",
        served=served,
    )
    assert ran == [] and served.requests == [], "a refused call reached the server"
    assert served.text is not None and f"heso: blocked by rule {rule}" in served.text
    (receipt,) = receipts(project)
    assert receipt["content"]["policy"]["rule_id"] == rule


@pytest.mark.parametrize("mode", ["raise", "message"])
async def test_client_never_sends_arguments_its_schema_refuses(project: Project, mode: str) -> None:
    ran: list[dict[str, Any]] = []
    served = Served()
    await call_once(
        sync_server(FastMCP("ops"), ran),
        "sync_files",
        {"paths": ["/srv/a"], "force": "yes"},
        client_mode=mode,
        served=served,
    )
    assert ran == [] and served.requests == []
    assert served.result is not None and served.result.isError
    assert served.text is not None and "sync_files" in served.text and "force" in served.text
    assert receipts(project) == []


async def test_client_sends_exactly_what_was_signed(project: Project) -> None:
    ran: list[dict[str, Any]] = []
    served = await call_once(
        sync_server(FastMCP("ops"), ran),
        "sync_files",
        {"paths": '["/srv/a"]'},
        client_mode="raise",
    )
    assert served.result is not None and not served.result.isError, served.text
    assert ran == [{"paths": ["/srv/a"], "options": None, "force": False}]
    (receipt,) = receipts(project)
    assert receipt["content"]["action"]["fields"] == {
        "paths": ["/srv/a"],
        "options": None,
        "force": False,
    }
