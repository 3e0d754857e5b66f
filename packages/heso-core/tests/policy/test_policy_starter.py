"""The starter policy `heso init` writes."""

from __future__ import annotations

from heso.action import Action, Verb
from heso.policy import DecisionKind, parse_policy
from heso.policy.lint import lint
from heso.policy.starter import STARTER_POLICY

STARTER = parse_policy(STARTER_POLICY)


def test_starter_loads_and_lints_clean() -> None:
    assert len(STARTER.rules) >= 5
    assert [f.code for f in lint(STARTER) if f.severity != "info"] == []


def test_starter_uses_several_operators_and_an_oncall_approval() -> None:
    ops = {c.op for r in STARTER.rules for c in r.conditions}
    assert len(ops) >= 4
    approval = [r for r in STARTER.rules if r.decision is DecisionKind.REQUIRE_APPROVAL]
    assert approval and all(r.approvers == ("oncall",) for r in approval)


def test_starter_decisions() -> None:
    def kind(verb: Verb, tool: str, fields: dict[str, object], **kw: str) -> str:
        return STARTER.evaluate(Action(verb, tool, fields, **kw)).kind.value

    assert kind(Verb.TOOL_CALL, "sql_exec", {"query": "drop TABLE x"}, workflow="prod-1") == "block"
    assert kind(Verb.TOOL_CALL, "sql_exec", {"query": "drop TABLE x"}) == "allow"
    assert kind(Verb.HTTP_REQUEST, "fetch", {"url": "http://x"}) == "block"
    assert kind(Verb.HTTP_REQUEST, "fetch", {"url": "https://x"}) == "allow"
    assert kind(Verb.PAYMENT, "stripe", {"amount": 50000}) == "block"
    assert kind(Verb.PAYMENT, "stripe", {"amount": 5}) == "require_approval"
    assert kind(Verb.TOOL_CALL, "send_email", {"to": "a@example.com"}) == "allow"
    assert kind(Verb.TOOL_CALL, "send_email", {"to": "a@gmail.com"}) == "require_approval"
    assert kind(Verb.LLM_CALL, "openai", {"model": "gpt-4o", "max_tokens": 32000}) == (
        "require_approval"
    )
    assert kind(Verb.LLM_CALL, "openai", {"model": "gpt-4o", "max_tokens": 100}) == "allow"
    assert kind(Verb.DELETE, "files", {}) == "require_approval"
