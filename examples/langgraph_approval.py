"""A LangGraph agent pauses for a human approval and resumes, offline, with proof.

The graph's ``ToolNode`` is gated by ``heso.langgraph``. The (scripted, fake) model asks to
issue a refund; the policy requires the ``billing`` group's approval, so the graph pauses with
``interrupt()``. Resuming before anyone decided pauses again. The billing lead approves from the
CLI with their own key (``heso approve``); the resumed graph runs the refund exactly once, and
its receipt is L1: the operator's signature plus the approver's co-signature.

    python examples/langgraph_approval.py
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

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command

import heso
from heso.ledger import FileLedger
from heso.project import init_project

POLICY = """\
[policy]
default = "allow"

[[rule]]
id = "refunds-need-billing"
verb = "tool_call"
scope = "issue_credit"
decision = "require_approval"
approvers = ["billing"]
display = "account credits need a billing lead"

[approvers.billing]
members = {{ lead = "{lead}" }}
"""

ISSUED: list[str] = []


def issue_credit(customer_id: str, amount: int) -> str:
    """Credit a customer's account."""
    ISSUED.append(customer_id)
    return f"credited {amount} to {customer_id}"


class ScriptedModel(GenericFakeChatModel):
    def bind_tools(self, tools: object, **kwargs: object) -> ScriptedModel:
        return self


def build_graph() -> Any:
    call = {"name": "issue_credit", "args": {"customer_id": "cus_9", "amount": 40}, "id": "c1"}
    model = ScriptedModel(
        messages=iter([AIMessage("", tool_calls=[call]), AIMessage("Credit issued.")])
    )
    builder = StateGraph(MessagesState)
    builder.add_node("agent", lambda state: {"messages": [model.invoke(state["messages"])]})
    builder.add_node(
        "tools",
        ToolNode(
            [issue_credit],
            wrap_tool_call=heso.langgraph.wrap_tool_call,
            awrap_tool_call=heso.langgraph.awrap_tool_call,
        ),
    )
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=InMemorySaver())


def heso_cli(*args: str, env: dict[str, str]) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "heso", *args, "--json"], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"heso {' '.join(args)} failed:\n{done.stderr}{done.stdout}")
    return json.loads(done.stdout)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="heso-langgraph-") as tmp:
        base = Path(tmp)
        for name in [k for k in os.environ if k.startswith("HESO_")]:
            del os.environ[name]  # this demo brings its own settings
        os.environ["HESO_KDF_PROFILE"] = "interactive"  # throwaway keys: fast KDF
        root = base / "billing-agent"
        init_project(root)
        lead_env = dict(
            os.environ,
            HESO_APPROVER_HOME=str(base / "lead-laptop"),
            HESO_APPROVER_PASSPHRASE=secrets.token_urlsafe(16),
        )
        lead = heso_cli("approver", "new", "lead", env=lead_env)["public_key"]
        (root / "heso.toml").write_text(POLICY.format(lead=lead))
        heso.init(project_root=root)

        graph, thread = build_graph(), {"configurable": {"thread_id": "ticket-1"}}
        paused = graph.invoke({"messages": [("user", "Credit cus_9 40 EUR")]}, thread)
        request = paused["__interrupt__"][0].value
        print(f"== paused: {request['tool']}({request['args']}) needs {request['approvers']}")
        print(f"   rule {request['rule_id']}: {request['reason']}")

        again = graph.invoke(Command(resume="approve"), thread)
        print(f"== resumed before a decision: paused again = {bool(again.get('__interrupt__'))}")

        short = request["action_hash"][:12]
        decided = heso_cli("approve", short, "--as", "lead", "--project", str(root), env=lead_env)
        print(f"== the billing lead approved {short}: {decided['status']}")

        done = graph.invoke(Command(resume="approve"), thread)
        print(f"== resumed: {done['messages'][-2].content!r}; the tool ran {len(ISSUED)} time(s)")

        receipt = FileLedger(root / "heso-local-data").receipt(request["action_hash"])
        signers = [s["key_id"] for s in receipt["signatures"]]
        print(f"== receipt {short}: signed by {', '.join(signers)}")
        heso.shutdown()
        return 0 if ISSUED == ["cus_9"] and signers == ["operator", "approver:lead"] else 1


if __name__ == "__main__":
    sys.exit(main())
