"""heso gating the Claude Agent SDK, offline, with the real bundled Claude Code CLI.

The CLI talks to a scripted Messages API on 127.0.0.1 (no network, no API key). A support
agent's tools are an in-process SDK MCP server, so Claude Code names them
``mcp__support__<tool>``; heso's receipts name them ``<tool>``, so one policy covers the same
tool on every framework. heso's ``PreToolUse`` hook (``on_failure="block"``) decides each call:

1. ``lookup_order`` is allowed and runs;
2. ``launch_rocket`` is blocked: the model reads the rule (``mode="message"``), the body never
   runs;
3. ``escalate_ticket`` needs the on-call approver: the model is told so and the approval stays
   pending. The approver signs with her own key from the CLI; when the model calls it again
   with the same arguments it runs exactly once, as the very action she approved.

Then anyone verifies the audit chain.

    python examples/claude_agent_hooks.py
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from claude_agent_sdk import ClaudeAgentOptions, create_sdk_mcp_server, tool

import heso
from heso.ledger import FileLedger
from heso_testing.claude_fake_api import FakeClaudeAPI, ToolUse

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
"""The tool bodies that ran."""


def text(value: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": value}]}


@tool("lookup_order", "Look up an order by its id.", {"order_id": str})
async def lookup_order(args: dict[str, Any]) -> dict[str, Any]:
    BODIES.append("lookup_order")
    return text(f"order {args['order_id']}: shipped")


@tool("launch_rocket", "Launch a rocket at the target.", {"target": str})
async def launch_rocket(args: dict[str, Any]) -> dict[str, Any]:
    BODIES.append("launch_rocket")
    return text(f"launched at {args['target']}")


@tool("escalate_ticket", "Escalate a ticket to on-call.", {"ticket_id": str, "note": str})
async def escalate_ticket(args: dict[str, Any]) -> dict[str, Any]:
    BODIES.append("escalate_ticket")
    return text(f"escalated {args['ticket_id']}")


SUPPORT_TOOLS = [lookup_order, launch_rocket, escalate_ticket]
SUPPORT = create_sdk_mcp_server("support", tools=SUPPORT_TOOLS)
ESCALATE = ("mcp__support__escalate_ticket", {"ticket_id": "T-7", "note": "customer is down"})


def heso_cli(*args: str, env: dict[str, str]) -> str:
    """Run the real ``heso`` command line; returns its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "heso", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"heso {' '.join(args)} failed:\n{done.stderr}{done.stdout}")
    return done.stdout


def step(title: str) -> None:
    print(f"\n== {title}")


async def agent_run(home: Path, *calls: ToolUse) -> None:
    """One Claude Code session whose model makes ``calls``, gated by heso in message mode."""
    with FakeClaudeAPI(*calls, final_text="All done.") as api:
        options = ClaudeAgentOptions(
            mcp_servers={"support": SUPPORT},
            allowed_tools=[f"mcp__support__{t.name}" for t in SUPPORT_TOOLS],
            env=api.env(home),
            model="claude-sonnet-4-5",
            tools=[],  # no built-in tools for this agent
            cwd=home,
        )
        async for _ in heso.claude_agent.query(prompt="help", options=options, mode="message"):
            pass
        for call in calls:
            told = (api.tool_result_text(call.id) or "").split("\n\n<system-reminder>")[0]
            print(f"{call.name}({dict(call.input)}) -> the model read: {told}")


async def main() -> int:
    with tempfile.TemporaryDirectory(prefix="heso-claude-agent-") as tmp:
        base = Path(tmp)
        project = base / "support-agent"
        home = base / "claude-home"
        home.mkdir()
        for name in [k for k in os.environ if k.startswith("HESO_")]:
            del os.environ[name]  # this demo brings its own settings
        os.environ["HESO_KDF_PROFILE"] = "interactive"  # fast key derivation for a demo
        env = dict(os.environ, HESO_PROJECT_ROOT=str(project))
        heso_cli("init", str(project), env=env)
        alice_env = dict(
            env,
            HESO_APPROVER_HOME=str(base / "alice-laptop"),
            HESO_APPROVER_PASSPHRASE=secrets.token_urlsafe(16),
        )
        alice = json.loads(heso_cli("approver", "new", "alice", "--json", env=alice_env))
        (project / "heso.toml").write_text(POLICY.format(alice=alice["public_key"]))
        heso.init(project_root=project)

        step("the agent looks up the order, tries a rocket, escalates the ticket")
        await agent_run(
            home,
            ToolUse("mcp__support__lookup_order", {"order_id": "A-1"}),
            ToolUse("mcp__support__launch_rocket", {"target": "moon"}),
            ToolUse(*ESCALATE),
        )
        print(f"tool bodies that ran: {BODIES}")
        print(f"receipts (tool, decision): {receipts(project)}")

        step("alice approves the escalation from the CLI with her own key")
        pending = json.loads(heso_cli("approvals", "list", "--json", env=env))
        action_hash = pending[0]["action_hash"]
        approve = ("approve", action_hash[:12], "--as", "alice", "--reason", "customer is down")
        print(heso_cli(*approve, env=alice_env).rstrip())

        step("the model calls it again with the same arguments: it runs exactly once")
        await agent_run(home, ToolUse(*ESCALATE))
        print(f"tool bodies that ran: {BODIES}")
        heso.shutdown()

        step("anyone verifies the chain and the approver's co-signature")
        receipt = json.loads(heso_cli("show", action_hash[:12], "--json", env=env))
        print(f"signed by {', '.join(s['key_id'] for s in receipt['signatures'])}")
        print(heso_cli("verify", "--chain", env=env).rstrip())
        return 0 if BODIES == ["lookup_order", "escalate_ticket"] else 1


def receipts(project: Path) -> list[tuple[str, str]]:
    """``(tool name, decision)`` of every receipt in the project's chain."""
    found = []
    for _, line in FileLedger(project / "heso-local-data").entries():
        content = json.loads(line)["receipt"]["content"]
        found.append((content["action"]["tool_name"], content["policy"]["decision"]))
    return found


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
