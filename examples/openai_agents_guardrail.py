"""heso gating an OpenAI Agents SDK agent, offline: one call to protect it, three verdicts, one
human approval through the SDK's own interruptions.

A support agent (a scripted model, no network) asks for three tools at once:

1. ``lookup_order`` is allowed: it runs, and its body can read its own receipt's hash;
2. ``launch_rocket`` is blocked: the model is told why (``mode="message"``), the body never
   runs;
3. ``escalate_ticket`` needs the on-call approver: the run pauses with ``result.interruptions``.
   Approving it in the SDK alone would not run it. The approver signs with her own key from the
   CLI, ``apply_approvals`` mirrors that into the ``RunState``, and the resumed run escalates
   exactly once, as the very action she approved (its L1 receipt carries her co-signature).

Then anyone verifies the audit chain.

    python examples/openai_agents_guardrail.py
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

from agents import Agent, Runner, function_tool, set_tracing_disabled
from agents.items import ToolCallOutputItem

import heso
from heso_openai_agents.testing import ScriptedModel

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


@function_tool
def lookup_order(order_id: str) -> str:
    """Look up an order by its id."""
    BODIES.append("lookup_order")
    return f"order {order_id}: shipped (receipt {(heso.current_action_hash() or '')[:12]})"


@function_tool
def launch_rocket(target: str) -> str:
    """Launch a rocket at the target."""
    BODIES.append("launch_rocket")
    return f"launched at {target}"


@function_tool
def escalate_ticket(ticket_id: str, note: str) -> str:
    """Escalate a support ticket to the on-call engineer."""
    BODIES.append("escalate_ticket")
    return f"escalated {ticket_id}"


def heso_cli(*args: str, env: dict[str, str]) -> str:
    """Run the real ``heso`` command line; returns its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "heso", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"heso {' '.join(args)} failed:\n{done.stderr}{done.stdout}")
    return done.stdout


def step(text: str) -> None:
    print(f"\n== {text}")


async def main() -> int:
    set_tracing_disabled(True)
    with tempfile.TemporaryDirectory(prefix="heso-openai-agents-") as tmp:
        base = Path(tmp)
        project = base / "support-agent"
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

        step("the agent asks for three tools at once")
        model = ScriptedModel(
            [
                [
                    ("lookup_order", {"order_id": "A-1"}),
                    ("launch_rocket", {"target": "moon"}),
                    ("escalate_ticket", {"ticket_id": "T-7", "note": "customer is down"}),
                ],
                "Order A-1 has shipped; no rocket; the escalation is done.",
            ]
        )
        agent = Agent(
            name="support",
            instructions="Help the customer.",
            model=model,
            tools=[lookup_order, launch_rocket, escalate_ticket],
        )
        heso.openai_agents.protect(agent, mode="message")
        result = await Runner.run(agent, "A-1 is late and we are down, do something")
        for item in result.new_items:
            if isinstance(item, ToolCallOutputItem):
                print(f"tool result: {item.output}")
        for item in result.interruptions:
            print(f"paused for approval: {item.name}({item.arguments})")
        print(f"tool bodies that ran: {BODIES}")

        step("approving in the SDK alone would not run it: heso waits for a signed approval")
        state = result.to_state()
        decisions = heso.openai_agents.apply_approvals(state)
        print(f"pending in heso: {[item.name for item in decisions.pending]}")
        pending = json.loads(heso_cli("approvals", "list", "--json", env=env))
        action_hash = pending[0]["action_hash"]
        print(heso_cli("approvals", "list", env=env).rstrip())

        step("alice approves it from the CLI with her own key")
        approve = ("approve", action_hash[:12], "--as", "alice", "--reason", "customer is down")
        print(heso_cli(*approve, env=alice_env).rstrip())

        step("apply the decision to the RunState and resume: it runs exactly once")
        decisions = heso.openai_agents.apply_approvals(state)
        print(f"approved: {[item.name for item in decisions.approved]}")
        result = await Runner.run(agent, state)
        for output in model.tool_outputs():
            print(f"the model was told: {output}")
        print(f"final output: {result.final_output}")
        print(f"tool bodies that ran: {BODIES}")
        heso.shutdown()

        step("anyone verifies the chain and the approver's co-signature")
        receipt = json.loads(heso_cli("show", action_hash[:12], "--json", env=env))
        print(f"signed by {', '.join(s['key_id'] for s in receipt['signatures'])}")
        print(heso_cli("verify", "--chain", env=env).rstrip())
        return 0 if BODIES == ["lookup_order", "escalate_ticket"] else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
