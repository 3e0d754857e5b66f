"""Many candidate rules: the plan (sieves by field value) decides exactly as a plain scan.

A reference evaluator, written straight from the rules (first match by ``order`` then file
position, three-valued conditions, ``any`` groups, subjects), is compared with the engine on
random policies whose wildcard scopes overlap, over random actions with oddly typed fields.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heso import fieldpath
from heso.action import Action, Verb
from heso.policy import Decision, DecisionKind, Policy, parse_policy
from heso.policy import engine as engine_module
from heso.policy import plan as plan_module
from heso.policy.operators import OPERATORS
from heso.policy.plan import Plan

ALLOW = DecisionKind.ALLOW

# -- random policies --------------------------------------------------------------------------

FIELDS = ["a", "b", "n.x", "to", "u", "items"]
SCALARS: list[Any] = ["x", "X", "y", "1", "1.0", " 2 ", "", 1, 1.0, 2, -1, 2.5, 0, True, False]
PATTERNS = ["^x", "y$", "(?i)X", "x|1", r"\d+", r"^1(\.0)?$", r"@x\.com", "x.*y", r"\bx\b"]
GLOBS = ["x*", "*y", "?", "[ab]*", "a@*", "*"]
DOMAINS = ["x.com", "*.x.com", "y.org", "X.COM"]
SCHEMES = ["http", "https", "FTP"]
TEXTS = ["x", "ab", "a@x", "1"]


def values_for(op: str) -> st.SearchStrategy[Any]:
    """Valid rule values for ``op``, drawn from small pools so that rules share them."""
    one = st.sampled_from(SCALARS)
    numbers = st.sampled_from([1, 1.0, 2, -1, 2.5, 0, 10**20])
    some = lambda pool: st.one_of(  # noqa: E731
        st.sampled_from(pool), st.lists(st.sampled_from(pool), min_size=1, max_size=3)
    )
    return {
        "eq": one,
        "ne": one,
        "in": st.lists(one, min_size=1, max_size=3),
        "not_in": st.lists(one, min_size=1, max_size=3),
        "lt": numbers,
        "lte": numbers,
        "gt": numbers,
        "gte": numbers,
        "regex": st.sampled_from(PATTERNS),
        "contains": st.sampled_from(["x", "1", 1, True, "a@x.com"]),
        "not_contains": st.sampled_from(["x", "1", 1, True, "a@x.com"]),
        "starts_with": some(TEXTS),
        "ends_with": some(TEXTS),
        "glob": some(GLOBS),
        "email_domain_in": some(DOMAINS),
        "email_domain_not_in": some(DOMAINS),
        "url_scheme_in": some(SCHEMES),
        "url_scheme_not_in": some(SCHEMES),
    }.get(op, st.none())


@st.composite
def conditions(draw: st.DrawFn) -> str:
    op = draw(st.sampled_from(list(OPERATORS)))
    field = draw(st.sampled_from(FIELDS))
    if OPERATORS[op].needs_value:
        value = json.dumps(draw(values_for(op)))
        return f'{{ field = "{field}", op = "{op}", value = {value} }}'
    return f'{{ field = "{field}", op = "{op}" }}'


@st.composite
def policies(draw: st.DrawFn) -> str:
    n = draw(st.integers(12, 40))
    default = draw(st.sampled_from(["allow", "block"]))
    out = [f'[policy]\ndefault = "{default}"\n']
    for i in range(n):
        verbs = draw(
            st.sampled_from(['"*"', '"tool_call"', '["tool_call", "payment"]', '"delete"'])
        )
        scopes = draw(
            st.lists(
                st.sampled_from(["*", "send_*", "*_email", "send_email", "*mail*", "other"]),
                min_size=1,
                max_size=2,
            )
        )
        lines = [
            "[[rule]]",
            f'id = "r{i}"',
            f"order = {draw(st.integers(-2, 2))}",
            f"enabled = {str(draw(st.integers(0, 9)) > 0).lower()}",
            f"verb = {verbs}",
            f"scope = {json.dumps(scopes)}",
            f'decision = "{draw(st.sampled_from(["allow", "block", "require_approval"]))}"',
            'approvers = ["g"]',
        ]
        k = draw(st.integers(0, 3))
        if k:
            lines.append(f"conditions = [{', '.join(draw(conditions()) for _ in range(k))}]")
        if draw(st.integers(0, 3)) == 0:
            alternatives = [draw(conditions()) for _ in range(draw(st.integers(1, 3)))]
            lines.append(f"any = [{', '.join(alternatives)}]")
        kind = draw(st.sampled_from(["", "", "agent", "workflow", "account"]))
        if kind:
            names = draw(
                st.lists(st.sampled_from(["w1", "w*", "*1", "w?", "*", "default"]), min_size=1)
            )
            lines.append(f'subject = {{ kind = "{kind}", name = {json.dumps(names)} }}')
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)


# -- random actions ---------------------------------------------------------------------------

ODD: list[Any] = [
    None,
    "x",
    "X",
    "xy",
    "1",
    "1.0",
    " 2 ",
    "",
    "a@x.com",
    "A <b@sub.x.com>, c@y.org",
    "a@X.COM",
    "bad@",
    "http://h",
    "HTTPS://h",
    "ftp:x",
    1,
    1.0,
    2,
    2.5,
    -1,
    0,
    10**20,
    float("nan"),
    float("inf"),
    True,
    False,
    Decimal("1"),
    Decimal("2.5"),
    ["a@x.com"],
    ["x", 1],
    [],
    [None, "y", True],
    ("x",),
    {"x": 1},
]


@st.composite
def actions(draw: st.DrawFn) -> Action:
    fields: dict[str, Any] = {}
    for name in ["a", "b", "to", "u", "items"]:
        if draw(st.booleans()):
            fields[name] = draw(st.sampled_from(ODD))
    n = draw(st.sampled_from(["absent", "dict", "odd"]))
    if n == "dict":
        fields["n"] = {"x": draw(st.sampled_from(ODD))}
    elif n == "odd":
        fields["n"] = draw(st.sampled_from(ODD))
    return Action(
        draw(st.sampled_from([Verb.TOOL_CALL, Verb.PAYMENT, Verb.DELETE])),
        draw(st.sampled_from(["send_email", "send_sms", "read_mail", "other"])),
        fields,
        workflow=draw(st.sampled_from(["w1", "wx", "default"])),
        account=draw(st.sampled_from(["w1", "a1", "default"])),
        agent=draw(st.sampled_from([None, "w1", "x"])),
    )


# -- the reference ----------------------------------------------------------------------------


def holds(condition: Any, fields: Any) -> bool | None:
    """One condition, straight from its operator's test."""
    value = fieldpath.get(fields, fieldpath.parse(condition.field))
    if value is None or value is fieldpath.MISSING:
        return OPERATORS[condition.op].on_missing
    return OPERATORS[condition.op].build(condition.value)(value)


def reference(policy: Policy, action: Action) -> tuple[str, list[dict[str, Any]]]:
    """(the decision path's rule step, the matched conditions) by a plain scan."""
    rules = sorted(policy.rules, key=lambda r: (r.order, r.position))
    for rule in rules:
        if not rule.enabled:
            continue
        if rule.verbs is not None and action.verb not in rule.verbs:
            continue
        if not any(fnmatchcase(action.tool_name, s) for s in rule.scopes):
            continue
        if rule.subject.kind != "any":
            who = getattr(action, rule.subject.kind)
            if who is None or not any(fnmatchcase(who, n) for n in rule.subject.names):
                continue
        every = [holds(c, action.fields) for c in rule.conditions]
        if False in every:
            continue
        either = [holds(c, action.fields) for c in rule.any_conditions]
        if rule.any_conditions and True not in either and None not in either:
            continue
        unknown = None in every or (bool(either) and True not in either)
        if unknown and rule.decision is ALLOW:
            continue
        matched = list(rule.conditions) + [
            c for c, r in zip(rule.any_conditions, either, strict=True) if r is not False
        ]
        undecided = [
            c.field
            for c, r in zip(
                [*rule.conditions, *rule.any_conditions], [*every, *either], strict=True
            )
            if r is None
        ]
        step = f"rule:{rule.id}={rule.decision.value}"
        if undecided and (unknown or rule.any_conditions):
            step += f"[indeterminate:{','.join(dict.fromkeys(undecided))}]"
        return step, [c.as_record() for c in matched]
    return f"default={policy.default.value}", []


def plan_of(policy: Policy, verb: Verb, tool: str) -> Plan | None:
    many = policy._targets[(verb, tool)][3]
    return None if many is None else many.plan


def evaluate(policy: Policy, action: Action, *, plan: bool) -> Decision:
    """The engine's decision, through a plan (built on the second evaluation) or by a scan."""
    with mock.patch.object(engine_module, "_PLAN_MIN", 1 if plan else 10**9):
        first = policy.evaluate(action)
        second = policy.evaluate(action)
    assert second == first
    return second


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(policies(), st.lists(actions(), min_size=1, max_size=6))
def test_the_plan_decides_as_a_plain_scan_and_the_reference(text: str, acts: list[Action]) -> None:
    scanned, planned = parse_policy(text), parse_policy(text)
    for action in acts:
        expected_step, expected_matched = reference(planned, action)
        by_scan = evaluate(scanned, action, plan=False)
        by_plan = evaluate(planned, action, plan=True)
        many = planned._targets[(action.verb, action.tool_name)][3]
        assert many is None or many.plan is not None
        assert by_plan == by_scan
        assert by_plan.decision_path.split(" > ")[1] == expected_step
        assert by_plan.matched_conditions == expected_matched
        assert by_plan.policy_block() == by_scan.policy_block()


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(policies(), st.lists(actions(), min_size=4, max_size=12))
def test_remembered_results_never_change_a_decision(text: str, acts: list[Action]) -> None:
    """With room for two results per check and row, the remembered results are dropped and
    checks leave the row all the time: every decision is still the scan's."""
    scanned, planned = parse_policy(text), parse_policy(text)
    with mock.patch.object(plan_module, "_CACHE_SIZE", 2):
        for action in acts + acts[::-1]:
            assert evaluate(planned, action, plan=True) == evaluate(scanned, action, plan=False)


def test_a_check_that_meets_many_values_leaves_the_row() -> None:
    rules = "\n".join(
        f'[[rule]]\nid = "r{i}"\nverb = "*"\nscope = "*"\ndecision = "block"\n'
        f'conditions = [{{ field = "to", op = "eq", value = "u{i}@x.com" }}, '
        f'{{ field = "subject", op = "regex", value = "^urgent-{i}$" }}]\n'
        for i in range(30)
    )
    policy = parse_policy('[policy]\ndefault = "allow"\n' + rules)
    for k in range(plan_module._CACHE_SIZE + 40):
        action = Action(Verb.TOOL_CALL, "t", {"to": "u7@x.com", "subject": f"s{k}"})
        assert policy.evaluate(action).kind is ALLOW
    plan = plan_of(policy, Verb.TOOL_CALL, "t")
    assert plan is not None
    steady, others, rows, reads = plan.steady
    assert [plan.reads[i][1] for i in others] == ["subject"]
    assert [plan.reads[i][1] for i in steady] == ["to"]
    assert [read[1] for read in reads] == ["to"]
    assert list(rows) == [("u7@x.com",)]  # one row: the subject is no part of it
    hit = Action(Verb.TOOL_CALL, "t", {"to": "u7@x.com", "subject": "urgent-7"})
    assert policy.evaluate(hit).rule_id == "r7"
    assert policy.evaluate(Action(Verb.TOOL_CALL, "t", {"to": ["u7@x.com"]})).kind is ALLOW


def test_a_check_that_left_the_row_remembers_its_last_value_by_type_and_value() -> None:
    rules = "\n".join(
        f'[[rule]]\nid = "r{i}"\nverb = "*"\nscope = "*"\ndecision = "block"\n'
        f'conditions = [{{ field = "n", op = "in", value = [{i}, "{i}"] }}]\n'
        for i in range(30)
    )
    rules += '[[rule]]\nid = "b"\nverb = "*"\nscope = "*"\ndecision = "block"\n'
    rules += 'conditions = [{ field = "n", op = "in", value = [true] }]\n'
    text = '[policy]\ndefault = "allow"\n' + rules
    policy, scanned = parse_policy(text), parse_policy(text)
    for k in range(plan_module._CACHE_SIZE + 40):
        assert policy.evaluate(Action(Verb.TOOL_CALL, "t", {"n": 1000 + k})).kind is ALLOW
    plan = plan_of(policy, Verb.TOOL_CALL, "t")
    assert plan is not None
    (check,) = plan.steady[1]
    for value in [7, 7, True, 7.0, "7", "7", 1, True, [7], 7, None, 7]:
        action = Action(Verb.TOOL_CALL, "t", {"n": value})
        assert policy.evaluate(action) == evaluate(scanned, action, plan=False), value
    assert plan.last[check] is not None and plan.last[check][0] == 7


# -- sieves -----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_sieve_rules_out_exactly_the_conditions_that_are_false(data: st.DataObject) -> None:
    op = data.draw(st.sampled_from(list(OPERATORS)))
    values = data.draw(st.lists(values_for(op), min_size=1, max_size=6))
    entries = [(v, 1 << i) for i, v in enumerate(values)]
    sieve = OPERATORS[op].sieve(op, entries)
    for x in ODD[1:]:
        ruled = sieve(x)
        for value, bit in entries:
            result = OPERATORS[op].build(value)(x)
            if ruled & bit:
                assert result is False, (op, value, x)
            elif not isinstance(x, (Decimal, dict)):
                assert result is not False, (op, value, x)  # exact for these types


@pytest.mark.parametrize(
    ("first", "second", "value"),
    [
        ('"*.x.com"', '"y.org"', "A <b@sub.x.com>, c@y.org"),  # each has one outside its list
        ('"x.com"', '"y.org"', ["a@x.com", "b@y.org"]),
        ('["a", "b"]', '["b", "c"]', "b"),
    ],
)
def test_one_field_and_operator_twice_in_a_rule(first: str, second: str, value: Any) -> None:
    op = "in" if first.startswith('["a"') else "email_domain_not_in"
    rules = "\n".join(
        f'[[rule]]\nid = "r{i}"\nverb = "*"\nscope = "*"\ndecision = "block"\n'
        f'conditions = [{{ field = "to", op = "{op}", value = {first} }}, '
        f'{{ field = "to", op = "{op}", value = {second} }}]\n'
        for i in range(15)
    )
    text = '[policy]\ndefault = "allow"\n' + rules
    action = Action(Verb.TOOL_CALL, "t", {"to": value})
    planned = evaluate(parse_policy(text), action, plan=True)
    assert planned == evaluate(parse_policy(text), action, plan=False)
    assert planned.rule_id == "r0"


def test_subjects_absent_or_oddly_typed_never_rule_out_wrongly() -> None:
    text = "\n".join(
        f'[[rule]]\nid = "r{i}"\nverb = "*"\nscope = "*"\ndecision = "block"\n'
        f'subject = {{ kind = "agent", name = ["{name}"] }}\n'
        for i, name in enumerate(["w1", "w*", "*1", "w?", "*"] * 3)
    )
    policy = parse_policy('[policy]\ndefault = "allow"\n' + text)
    for agent in [None, "w1", "x1", "wz", "other"]:
        action = Action(Verb.TOOL_CALL, "t", {}, agent=agent)
        assert evaluate(policy, action, plan=True) == evaluate(
            parse_policy(policy.source.text), action, plan=False
        )


def test_candidates_are_not_tried_one_by_one_when_a_field_rules_them_out() -> None:
    rules = "\n".join(
        f'[[rule]]\nid = "r{i}"\nverb = "tool_call"\nscope = "send_*"\ndecision = "block"\n'
        f'conditions = [{{ field = "to", op = "eq", value = "u{i}@x.com" }}]\n'
        for i in range(500)
    )
    policy = parse_policy('[policy]\ndefault = "allow"\n' + rules)
    action = Action(Verb.TOOL_CALL, "send_email", {"to": "u250@x.com"})
    for _ in range(2):
        assert policy.evaluate(action).rule_id == "r250"
    plan = plan_of(policy, Verb.TOOL_CALL, "send_email")
    assert plan is not None
    assert [r.id for r in plan.survivors(action, action.fields)] == ["r250"]


def test_a_plan_is_shared_by_targets_with_the_same_candidates_and_memory_is_bounded() -> None:
    rules = "\n".join(
        f'[[rule]]\nid = "r{i}"\nverb = "{"*" if i % 2 else "tool_call"}"\nscope = "*"\n'
        f'decision = "block"\nconditions = [{{ field = "n", op = "eq", value = {i} }}]\n'
        for i in range(60)
    )
    policy = parse_policy('[policy]\ndefault = "allow"\n' + rules)
    for name in ["a", "b", "c"]:
        for _ in range(2):
            assert policy.evaluate(Action(Verb.TOOL_CALL, name, {"n": 59})).rule_id == "r59"
    assert len({id(plan_of(policy, *key)) for key in policy._targets}) == 1
    assert len(policy._plans) == 1 and policy._planned == 60
    with mock.patch.object(engine_module, "_PLAN_BUDGET", 70):
        for _ in range(2):
            assert policy.evaluate(Action(Verb.PAYMENT, "a", {"n": 59})).rule_id == "r59"
    assert len(policy._plans) == 1 and policy._planned == 30  # the first plan was dropped
    assert not policy._targets  # they held plans too
    for _ in range(2):
        assert policy.evaluate(Action(Verb.TOOL_CALL, "a", {"n": 60})).kind is DecisionKind.ALLOW


def test_a_plan_only_once_trying_candidates_one_by_one_went_deep() -> None:
    rules = "\n".join(
        f'[[rule]]\nid = "r{i}"\nverb = "*"\nscope = "*"\ndecision = "block"\n'
        f'conditions = [{{ field = "n", op = "eq", value = {i} }}]\n'
        for i in range(30)
    )
    policy = parse_policy('[policy]\ndefault = "allow"\n' + rules)
    for _ in range(3):
        assert policy.evaluate(Action(Verb.TOOL_CALL, "t", {"n": 2})).rule_id == "r2"
    assert plan_of(policy, Verb.TOOL_CALL, "t") is None  # an early match: the scan is cheap
    assert policy.evaluate(Action(Verb.TOOL_CALL, "t", {"n": 99})).kind is DecisionKind.ALLOW
    assert plan_of(policy, Verb.TOOL_CALL, "t") is None
    assert policy.evaluate(Action(Verb.TOOL_CALL, "t", {"n": 2})).rule_id == "r2"
    assert plan_of(policy, Verb.TOOL_CALL, "t") is not None


@pytest.mark.parametrize(
    "rule",
    [
        '{ field = "n", op = "gt", value = 1.5 }',
        '{ field = "n", op = "lte", value = 2 }',
        '{ field = "n", op = "eq", value = "2.0" }',
    ],
)
def test_decimal_and_float_values_keep_the_operator_semantics(rule: str) -> None:
    text = "\n".join(
        f'[[rule]]\nid = "r{i}"\nverb = "*"\nscope = "*"\ndecision = "block"\n'
        f"conditions = [{rule}]\n"
        for i in range(15)
    )
    for value in [Decimal("1.5000000000000000001"), Decimal("2"), 2.0, "2", math.inf]:
        action = Action(Verb.TOOL_CALL, "t", {"n": value})
        planned = evaluate(parse_policy(text), action, plan=True)
        assert planned == evaluate(parse_policy(text), action, plan=False)


def test_few_candidates_are_tried_one_by_one() -> None:
    text = '[policy]\ndefault = "allow"\n[[rule]]\nid = "a"\nverb = "*"\nscope = "*"\n'
    text += 'decision = "block"\n'
    policy = parse_policy(text)
    for _ in range(3):
        policy.evaluate(Action(Verb.TOOL_CALL, "t", {}))
    assert policy._targets[(Verb.TOOL_CALL, "t")][3] is None
    survivors = Plan(policy.rules).survivors(Action(Verb.TOOL_CALL, "t", {}), {})
    assert [r.id for r in survivors] == ["a"]
