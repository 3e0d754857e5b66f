"""The ``heso.wrap`` snippets of the product documentation (OpenAI & Anthropic page, and the
SDK reference's *Wrapping clients*) run as written: the real clients, configured only through
their usual environment variables, talk to the local fake provider."""

from __future__ import annotations

import textwrap
from typing import Any

import openai
import pytest

import heso

WRAP_OPENAI = """
import heso
from openai import OpenAI
heso.init()
client = heso.wrap(OpenAI())
resp = client.chat.completions.create(
    model="gpt-4o",
    messages=[{"role": "user", "content": "Summarize this contract."}],
)
"""

WRAP_ANTHROPIC = """
import heso
from anthropic import Anthropic
heso.init()
client = heso.wrap(Anthropic())
resp = client.messages.create(
    model="claude-sonnet-4-20250514",
    max_tokens=1024,
    messages=[{"role": "user", "content": "Summarize this contract."}],
)
"""

GPT4_RULE = """
[[rule]]
id = "gpt4-needs-approval"
order = 10
enabled = true
subject = { kind = "any" }
verb = "llm_call"
scope = "*"
conditions = [
{ field = "model", op = "regex", value = "^gpt-4", display = "model is a GPT-4 variant" },
]
decision = "require_approval"
approvers = ["oncall"]
sla_minutes = 30
"""

HANDLE_A_REFUSAL = """
import heso
from openai import OpenAI
heso.init()
client = heso.wrap(OpenAI())
try:
    resp = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "..."}],
    )
except heso.BlockedError:
    # Policy blocked the call. Nothing was sent to the provider.
    fall_back_to_a_cheaper_model()
except heso.SuspendedError as e:
    # Policy routed the call to a human. It is paused until someone approves.
    # e carries action_hash and rule_id; its message prints the next step.
    queue_for_approval(e.action_hash)
"""

OBSERVE_ONLY = """
import heso
# Observe-only: refused calls are still captured, signed, and audited,
# but a block does not raise — the call runs ungated.
heso.init(blocking=False)
"""

REFERENCE_WRAP = """
import heso
from openai import OpenAI
heso.init()
client = heso.wrap(OpenAI())
# .create at the leaf is gated as an llm_call; the call kwargs
# become the action fields. Everything else forwards verbatim.
resp = client.chat.completions.create(
    model="gpt-4o",
    messages=[{"role": "user", "content": "summarize Q3"}],
)
"""

POLICY_HEAD = """
[policy]
default = "allow"
"""


@pytest.fixture
def project(heso_project, fake_provider, monkeypatch):
    """The documented setup: a heso project as the working directory, the provider clients
    configured by environment (pointed at the fake provider)."""
    monkeypatch.chdir(heso_project.root)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_provider.openai_base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-local")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_provider.anthropic_base_url)
    heso_project.write_policy(POLICY_HEAD)
    return heso_project


def run(snippet: str, **names: Any) -> dict[str, Any]:
    """Run a snippet; returns its namespace (its client closed)."""
    namespace: dict[str, Any] = {"__name__": "snippet", **names}
    try:
        exec(compile(textwrap.dedent(snippet), "<documented snippet>", "exec"), namespace)
    finally:
        if "client" in namespace:
            namespace["client"].close()
    return namespace


def _action(project):
    (receipt,) = project.receipts()
    return receipt["content"]["action"]


def test_wrap_an_openai_client(project, fake_provider):
    resp = run(WRAP_OPENAI)["resp"]
    assert resp.choices[0].message.content == "echo: Summarize this contract."
    assert _action(project) == {
        "verb": "llm_call",
        "tool_name": "chat.completions.create",
        "workflow": "default",
        "account": "default",
        "fields": {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "Summarize this contract."}],
        },
    }
    assert fake_provider.count("/v1/chat/completions") == 1


def test_wrap_an_anthropic_client(project, fake_provider):
    resp = run(WRAP_ANTHROPIC)["resp"]
    assert resp.content[0].text == "echo: Summarize this contract."
    action = _action(project)
    assert (action["verb"], action["tool_name"]) == ("llm_call", "messages.create")
    assert action["fields"] == {
        "model": "claude-sonnet-4-20250514",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Summarize this contract."}],
    }


def test_a_rule_on_the_model_field_routes_the_call_to_a_human(project, fake_provider):
    project.write_policy(POLICY_HEAD + GPT4_RULE)
    queued: list[str] = []
    run(HANDLE_A_REFUSAL, fall_back_to_a_cheaper_model=None, queue_for_approval=queued.append)
    (receipt,) = project.receipts()
    assert queued == [receipt["content"]["action_hash"]]
    assert receipt["content"]["policy"]["rule_id"] == "gpt4-needs-approval"
    assert receipt["content"]["policy"]["decision"] == "require_approval"
    assert fake_provider.count() == 0  # nothing was sent to the provider


def test_a_blocked_call_falls_back(project, fake_provider):
    project.write_policy(POLICY_HEAD + GPT4_RULE.replace('"require_approval"', '"block"'))
    fell_back: list[bool] = []
    run(
        HANDLE_A_REFUSAL,
        fall_back_to_a_cheaper_model=lambda: fell_back.append(True),
        queue_for_approval=None,
    )
    assert fell_back == [True]
    assert fake_provider.count() == 0


def test_observe_only_runs_the_call_and_still_records_it(project, fake_provider):
    project.write_policy(POLICY_HEAD + GPT4_RULE)
    run(OBSERVE_ONLY)
    assert heso.config.current().config.blocking is False
    with heso.wrap(openai.OpenAI()) as client:
        resp = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}]
        )
    assert resp.choices[0].message.content == "echo: x"
    (receipt,) = project.receipts()
    assert receipt["content"]["policy"]["decision"] == "require_approval"
    assert fake_provider.count() == 1


def test_the_reference_example(project, fake_provider):
    resp = run(REFERENCE_WRAP)["resp"]
    assert resp.choices[0].message.content == "echo: summarize Q3"
    assert _action(project)["fields"]["model"] == "gpt-4o"
