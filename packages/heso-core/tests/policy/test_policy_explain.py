"""`explain`: the deciding rule, its conditions, and why each earlier rule did not decide."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from heso.action import Action, Verb
from heso.policy import parse_policy
from heso.policy.explain import explain
from heso.policy.starter import STARTER_POLICY

POLICY = parse_policy(
    textwrap.dedent(
        """
        [policy]
        default = "allow"

        [[rule]]
        id = "off"
        order = 1
        enabled = false
        verb = "*"
        decision = "block"

        [[rule]]
        id = "llm-only"
        order = 2
        verb = "llm_call"
        decision = "block"

        [[rule]]
        id = "other-tool"
        order = 3
        verb = "payment"
        scope = "paypal*"
        decision = "block"

        [[rule]]
        id = "bot-only"
        order = 4
        verb = "payment"
        subject = { kind = "agent", name = "bot" }
        decision = "block"

        [[rule]]
        id = "small"
        order = 5
        verb = "payment"
        conditions = [
          { field = "amount", op = "lt", value = 10, display = "small amount" },
        ]
        decision = "allow"

        [[rule]]
        id = "big-usd"
        order = 6
        verb = "payment"
        conditions = [
          { field = "amount", op = "gt", value = 1000, display = "over 1000" },
          { field = "currency", op = "eq", value = "USD" },
        ]
        decision = "block"

        [[rule]]
        id = "later"
        order = 7
        verb = "*"
        decision = "allow"

        [policy.floors]
        payment = "require_approval"
        """
    )
)


def test_explains_each_earlier_rule_and_the_decider() -> None:
    action = Action(Verb.PAYMENT, "stripe", {"amount": "4200", "currency": "USD"}, agent="human")
    result = explain(POLICY, action)
    assert result.decision.rule_id == "big-usd"
    assert [(r.rule_id, r.outcome) for r in result.rules] == [
        ("off", "disabled"),
        ("llm-only", "skipped"),
        ("other-tool", "skipped"),
        ("bot-only", "skipped"),
        ("small", "skipped"),
        ("big-usd", "decided"),
    ]
    reasons = [r.reason for r in result.rules]
    assert reasons[1] == "verb payment is not llm_call"
    assert reasons[2] == 'tool "stripe" is outside scope paypal*'
    assert reasons[3] == 'agent "human" is not bot'
    assert reasons[4] == "condition failed: small amount"
    assert result.rules[4].conditions[0].reason == '"4200" (read as 4200) -> false'
    decider = result.rules[5]
    assert [(c.display, c.result) for c in decider.conditions] == [
        ("over 1000", "true"),
        ('currency eq "USD"', "true"),
    ]
    assert result.not_reached == 1
    assert result.lane == "payment"


def test_render_reads_well() -> None:
    action = Action(Verb.PAYMENT, "stripe", {"amount": 5, "currency": "USD"})
    text = explain(POLICY, action).render()
    assert "decision: require_approval, by heso:floor:payment" in text
    assert "lane:     payment (from its verb)" in text
    assert "approvers: oncall" in text
    assert (
        "path:     lane:payment(verb) > rule:small=allow > floor:payment=require_approval" in text
    )
    assert "[decided] small" in text
    assert "+ small amount: 5 -> true" in text
    assert "(2 later rule(s) not reached)" in text


def test_indeterminate_input_is_explained() -> None:
    action = Action(Verb.PAYMENT, "stripe", {"amount": "lots", "currency": "USD"})
    result = explain(POLICY, action)
    small, big = result.rules[4], result.rules[5]
    assert small.outcome == "skipped"
    assert small.reason == "indeterminate input (amount): an allow rule never matches on it"
    assert small.conditions[0].reason == '"lots" is not a number'
    assert big.outcome == "decided"
    assert "indeterminate input (amount)" in big.reason


def test_missing_field_is_explained() -> None:
    result = explain(POLICY, Action(Verb.PAYMENT, "stripe", {}))
    assert result.rules[4].conditions[0].reason == "field is missing"


def test_json_form_is_json() -> None:
    action = Action(Verb.PAYMENT, "stripe", {"amount": 5, "when": object()})
    data = explain(POLICY, action).as_dict()
    text = json.dumps(data)
    assert json.loads(text)["policy"]["rule_id"] == "heso:floor:payment"
    assert data["rules"][0] == {
        "rule_id": "off",
        "order": 1,
        "line": 5,
        "outcome": "disabled",
        "reason": "enabled = false",
        "conditions": [],
    }


def test_unknown_catalog_action_tries_no_rules() -> None:
    result = explain(POLICY, Action(Verb.TOOL_CALL, "x", {}, action_id="nope.nope"))
    assert result.rules == []
    assert result.decision.rule_id == "heso:unknown-catalog-action"
    assert "none apply" in result.render()


STARTER = parse_policy(STARTER_POLICY)
VERBS = [v.value for v in Verb]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([STARTER, POLICY]),
    st.sampled_from(VERBS),
    st.sampled_from(["send_email", "sql_run", "stripe", "paypal-x", "delete_row", "gpt-4o"]),
    st.dictionaries(
        st.sampled_from(["amount", "currency", "to", "url", "model", "max_tokens", "query"]),
        st.one_of(
            st.integers(-5, 50000),
            st.sampled_from(["USD", "a@example.com", "http://x", "gpt-4", "DROP TABLE t", "12"]),
        ),
        max_size=4,
    ),
    st.sampled_from(["default", "prod-etl"]),
    st.sampled_from([None, "bot"]),
)
def test_explain_agrees_with_evaluate(
    p: Any, verb: str, tool: str, fields: dict[str, Any], workflow: str, agent: str | None
) -> None:
    action = Action(Verb(verb), tool, fields, workflow=workflow, agent=agent)
    result = explain(p, action)
    decided = [r for r in result.rules if r.outcome == "decided"]
    step = result.decision.decision_path.split(" > ")[1]
    if decided:
        assert step.startswith(f"rule:{decided[0].rule_id}=")
        assert result.rules[-1] is decided[0]
    else:
        assert step.startswith("default=")
        assert len(result.rules) == len(p.rules)


def test_explain_shows_each_recipient_domain_and_the_url_scheme() -> None:
    email = Action(Verb.TOOL_CALL, "send_email", {"to": "eve@evil.example, audit@example.com"})
    result = explain(STARTER, email)
    internal = next(r for r in result.rules if r.rule_id == "internal-email-ok")
    assert internal.outcome == "skipped"
    assert internal.conditions[0].reason == (
        '"eve@evil.example, audit@example.com" (domains: evil.example, example.com) -> false'
    )
    junk = explain(STARTER, Action(Verb.TOOL_CALL, "send_email", {"to": "a@example.com,"}))
    internal = next(r for r in junk.rules if r.rule_id == "internal-email-ok")
    assert internal.conditions[0].reason == '"a@example.com," is not a list of email addresses'
    http = explain(STARTER, Action(Verb.HTTP_REQUEST, "fetch", {"url": "HTTP://x"}))
    assert http.decision.rule_id == "block-plain-http"
    assert http.rules[-1].conditions[0].reason == '"HTTP://x" (scheme: http) -> true'
