"""A LangChain agent whose every tool call is gated, signed and chained by heso, offline.

The (scripted, fake) model looks up an order, then tries to wipe a customer's data: the
policy blocks that. With ``HesoMiddleware(mode="message")`` the model reads the refusal and
carries on; with ``HesoCallbackHandler()`` (raise mode) the refusal stops the run. Then the
audit chain is verified.

    python examples/langchain_agent.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage

import heso
from heso.ledger import verify_chain
from heso.project import init_project
from heso_langchain import HesoMiddleware

POLICY = """\
[policy]
default = "allow"

[[rule]]
id = "no-bulk-wipes"
verb = "tool_call"
scope = "wipe_customer_data"
decision = "block"
display = "customer data is never wiped by an agent"
"""


def lookup_order(order_id: str) -> str:
    """Look up an order's status."""
    return f"order {order_id}: delivered"


def wipe_customer_data(customer_id: str) -> str:
    """Erase everything stored about a customer."""
    raise AssertionError("heso never lets this run")


class ScriptedModel(GenericFakeChatModel):
    """An offline stand-in for a chat model that calls tools."""

    def bind_tools(self, tools: object, **kwargs: object) -> ScriptedModel:
        return self


def model() -> ScriptedModel:
    return ScriptedModel(
        messages=iter(
            [
                AIMessage(
                    "",
                    tool_calls=[{"name": "lookup_order", "args": {"order_id": "A-7"}, "id": "c1"}],
                ),
                AIMessage(
                    "",
                    tool_calls=[
                        {"name": "wipe_customer_data", "args": {"customer_id": "cus_9"}, "id": "c2"}
                    ],
                ),
                AIMessage("The order was delivered; I may not wipe customer data."),
            ]
        )
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="heso-langchain-") as tmp:
        os.environ.setdefault("HESO_KDF_PROFILE", "interactive")  # throwaway key: fast KDF
        root = Path(tmp) / "support-agent"
        init_project(root)
        (root / "heso.toml").write_text(POLICY)
        heso.init(project_root=root)
        question = {"messages": [("user", "Where is order A-7? Then wipe cus_9.")]}

        print("== middleware, message mode: the model reads the refusal and carries on")
        agent = create_agent(
            model(), [lookup_order, wipe_customer_data], middleware=[HesoMiddleware(mode="message")]
        )
        for message in agent.invoke(question)["messages"]:
            if isinstance(message, ToolMessage):
                print(f"  tool {message.name}: {message.content}")
        print(f"  final answer: {message.content}")

        print("== callback handler, raise mode: the refusal stops the run")
        agent = create_agent(model(), [lookup_order, wipe_customer_data])
        try:
            agent.invoke(question, {"callbacks": [heso.HesoCallbackHandler()]})
        except heso.BlockedError as refusal:
            print(f"  BlockedError: rule {refusal.rule_id}, receipt {refusal.action_hash[:12]}")

        heso.shutdown()
        verdict = verify_chain(root / "heso-local-data")
        print(f"== audit chain: {verdict} ({verdict.details['entries']} receipts)")
        return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
