"""heso gating a Pydantic AI agent, offline: one capability, three verdicts, one human approval.

A support agent (a scripted ``FunctionModel``, no network) asks for three tools at once:

1. ``lookup_order`` is allowed: it runs, and its body can read its own receipt's hash;
2. ``launch_rocket`` is blocked: the model is told why (``mode="message"``) and the body never
   runs;
3. ``escalate_ticket`` needs the on-call approver: the run ends with ``DeferredToolRequests``;
   approving in the framework alone would not run it. The approver signs with her own key from
   the CLI, the run resumes with ``resume_results`` and the escalation runs exactly once, as
   the very action she approved (its L1 receipt carries her co-signature).

Then anyone verifies the audit chain.

    python examples/pydantic_ai_agent.py
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from pydantic_ai import Agent, DeferredToolRequests, DeferredToolResults, ToolApproved
from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

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


def support_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Turn 1: call three tools. Then: summarise what the tools told it."""
    told = [p for p in messages[-1].parts if isinstance(p, ToolReturnPart | RetryPromptPart)]
    if not told:
        return ModelResponse(
            parts=[
                ToolCallPart("lookup_order", {"order_id": "A-1"}, tool_call_id="c-lookup"),
                ToolCallPart("launch_rocket", {"target": "moon"}, tool_call_id="c-rocket"),
                ToolCallPart(
                    "escalate_ticket",
                    {"ticket_id": "T-7", "note": "customer is down"},
                    tool_call_id="c-escalate",
                ),
            ]
        )
    lines = [
        f"{p.tool_name}: "
        + (p.model_response_str() if isinstance(p, ToolReturnPart) else p.model_response())
        for p in told
    ]
    return ModelResponse(parts=[TextPart("what the tools told me:\n  " + "\n  ".join(lines))])


def make_agent() -> Agent[None, str | DeferredToolRequests]:
    import heso

    agent: Agent[None, str | DeferredToolRequests] = Agent(
        FunctionModel(support_model),
        capabilities=[heso.pydantic_ai.HesoCapability(mode="message")],
        output_type=[str, DeferredToolRequests],
    )

    @agent.tool_plain
    def lookup_order(order_id: str) -> str:
        """Look up an order by its id."""
        BODIES.append("lookup_order")
        return f"order {order_id}: shipped (receipt {heso.current_action_hash()[:12]})"

    @agent.tool_plain
    def launch_rocket(target: str) -> str:
        """Launch a rocket at the target."""
        BODIES.append("launch_rocket")
        return f"launched at {target}"

    @agent.tool_plain
    def escalate_ticket(ticket_id: str, note: str) -> str:
        """Escalate a support ticket to the on-call engineer."""
        BODIES.append("escalate_ticket")
        return f"escalated {ticket_id} (receipt {heso.current_action_hash()[:12]})"

    return agent


def heso_cli(*args: str, env: dict[str, str]) -> str:
    """Run the real ``heso`` command line; returns its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "heso", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"heso {' '.join(args)} failed:\n{done.stderr}{done.stdout}")
    return done.stdout


def run(alice_env: dict[str, str]) -> None:
    import heso

    agent = make_agent()
    print("\n== 1. the model asks for three tools")
    paused = agent.run_sync("Customer A-1 is down, sort it out.")
    requests = paused.output
    assert isinstance(requests, DeferredToolRequests), requests
    for call in requests.approvals:
        meta = requests.metadata[call.tool_call_id]["heso"]
        print(
            f"  deferred {call.tool_name}({call.args}): {meta['reason']} "
            f"(receipt {meta['action_hash'][:12]}, approvers {meta['approvers']})"
        )
    print(f"  tool bodies that ran so far: {BODIES}")

    print("\n== 2. approving in the framework alone does not run it")
    (call,) = requests.approvals
    early = agent.run_sync(
        message_history=paused.all_messages(),
        deferred_tool_results=DeferredToolResults(approvals={call.tool_call_id: True}),
    )
    print("  " + str(early.output).splitlines()[-1].strip())
    print(f"  tool bodies that ran so far: {BODIES}")

    print("\n== 3. alice approves with her own key; the run resumes")
    short = requests.metadata[call.tool_call_id]["heso"]["action_hash"][:12]
    print("  " + heso_cli("approve", short, "--as", "alice", env=alice_env).strip())
    done = agent.run_sync(
        message_history=paused.all_messages(),
        deferred_tool_results=heso.pydantic_ai.resume_results(requests),
    )
    print("  " + str(done.output).replace("\n", "\n  "))
    print(f"  tool bodies that ran: {BODIES}")
    assert BODIES == ["lookup_order", "escalate_ticket"], BODIES

    print("\n== 4. resuming the same approval again never runs it twice")
    again = agent.run_sync(
        message_history=paused.all_messages(),
        deferred_tool_results=DeferredToolResults(approvals={call.tool_call_id: ToolApproved()}),
    )
    print("  " + str(again.output).replace("\n", "\n  "))
    assert BODIES == ["lookup_order", "escalate_ticket"], BODIES


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="heso-pydantic-ai-") as tmp:
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
        run(alice_env)
        heso.shutdown()

        print("\n== 5. anyone verifies the chain")
        print(heso_cli("verify", "--chain", env=env).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
