"""heso in front of MCP tools, offline: a client-side gate and a server-side gate.

A real FastMCP server and ClientSession talk over in-memory streams (no network, no model):

1. the client gates ``ClientSession.call_tool`` with ``heso.mcp.wrap_call_tool``: an allowed
   lookup goes through, a blocked rocket launch is never sent, an escalation is parked until
   the on-call approver signs with their own key; the same call made again then fires once;
2. the server operator gates every caller with ``heso.mcp.HesoFastMCP``: a refusal is a
   ``ToolError``, which any MCP client receives as ``isError=True``;
3. anyone verifies the audit chain.

    python examples/mcp_gate.py
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession
from mcp.server.fastmcp import FastMCP
from mcp.shared.memory import create_connected_server_and_client_session

POLICY = """\
[policy]
default = "allow"

[[rule]]
id = "no-rockets"
verb = "tool_call"
scope = "launch_rocket"
decision = "block"
display = "rocket launches are never allowed"

[[rule]]
id = "escalations-need-oncall"
verb = "tool_call"
scope = "escalate_ticket"
decision = "require_approval"
approvers = ["oncall"]
display = "ticket escalations need on-call approval"

[approvers.oncall]
members = {{ alice = "{alice}" }}
"""

BODIES: list[str] = []
"""The tool bodies that ran on the server."""


def add_tools(server: FastMCP) -> FastMCP:
    @server.tool()
    def lookup_order(order_id: str) -> str:
        """Look up an order by its id."""
        BODIES.append("lookup_order")
        return f"order {order_id}: shipped"

    @server.tool()
    def launch_rocket(target: str) -> str:
        """Launch a rocket at the target."""
        BODIES.append("launch_rocket")
        return f"launched at {target}"

    @server.tool()
    def escalate_ticket(ticket_id: str, note: str) -> str:
        """Escalate a support ticket to the on-call engineer."""
        BODIES.append("escalate_ticket")
        return f"escalated {ticket_id}"

    return server


def heso_cli(*args: str, env: dict[str, str]) -> str:
    """Run the real ``heso`` command line; returns its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "heso", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"heso {' '.join(args)} failed:\n{done.stderr}{done.stdout}")
    return done.stdout


async def call(session: ClientSession, name: str, arguments: dict[str, Any]) -> str:
    """What the model would read back for one tool call."""
    result = await session.call_tool(name, arguments)
    text = " ".join(getattr(c, "text", "") for c in result.content)
    print(f"  {name}({arguments}) -> {'ERROR ' if result.isError else ''}{text}")
    return text


async def client_side(alice_env: dict[str, str]) -> None:
    import heso

    print("\n== 1. the client gates call_tool (refusals go back to the model as tool errors)")
    server = add_tools(FastMCP("ops", log_level="WARNING"))
    async with create_connected_server_and_client_session(server) as session:
        heso.mcp.wrap_call_tool(session, mode="message")
        await call(session, "lookup_order", {"order_id": "A-1"})
        await call(session, "launch_rocket", {"target": "moon"})
        ticket = {"ticket_id": "T-7", "note": "customer is down"}
        await call(session, "escalate_ticket", ticket)

        pending = json.loads(heso_cli("approvals", "list", "--json", env=alice_env))
        short = pending[0]["action_hash"][:12]
        print(f"  alice approves {short} with her own key, then the model calls again:")
        print("  " + heso_cli("approve", short, "--as", "alice", env=alice_env).strip())
        await call(session, "escalate_ticket", ticket)
    assert BODIES == ["lookup_order", "escalate_ticket"], BODIES
    print(f"  tool bodies that ran on the server: {BODIES}")


async def server_side() -> None:
    import heso

    print("\n== 2. the server operator gates every caller (the client is not gated)")
    BODIES.clear()
    server = add_tools(heso.mcp.HesoFastMCP("ops", log_level="WARNING"))
    async with create_connected_server_and_client_session(server) as session:
        await call(session, "launch_rocket", {"target": "mars"})
        await call(session, "lookup_order", {"order_id": "A-2"})
    assert BODIES == ["lookup_order"], BODIES


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="heso-mcp-") as tmp:
        base = Path(tmp)
        project = base / "support-agent"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HESO_")}
        env["HESO_KDF_PROFILE"] = "interactive"  # fast key derivation for a demo
        env["HESO_PROJECT_ROOT"] = str(project)
        heso_cli("init", str(project), env=env)
        alice_env = dict(
            env,
            HESO_APPROVER_HOME=str(base / "alice-laptop"),
            HESO_APPROVER_PASSPHRASE=secrets.token_urlsafe(16),
        )
        alice = json.loads(heso_cli("approver", "new", "alice", "--json", env=alice_env))
        (project / "heso.toml").write_text(POLICY.format(alice=alice["public_key"]))

        os.environ.update(HESO_KDF_PROFILE="interactive")
        import heso

        heso.init(project_root=project)
        anyio.run(client_side, alice_env)
        anyio.run(server_side)
        heso.shutdown()

        print("\n== 3. anyone verifies the chain")
        print(heso_cli("verify", "--chain", env=env).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
