"""Evaluation: ordering, the default, verbs, scopes, subjects, AND/OR, indeterminate input,
and the decision record."""

from __future__ import annotations

import json
import textwrap
from fnmatch import fnmatchcase
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heso.action import Action, Verb
from heso.policy import DEFAULT_RULE_ID, Decision, DecisionKind, Policy, parse_policy
from heso.policy import engine as engine_module

ALLOW, BLOCK, APPROVAL = DecisionKind.ALLOW, DecisionKind.BLOCK, DecisionKind.REQUIRE_APPROVAL


def policy(text: str) -> Policy:
    return parse_policy(textwrap.dedent(text))


def act(
    verb: Verb = Verb.TOOL_CALL, tool: str = "t", fields: dict[str, Any] | None = None, **kw: Any
) -> Action:
    return Action(verb, tool, fields or {}, **kw)


# -- ordering and the default ---------------------------------------------------------------


def test_first_match_by_order_wins_not_file_position() -> None:
    p = policy(
        """
        [[rule]]
        id = "late"
        order = 20
        verb = "tool_call"
        decision = "block"

        [[rule]]
        id = "early"
        order = 10
        verb = "tool_call"
        decision = "allow"
        """
    )
    d = p.evaluate(act())
    assert (d.kind, d.rule_id) == (ALLOW, "early")


def test_equal_order_ties_break_by_file_position() -> None:
    p = policy(
        """
        [[rule]]
        id = "first-in-file"
        order = 5
        verb = "*"
        decision = "block"

        [[rule]]
        id = "second-in-file"
        order = 5
        verb = "*"
        decision = "allow"
        """
    )
    assert p.evaluate(act()).rule_id == "first-in-file"


def test_missing_order_is_zero_and_negative_orders_come_first() -> None:
    p = policy(
        """
        [[rule]]
        id = "zero"
        verb = "*"
        decision = "allow"

        [[rule]]
        id = "negative"
        order = -1
        verb = "*"
        decision = "block"
        """
    )
    assert [r.id for r in p.ordered_rules] == ["negative", "zero"]
    assert p.evaluate(act()).rule_id == "negative"


def test_disabled_rules_never_match_but_still_load() -> None:
    p = policy(
        """
        [policy]
        default = "allow"

        [[rule]]
        id = "off"
        enabled = false
        verb = "*"
        decision = "block"
        """
    )
    d = p.evaluate(act())
    assert (d.kind, d.rule_id) == (ALLOW, DEFAULT_RULE_ID)
    assert p.rule("off").enabled is False


@pytest.mark.parametrize("default", ["allow", "block"])
def test_explicit_default(default: str) -> None:
    p = policy(f'[policy]\ndefault = "{default}"\n')
    d = p.evaluate(act())
    assert d.kind.value == default
    assert d.rule_id == "heso:default"
    assert d.decision_path == f"lane:write(verb) > default={default}"
    assert d.rule_display == f"no rule matched: policy default {default}"
    assert d.matched_conditions == []


@pytest.mark.parametrize("text", ["", "# nothing\n", '[heso]\nworkflow = "w"\n'])
def test_builtin_default_is_block(text: str) -> None:
    p = parse_policy(text)
    assert p.default is BLOCK
    assert p.evaluate(act(Verb.LLM_CALL, "gpt-4o")).kind is BLOCK


def test_default_require_approval_uses_default_approvers_and_sla() -> None:
    p = policy(
        """
        [policy]
        default = "require_approval"
        default_approvers = ["security", "oncall"]
        default_sla_minutes = 45
        """
    )
    d = p.evaluate(act())
    assert (d.kind, d.approvers, d.sla_minutes) == (APPROVAL, ("security", "oncall"), 45)


# -- verbs, scopes, subjects ---------------------------------------------------------------

SCOPED = """
[policy]
default = "allow"

[[rule]]
id = "r"
verb = {verb}
scope = {scope}
decision = "block"
"""


@pytest.mark.parametrize(
    ("verb", "action_verb", "hit"),
    [
        ('"tool_call"', Verb.TOOL_CALL, True),
        ('"tool_call"', Verb.HTTP_REQUEST, False),
        ('["tool_call", "http_request"]', Verb.HTTP_REQUEST, True),
        ('"*"', Verb.DATA_EXPORT, True),
    ],
)
def test_verbs(verb: str, action_verb: Verb, hit: bool) -> None:
    p = parse_policy(SCOPED.format(verb=verb, scope='"*"'))
    assert (p.evaluate(act(action_verb, "x")).kind is BLOCK) is hit


@pytest.mark.parametrize(
    ("scope", "tool", "hit"),
    [
        ('"send_email"', "send_email", True),
        ('"send_email"', "send_emails", False),
        ('"send_email"', "Send_Email", False),
        ('"github.*"', "github.create_issue", True),
        ('"github.*"', "gitlab.create_issue", False),
        ('"*_delete"', "bulk_delete", True),
        ('"*_delete"', "bulk_delete_x", False),
        ('"report-?"', "report-1", True),
        ('"report-?"', "report-12", False),
        ('"[ab]*"', "beta", True),
        ('"[!ab]*"', "beta", False),
        ('"*"', "", True),
        ('["a", "b*"]', "bee", True),
        ('["a", "b*"]', "c", False),
        ('"mcp/*/read"', "mcp/fs/read", True),
    ],
)
def test_scope_globs(scope: str, tool: str, hit: bool) -> None:
    p = parse_policy(SCOPED.format(verb='"tool_call"', scope=scope))
    assert (p.evaluate(act(tool=tool)).kind is BLOCK) is hit


SUBJECT = """
[policy]
default = "allow"

[[rule]]
id = "r"
verb = "*"
subject = {subject}
decision = "block"
"""


@pytest.mark.parametrize(
    ("subject", "kw", "hit"),
    [
        ('{ kind = "any" }', {}, True),
        ('{ kind = "agent", name = "billing-bot" }', {"agent": "billing-bot"}, True),
        ('{ kind = "agent", name = "billing-bot" }', {"agent": "other"}, False),
        ('{ kind = "agent", name = "*" }', {}, False),  # no agent named: never an agent match
        ('{ kind = "agent", name = "billing-*" }', {"agent": "billing-eu"}, True),
        ('{ kind = "workflow", name = "prod-*" }', {"workflow": "prod-etl"}, True),
        ('{ kind = "workflow", name = "prod-*" }', {}, False),
        ('{ kind = "workflow", name = "default" }', {}, True),
        ('{ kind = "account", name = ["acme", "globex"] }', {"account": "globex"}, True),
        ('{ kind = "account", name = ["acme", "globex"] }', {"account": "initech"}, False),
    ],
)
def test_subjects(subject: str, kw: dict[str, str], hit: bool) -> None:
    p = parse_policy(SUBJECT.format(subject=subject))
    assert (p.evaluate(act(**kw)).kind is BLOCK) is hit


def test_verb_may_be_given_as_plain_text() -> None:
    p = parse_policy(SCOPED.format(verb='"tool_call"', scope='"*"'))
    action = Action("tool_call", "x", {})  # type: ignore[arg-type]
    assert p.evaluate(action).kind is BLOCK


def test_unknown_verb_is_a_value_error() -> None:
    p = parse_policy("")
    with pytest.raises(ValueError):
        p.evaluate(Action("teleport", "x", {}))  # type: ignore[arg-type]


# -- AND, OR --------------------------------------------------------------------------------

ANDOR = policy(
    """
    [policy]
    default = "allow"

    [[rule]]
    id = "and"
    verb = "payment"
    conditions = [
      { field = "amount", op = "gt", value = 100 },
      { field = "currency", op = "eq", value = "USD" },
    ]
    decision = "block"

    [[rule]]
    id = "or"
    verb = "data_export"
    any = [
      { field = "rows", op = "gt", value = 1000, display = "many rows" },
      { field = "dest", op = "ends_with", value = ".external.com", display = "external" },
    ]
    decision = "block"

    [[rule]]
    id = "and-or"
    verb = "tool_call"
    conditions = [{ field = "env", op = "eq", value = "prod" }]
    any = [
      { field = "a", op = "exists" },
      { field = "b", op = "exists" },
    ]
    decision = "block"
    """
)


@pytest.mark.parametrize(
    ("verb", "fields", "rule"),
    [
        (Verb.PAYMENT, {"amount": 500, "currency": "USD"}, "and"),
        (Verb.PAYMENT, {"amount": 500, "currency": "EUR"}, None),
        (Verb.PAYMENT, {"amount": 50, "currency": "USD"}, None),
        (Verb.DATA_EXPORT, {"rows": 5000}, "or"),
        (Verb.DATA_EXPORT, {"rows": 5, "dest": "s3.external.com"}, "or"),
        (Verb.DATA_EXPORT, {"rows": 5, "dest": "internal"}, None),
        (Verb.TOOL_CALL, {"env": "prod", "b": 1}, "and-or"),
        (Verb.TOOL_CALL, {"env": "dev", "b": 1}, None),
        (Verb.TOOL_CALL, {"env": "prod"}, None),
    ],
)
def test_and_or(verb: Verb, fields: dict[str, Any], rule: str | None) -> None:
    d = ANDOR.evaluate(act(verb, "x", fields))
    assert d.rule_id == (rule or "heso:default")


def test_any_records_only_the_alternatives_that_held() -> None:
    d = ANDOR.evaluate(act(Verb.DATA_EXPORT, "x", {"rows": 5, "dest": "a.external.com"}))
    assert [c["display"] for c in d.matched_conditions] == ["external"]
    d = ANDOR.evaluate(act(Verb.DATA_EXPORT, "x", {"rows": 5000, "dest": "a.external.com"}))
    assert [c["display"] for c in d.matched_conditions] == ["many rows", "external"]


# -- indeterminate input ----------------------------------------------------------------------

INDET = """
[policy]
default = "{default}"

[[rule]]
id = "r"
verb = "payment"
conditions = [{{ field = "amount", op = "{op}", value = 1000 }}]
decision = "{decision}"
approvers = ["finance"]
"""


@pytest.mark.parametrize("op", ["gt", "lt"])
def test_non_numeric_value_applies_a_block_rule(op: str) -> None:
    p = parse_policy(INDET.format(default="allow", op=op, decision="block"))
    d = p.evaluate(act(Verb.PAYMENT, "stripe", {"amount": "$4,200"}))
    assert (d.kind, d.rule_id) == (BLOCK, "r")
    assert d.decision_path == "lane:payment(verb) > rule:r=block[indeterminate:amount]"


def test_non_numeric_value_never_satisfies_an_allow_rule() -> None:
    p = parse_policy(INDET.format(default="block", op="lt", decision="allow"))
    d = p.evaluate(act(Verb.PAYMENT, "stripe", {"amount": "cheap"}))
    assert (d.kind, d.rule_id) == (BLOCK, "heso:default")
    d = p.evaluate(act(Verb.PAYMENT, "stripe", {"amount": "5"}))
    assert (d.kind, d.rule_id) == (ALLOW, "r")


def test_non_numeric_value_applies_an_approval_rule() -> None:
    p = parse_policy(INDET.format(default="allow", op="gt", decision="require_approval"))
    d = p.evaluate(act(Verb.PAYMENT, "stripe", {"amount": ["4200"]}))
    assert (d.kind, d.rule_id, d.approvers) == (APPROVAL, "r", ("finance",))


def test_a_false_condition_beats_an_indeterminate_one() -> None:
    p = policy(
        """
        [policy]
        default = "allow"
        [[rule]]
        id = "r"
        verb = "tool_call"
        conditions = [
          { field = "n", op = "gt", value = 1 },
          { field = "env", op = "eq", value = "prod" },
        ]
        decision = "block"
        """
    )
    assert p.evaluate(act(fields={"n": "x", "env": "dev"})).kind is ALLOW
    assert p.evaluate(act(fields={"n": "x", "env": "prod"})).kind is BLOCK


# -- the decision record --------------------------------------------------------------------

GPT4 = policy(
    """
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
    decision = "require_approval"     # allow | block | require_approval
    approvers = ["oncall"]
    sla_minutes = 30

    [[rule]]
    id = "regions"
    verb = "tool_call"
    display = "only EU and US regions"
    conditions = [{ field = "region", op = "in", value = ["eu", "us"] }]
    decision = "allow"
    """
)


def test_policy_block_of_the_issue_example() -> None:
    d = GPT4.evaluate(act(Verb.LLM_CALL, "openai", {"model": "gpt-4o"}))
    assert d.policy_block() == {
        "rule_id": "gpt4-needs-approval",
        "rule_display": "require_approval llm_call on * when model is a GPT-4 variant",
        "matched_conditions": [
            {
                "field": "model",
                "op": "regex",
                "value": "^gpt-4",
                "display": "model is a GPT-4 variant",
            }
        ],
        "decision_path": "lane:read(verb) > rule:gpt4-needs-approval=require_approval",
        "decision": "require_approval",
    }
    assert (d.kind, d.approvers, d.sla_minutes, d.lane) == (APPROVAL, ("oncall",), 30, "read")


def test_explicit_rule_display_and_list_values() -> None:
    d = GPT4.evaluate(act(fields={"region": "eu"}))
    block = d.policy_block()
    assert block["rule_display"] == "only EU and US regions"
    assert block["matched_conditions"] == [
        {"field": "region", "op": "in", "value": ["eu", "us"], "display": 'region in ["eu", "us"]'}
    ]
    assert d.approvers == () and d.sla_minutes is None


def test_policy_block_is_json_ready_identical_and_fresh() -> None:
    a = GPT4.evaluate(act(fields={"region": "eu"}))
    b = GPT4.evaluate(act(fields={"region": "eu"}))
    first = a.policy_block()
    assert json.loads(json.dumps(first)) == first
    assert first == b.policy_block()
    first["matched_conditions"][0]["value"].append("mars")
    first["rule_id"] = "tampered"
    assert a.policy_block()["matched_conditions"][0]["value"] == ["eu", "us"]
    assert a.policy_block()["rule_id"] == "regions"


def test_value_in_record_is_the_rules_never_the_actions() -> None:
    d = GPT4.evaluate(act(Verb.LLM_CALL, "openai", {"model": "gpt-4-secret-finetune"}))
    assert "secret" not in json.dumps(d.policy_block())


def test_repeated_evaluation_is_stable() -> None:
    results = {
        json.dumps(GPT4.evaluate(act(Verb.LLM_CALL, "m", {"model": m})).policy_block())
        for m in ["gpt-4", "gpt-4", "gpt-4o", "gpt-4"]
    }
    assert len(results) == 1


def test_target_cache_eviction_keeps_answers_right(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "_MAX_TARGETS", 3)
    p = parse_policy(SCOPED.format(verb='"tool_call"', scope='"hit-*"'))
    for i in range(20):
        assert p.evaluate(act(tool=f"hit-{i}")).kind is BLOCK
        assert p.evaluate(act(tool=f"miss-{i}")).kind is ALLOW
    assert len(p._targets) <= 3


def test_decision_is_frozen() -> None:
    d = GPT4.evaluate(act())
    with pytest.raises(AttributeError):
        d.kind = ALLOW  # type: ignore[misc]
    assert isinstance(d, Decision)


# -- the index agrees with a plain scan -----------------------------------------------------

PATTERNS = ["*", "a", "ab", "a*", "ab*", "*b", "?b", "[ab]*", "b", "abc", "a?c"]
NAMES = ["a", "ab", "abc", "b", "bb", "cb", "", "ba"]
VERBS = [v.value for v in Verb]


@st.composite
def policies(draw: st.DrawFn) -> tuple[str, int]:
    n = draw(st.integers(1, 12))
    out = ['[policy]\ndefault = "allow"\n']
    for i in range(n):
        verbs = draw(
            st.one_of(st.just("*"), st.lists(st.sampled_from(VERBS), min_size=1, max_size=3))
        )
        scopes = draw(st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3))
        order = draw(st.integers(-3, 3))
        enabled = draw(st.booleans()) or draw(st.booleans())
        decision = draw(st.sampled_from(["allow", "block", "require_approval"]))
        cond = draw(st.sampled_from(["", "gt", "eq"]))
        subject = draw(st.sampled_from(["", "agent", "workflow"]))
        lines = [
            "[[rule]]",
            f'id = "r{i}"',
            f"order = {order}",
            f"enabled = {str(enabled).lower()}",
            f"verb = {json.dumps(verbs)}",
            f"scope = {json.dumps(scopes)}",
            f'decision = "{decision}"',
            'approvers = ["g"]',
        ]
        if cond == "gt":
            lines.append('conditions = [{ field = "n", op = "gt", value = 5 }]')
        elif cond == "eq":
            lines.append('conditions = [{ field = "s", op = "eq", value = "x" }]')
        if subject:
            lines.append(f'subject = {{ kind = "{subject}", name = "w*" }}')
        out.append("\n".join(lines) + "\n")
    return "\n".join(out), n


def reference(p: Policy, action: Action) -> str:
    """A plain scan of every rule in order, written independently of the index."""
    for rule in p.ordered_rules:
        if not rule.enabled:
            continue
        if rule.verbs is not None and Verb(action.verb) not in rule.verbs:
            continue
        if not any(fnmatchcase(action.tool_name, s) for s in rule.scopes):
            continue
        if rule.subject.kind != "any":
            value = getattr(action, rule.subject.kind)
            if value is None or not any(fnmatchcase(value, n) for n in rule.subject.names):
                continue
        result = rule.evaluate(action.fields)
        if result or (result is None and rule.decision is not ALLOW):
            return f"rule:{rule.id}="
    return "default="


@settings(max_examples=300, deadline=None)
@given(
    policies(),
    st.sampled_from(VERBS),
    st.sampled_from(NAMES),
    st.sampled_from([{}, {"n": 9}, {"n": 1}, {"n": "x"}, {"s": "x"}, {"s": "y", "n": "7"}]),
    st.sampled_from(["default", "wf"]),
)
def test_index_matches_a_plain_scan(
    spec: tuple[str, int], verb: str, name: str, fields: dict[str, Any], workflow: str
) -> None:
    p = parse_policy(spec[0])
    action = Action(Verb(verb), name, fields, workflow=workflow, agent="w1")
    expected = reference(p, action)
    path = p.evaluate(action).decision_path
    assert path.split(" > ")[1].startswith(expected)
