"""An MCP server over stdio for the subprocess tests: the conformance tools, plus ``calls``
listing the tool bodies that ran. With ``HESO_MCP_GATE=1`` it is a ``HesoFastMCP`` whose
operator project is ``HESO_PROJECT_ROOT``."""

from __future__ import annotations

import os

from mcp.server.fastmcp import FastMCP

import heso
from heso_mcp import HesoFastMCP
from heso_testing.conformance import ConformanceTools


def main() -> None:
    gated = os.environ.get("HESO_MCP_GATE") == "1"
    if gated:
        heso.init()
    server = HesoFastMCP("stdio-ops") if gated else FastMCP("stdio-ops")
    tools = ConformanceTools()
    for fn in tools.sync_tools():
        server.add_tool(fn)

    @server.tool()
    def calls() -> list[str]:
        """The tool bodies that ran, in order."""
        return [name for name, _ in tools.calls]

    server.run("stdio")


if __name__ == "__main__":
    main()
