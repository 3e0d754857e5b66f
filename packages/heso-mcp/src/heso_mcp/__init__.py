"""heso for MCP: gate, sign and prove every tool call an MCP client sends or a server serves.

Client side: ``heso.mcp.wrap_call_tool(session)`` gates ``ClientSession.call_tool`` so a refused
call is never sent. Server side: ``HesoFastMCP`` (or ``gate_server(server)``) lets a server
operator enforce their policy on every caller. Both gate the arguments the tool receives.
"""

from __future__ import annotations

from heso.adapters import Mode, refusal_text
from heso_mcp.client import refused_result, wrap_call_tool
from heso_mcp.server import HesoFastMCP, gate_server

__all__ = ["HesoFastMCP", "Mode", "gate_server", "refusal_text", "refused_result", "wrap_call_tool"]
