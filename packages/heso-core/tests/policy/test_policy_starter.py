"""The starter policy `heso init` writes."""

from __future__ import annotations

import pytest

from heso.action import Action, Verb
from heso.approvals.registry import load_registry
from heso.keys import SigningKey
from heso.policy import DecisionKind, parse_policy
from heso.policy.lint import lint
from heso.policy.starter import STARTER_POLICY
from heso.toml_source import TomlSource

STARTER = parse_policy(STARTER_POLICY)


def test_starter_lints_clean_its_unset_approvers_are_a_note() -> None:
    assert len(STARTER.rules) >= 5
    assert [f for f in lint(STARTER) if f.severity != "info"] == []
    notes = {f.code for f in lint(STARTER)}
    assert notes == {"unknown-approver-group"}
    (note,) = lint(STARTER)
    assert "[approvers.oncall]" in note.message and "heso approver new" in (note.hint or "")


def test_the_commented_approvers_example_loads_once_filled_in() -> None:
    keys = {name: SigningKey.generate().public_key().to_str() for name in ("alice", "bob", "dave")}
    text = STARTER_POLICY.replace("# [approvers.", "[approvers.")
    for line in ("members = ", "threshold = ", "escalate_to = "):
        text = text.replace(f"# {line}", line)
    for name, key in keys.items():
        text = text.replace(f"ed25519:<{name}'s public key>", key)
    registry = load_registry(TomlSource(text))
    assert set(registry.groups) == {"oncall", "managers"}
    assert registry.group("oncall").threshold == 1
    assert registry.group("oncall").escalate_to == "managers"
    assert [f.code for f in lint(parse_policy(text)) if f.severity != "info"] == []


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
    assert kind(Verb.PAYMENT, "stripe", {"amount": 5}) == "allow"  # no payment floor
    assert kind(Verb.PAYMENT, "stripe", {"amount": "5000"}) == "require_approval"
    assert kind(Verb.PAYMENT, "stripe", {"amount": -5}) == "require_approval"
    assert kind(Verb.PAYMENT, "stripe", {"amount_usd": 5}) == "require_approval"
    assert kind(Verb.PAYMENT, "stripe", {"amount": "lots"}) == "block"
    assert kind(Verb.TOOL_CALL, "send_email", {"to": "a@example.com"}) == "allow"
    assert kind(Verb.TOOL_CALL, "send_email", {"to": "a@gmail.com"}) == "require_approval"
    assert kind(Verb.LLM_CALL, "openai", {"model": "gpt-4o", "max_tokens": 32000}) == (
        "require_approval"
    )
    assert kind(Verb.LLM_CALL, "openai", {"model": "gpt-4o", "max_tokens": 100}) == "allow"
    assert kind(Verb.DELETE, "files", {}) == "require_approval"


def _starter(verb: Verb, tool: str, fields: dict[str, object]) -> str:
    return STARTER.evaluate(Action(verb, tool, fields)).kind.value


@pytest.mark.parametrize(
    "url",
    ["HTTP://intranet/", "Http://intranet/", "  http://intranet/", "ht\ttp://intranet/",
     "\x00http://intranet/", "ftp://intranet/", "ws://intranet/", "//intranet/", "intranet"],
)  # fmt: skip
def test_starter_blocks_every_url_that_is_not_https(url: str) -> None:
    assert _starter(Verb.HTTP_REQUEST, "fetch", {"url": url}) == "block"
    assert _starter(Verb.HTTP_REQUEST, "fetch", {"url": "HTTPS://intranet/"}) == "allow"


@pytest.mark.parametrize(
    "fields",
    [
        {"to": "attacker@evil.example, audit@example.com"},
        {"to": "audit@example.com; attacker@evil.example"},
        {"to": '"audit@example.com" <attacker@evil.example>'},
        {"to": "attacker@evil.example (audit@example.com)"},
        {"to": "Audit: audit@example.com, attacker@evil.example;"},
        {"to": ["audit@example.com", "attacker@evil.example"]},
        {"to": ["audit@example.com", "attacker@evil.example, b@example.com"]},
        {"to": "audit@example.com\r\nBcc: attacker@evil.example"},
        {"to": "audit@example.com,"},
        {"to": "attacker@example.com.evil.example"},
        {"to": "audit@sub.example.com"},
        {"to": ""},
        {"to": []},
        {"to": [{"email": "audit@example.com"}]},
        {"to": "audit@example.com", "cc": "attacker@evil.example"},
        {"to": "audit@example.com", "bcc": ["attacker@evil.example"]},
        {"to": "audit@example.com", "cc": "not an address"},
    ],
)
def test_starter_sends_email_only_when_every_recipient_is_internal(
    fields: dict[str, object],
) -> None:
    assert _starter(Verb.TOOL_CALL, "send_email", fields) == "require_approval"


@pytest.mark.parametrize(
    "fields",
    [
        {"to": "audit@example.com"},
        {"to": "Audit Team <AUDIT@Example.COM>, b@example.com"},
        {"to": ['"Ops, EU" <ops@example.com>'], "cc": "", "bcc": []},
        {"to": '"attacker@evil.example"@example.com'},
        {"to": "a@example.com", "cc": "undisclosed-recipients:;"},
    ],
)
def test_starter_allows_internal_email(fields: dict[str, object]) -> None:
    assert _starter(Verb.TOOL_CALL, "send_email", fields) == "allow"
