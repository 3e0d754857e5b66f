"""Bad policies: every one is a HesoConfigError naming file, line, column, key and a fix."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from heso.errors import HesoConfigError
from heso.policy import PolicyConfigError, load_policy, parse_policy


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    message: str
    line: int | None
    column: int | None = None
    key: str | None = None
    hint: str | None = None


def _case(name: str, text: str, message: str, line: int | None, **kw: object) -> object:
    return pytest.param(
        Case(name, textwrap.dedent(text).lstrip("\n"), message, line, **kw), id=name
    )  # type: ignore[arg-type]


RULE = 'id = "r"\nverb = "tool_call"\n'

CASES = [
    # -- TOML syntax ---------------------------------------------------------------------
    _case(
        "unterminated-string",
        '[[rule]]\nid = "abc\ndecision = "allow"\n',
        "invalid TOML: Illegal character",
        2,
        column=10,
        hint="close the string",
    ),
    _case(
        "missing-equals",
        '[[rule]]\nid "abc"\n',
        "invalid TOML: Expected '='",
        2,
        column=4,
        hint="key = value",
    ),
    _case(
        "duplicate-key",
        '[[rule]]\nid = "a"\nid = "b"\n',
        "invalid TOML: Cannot overwrite a value",
        3,
        hint="already set above",
    ),
    _case(
        "unquoted-string",
        '[[rule]]\nid = "a"\ndecision = block\n',
        "invalid TOML: Invalid value",
        3,
        column=12,
        hint="need quotes",
    ),
    _case("unclosed-array", '[[rule]]\nid = "a"\napprovers = ["oncall"\n', "invalid TOML", 3),
    _case(
        "duplicate-table",
        "[policy]\n[policy]\n",
        "invalid TOML: Cannot declare",
        2,
        hint="appears twice",
    ),
    # -- top level -------------------------------------------------------------------------
    _case(
        "top-level-typo-rules",
        '[[rules]]\nid = "a"\n',
        'unknown top-level key "rules"',
        1,
        column=3,
        key="rules",
        hint='did you mean "rule"?',
    ),
    _case(
        "top-level-typo-policy",
        '[polcy]\ndefault = "block"\n',
        'unknown top-level key "polcy"',
        1,
        column=2,
        key="polcy",
        hint='did you mean "policy"?',
    ),
    _case(
        "top-level-unknown-scalar",
        "version = 2\n",
        'unknown top-level key "version"',
        1,
        column=1,
        key="version",
        hint="[[rule]], [policy]",
    ),
    _case(
        "rule-single-table",
        '[rule]\nid = "a"\n',
        "`rule` must be an array of tables",
        1,
        key="rule",
        hint="[[rule]] header, with two brackets",
    ),
    _case(
        "rule-not-table",
        'rule = ["a"]\n',
        "rule #1 must be a table, not a string",
        1,
        key="rule[0]",
    ),
    # -- rule keys -------------------------------------------------------------------------
    _case(
        "rule-unknown-key",
        '[[rule]]\nid = "a"\nverb = "llm_call"\ndecision = "allow"\nmatch = 1\n',
        'rule "a": unknown key "match"',
        5,
        column=1,
        key="rule[0].match",
        hint="keys: id",
    ),
    _case(
        "rule-key-typo",
        '[[rule]]\nid = "a"\nverb = "llm_call"\ndecison = "allow"\n',
        'rule "a": unknown key "decison"',
        4,
        key="rule[0].decison",
        hint='did you mean "decision"?',
    ),
    _case(
        "rule-missing-id",
        '[[rule]]\nverb = "llm_call"\ndecision = "allow"\n',
        "rule #1 has no id",
        1,
        column=1,
        key="rule[0]",
        hint="add a unique id",
    ),
    _case(
        "rule-id-not-string",
        '[[rule]]\nid = 5\nverb = "llm_call"\ndecision = "allow"\n',
        "rule #1: `id` must be a string, not an integer",
        2,
        column=6,
        key="rule[0].id",
        hint='id = "5"',
    ),
    _case(
        "rule-id-bad-chars",
        '[[rule]]\nid = "has space"\nverb = "llm_call"\ndecision = "allow"\n',
        'rule #1: invalid id "has space"',
        2,
        column=6,
        key="rule[0].id",
        hint="letters, digits",
    ),
    _case(
        "rule-id-reserved-prefix",
        '[[rule]]\nid = "heso:default"\nverb = "llm_call"\ndecision = "allow"\n',
        'invalid id "heso:default"',
        2,
        key="rule[0].id",
        hint="reserved for built-in decisions",
    ),
    _case(
        "duplicate-rule-id",
        '[[rule]]\nid = "a"\nverb = "llm_call"\ndecision = "allow"\n\n'
        '[[rule]]\nid = "a"\nverb = "delete"\ndecision = "block"\n',
        'duplicate rule id "a"',
        7,
        column=6,
        key="rule[1].id",
        hint="rule #1 at line 2",
    ),
    _case(
        "missing-decision",
        f"[[rule]]\n{RULE}",
        'rule "r" has no decision',
        1,
        key="rule[0]",
        hint='"allow", "block" or "require_approval"',
    ),
    _case(
        "unknown-decision-deny",
        f'[[rule]]\n{RULE}decision = "deny"\n',
        'rule "r": unknown decision "deny"',
        4,
        column=12,
        key="rule[0].decision",
        hint='did you mean "block"?',
    ),
    _case(
        "unknown-decision-typo",
        f'[[rule]]\n{RULE}decision = "alow"\n',
        'unknown decision "alow"',
        4,
        key="rule[0].decision",
        hint='did you mean "allow"?',
    ),
    _case(
        "decision-not-string",
        f"[[rule]]\n{RULE}decision = true\n",
        "`decision` must be a string, not a boolean",
        4,
        key="rule[0].decision",
    ),
    _case(
        "missing-verb",
        '[[rule]]\nid = "r"\ndecision = "allow"\n',
        'rule "r" has no verb',
        1,
        key="rule[0]",
        hint='"*" for every verb',
    ),
    _case(
        "unknown-verb",
        '[[rule]]\nid = "r"\nverb = "llm-call"\ndecision = "allow"\n',
        'unknown verb "llm-call"',
        3,
        column=8,
        key="rule[0].verb",
        hint='did you mean "llm_call"?',
    ),
    _case(
        "unknown-verb-in-list",
        '[[rule]]\nid = "r"\nverb = ["delete", "pay"]\ndecision = "block"\n',
        'unknown verb "pay"',
        3,
        column=19,
        key="rule[0].verb[1]",
        hint="payment",
    ),
    _case(
        "verb-star-with-others",
        '[[rule]]\nid = "r"\nverb = ["*", "delete"]\ndecision = "block"\n',
        '"*" already means every verb',
        3,
        key="rule[0].verb[0]",
    ),
    _case(
        "verb-empty-list",
        '[[rule]]\nid = "r"\nverb = []\ndecision = "block"\n',
        "`verb` is an empty array",
        3,
        key="rule[0].verb",
    ),
    _case(
        "verb-wrong-type",
        '[[rule]]\nid = "r"\nverb = 3\ndecision = "block"\n',
        "`verb` must be a string or an array of strings, not an integer",
        3,
        key="rule[0].verb",
    ),
    _case(
        "scope-empty-string",
        f'[[rule]]\n{RULE}scope = ""\ndecision = "block"\n',
        "`scope` has an empty pattern",
        4,
        column=9,
        key="rule[0].scope",
        hint='"*"',
    ),
    _case(
        "scope-wrong-type",
        f'[[rule]]\n{RULE}scope = 5\ndecision = "block"\n',
        "`scope` must be a glob string or an array of them, not an integer",
        4,
        key="rule[0].scope",
    ),
    # -- subject ---------------------------------------------------------------------------
    _case(
        "subject-not-table",
        f'[[rule]]\n{RULE}subject = "any"\ndecision = "block"\n',
        "`subject` must be a table, not a string",
        4,
        column=11,
        key="rule[0].subject",
        hint='kind = "agent"',
    ),
    _case(
        "subject-unknown-kind",
        f'[[rule]]\n{RULE}subject = {{ kind = "agnt", name = "x" }}\ndecision = "block"\n',
        'unknown subject kind "agnt"',
        4,
        column=20,
        key="rule[0].subject.kind",
        hint='did you mean "agent"?',
    ),
    _case(
        "subject-missing-kind",
        f'[[rule]]\n{RULE}subject = {{ name = "x" }}\ndecision = "block"\n',
        "`subject` has no kind",
        4,
        key="rule[0].subject",
    ),
    _case(
        "subject-agent-without-name",
        f'[[rule]]\n{RULE}subject = {{ kind = "agent" }}\ndecision = "block"\n',
        'a subject of kind "agent" needs a name',
        4,
        key="rule[0].subject",
    ),
    _case(
        "subject-any-with-name",
        f'[[rule]]\n{RULE}subject = {{ kind = "any", name = "x" }}\ndecision = "block"\n',
        'a subject of kind "any" takes no name',
        4,
        column=27,
        key="rule[0].subject.name",
    ),
    _case(
        "subject-unknown-key",
        f'[[rule]]\n{RULE}subject = {{ kind = "agent", nme = "x" }}\ndecision = "block"\n',
        'unknown key "nme"',
        4,
        column=29,
        key="rule[0].subject.nme",
        hint='did you mean "name"?',
    ),
    # -- conditions ------------------------------------------------------------------------
    _case(
        "conditions-not-array",
        f'[[rule]]\n{RULE}conditions = {{ field = "a", op = "exists" }}\ndecision = "block"\n',
        "`conditions` must be an array of tables, not a table",
        4,
        key="rule[0].conditions",
    ),
    _case(
        "condition-not-table",
        f'[[rule]]\n{RULE}conditions = ["amount > 5"]\ndecision = "block"\n',
        "conditions[0] must be a table, not a string",
        4,
        column=15,
        key="rule[0].conditions[0]",
    ),
    _case(
        "condition-unknown-key",
        f'[[rule]]\n{RULE}decision = "block"\nconditions = [\n'
        '  { feild = "amount", op = "gt", value = 5 },\n]\n',
        'unknown key "feild"',
        6,
        column=5,
        key="rule[0].conditions[0].feild",
        hint='did you mean "field"?',
    ),
    _case(
        "condition-missing-field",
        f'[[rule]]\n{RULE}decision = "block"\nconditions = [{{ op = "exists" }}]\n',
        "conditions[0] has no field",
        5,
        column=15,
        key="rule[0].conditions[0]",
    ),
    _case(
        "condition-field-not-string",
        f'[[rule]]\n{RULE}decision = "block"\nconditions = [{{ field = 3, op = "exists" }}]\n',
        "`field` must be a string",
        5,
        key="rule[0].conditions[0].field",
    ),
    _case(
        "condition-bad-path",
        f'[[rule]]\n{RULE}decision = "block"\nconditions = [{{ field = "a..b", op = "exists" }}]\n',
        'invalid field path "a..b"',
        5,
        column=25,
        key="rule[0].conditions[0].field",
        hint="customer.email",
    ),
    _case(
        "condition-unknown-op",
        f'[[rule]]\n{RULE}decision = "block"\nconditions = [\n'
        '  { field = "model", op = "regx", value = "^gpt" },\n]\n',
        'unknown operator "regx"',
        6,
        column=27,
        key="rule[0].conditions[0].op",
        hint='did you mean "regex"?',
    ),
    _case(
        "condition-op-symbol",
        f'[[rule]]\n{RULE}decision = "block"\n'
        'conditions = [{ field = "amount", op = ">", value = 5 }]\n',
        'unknown operator ">"',
        5,
        key="rule[0].conditions[0].op",
        hint='did you mean "gt"?',
    ),
    _case(
        "condition-missing-op",
        f'[[rule]]\n{RULE}decision = "block"\nconditions = [{{ field = "amount", value = 5 }}]\n',
        "conditions[0] has no op",
        5,
        key="rule[0].conditions[0]",
        hint="operators: eq",
    ),
    _case(
        "condition-missing-value",
        f'[[rule]]\n{RULE}decision = "block"\nconditions = [{{ field = "amount", op = "eq" }}]\n',
        "`eq` needs a value",
        5,
        key="rule[0].conditions[0]",
    ),
    _case(
        "exists-with-value",
        f'[[rule]]\n{RULE}decision = "block"\n'
        'conditions = [{ field = "amount", op = "exists", value = true }]\n',
        "`exists` takes no value",
        5,
        key="rule[0].conditions[0].value",
        hint="remove value",
    ),
    _case(
        "gt-numeric-string",
        f'[[rule]]\n{RULE}decision = "block"\n'
        'conditions = [{ field = "amount", op = "gt", value = "4200" }]\n',
        "`gt` needs a number, not the string '4200'",
        5,
        column=54,
        key="rule[0].conditions[0].value",
        hint="write value = 4200",
    ),
    _case(
        "lte-text",
        f'[[rule]]\n{RULE}decision = "block"\n'
        'conditions = [{ field = "amount", op = "lte", value = "lots" }]\n',
        "`lte` needs a number, not a string",
        5,
        key="rule[0].conditions[0].value",
    ),
    _case(
        "gte-boolean",
        f'[[rule]]\n{RULE}decision = "block"\n'
        'conditions = [{ field = "amount", op = "gte", value = true }]\n',
        "`gte` needs a number, not a boolean",
        5,
        key="rule[0].conditions[0].value",
    ),
    _case(
        "lt-nan",
        f'[[rule]]\n{RULE}decision = "block"\n'
        'conditions = [{ field = "amount", op = "lt", value = nan }]\n',
        "`lt` needs a finite number",
        5,
        key="rule[0].conditions[0].value",
    ),
    _case(
        "in-scalar",
        f'[[rule]]\n{RULE}decision = "block"\n'
        'conditions = [{ field = "env", op = "in", value = "prod" }]\n',
        "`in` needs an array of values, not a string",
        5,
        key="rule[0].conditions[0].value",
        hint='value = ["prod"]',
    ),
    _case(
        "in-empty",
        f'[[rule]]\n{RULE}decision = "block"\n'
        'conditions = [{ field = "env", op = "not_in", value = [] }]\n',
        "`not_in` needs at least one value",
        5,
        key="rule[0].conditions[0].value",
    ),
    _case(
        "eq-array",
        f'[[rule]]\n{RULE}decision = "block"\n'
        'conditions = [{ field = "env", op = "eq", value = ["a", "b"] }]\n',
        "`eq` compares with one value, not an array",
        5,
        key="rule[0].conditions[0].value",
        hint='op = "in"',
    ),
    _case(
        "eq-datetime",
        f'[[rule]]\n{RULE}decision = "block"\n'
        'conditions = [{ field = "day", op = "eq", value = 2024-01-01 }]\n',
        "`eq` needs a string, number or boolean value, not a date/time",
        5,
        key="rule[0].conditions[0].value",
        hint="quote dates",
    ),
    _case(
        "invalid-regex",
        f'[[rule]]\n{RULE}decision = "block"\n\n[[rule.conditions]]\n'
        'field = "model"\nop = "regex"\nvalue = "(unclosed"\n',
        "invalid regular expression '(unclosed': missing ), unterminated subpattern",
        9,
        column=9,
        key="rule[0].conditions[0].value",
        hint="Python `re` syntax",
    ),
    _case(
        "starts-with-number",
        f'[[rule]]\n{RULE}decision = "block"\n'
        'conditions = [{ field = "x", op = "starts_with", value = 5 }]\n',
        "`starts_with` needs a string or an array of strings, not an integer",
        5,
        key="rule[0].conditions[0].value",
    ),
    _case(
        "regex-not-string",
        f'[[rule]]\n{RULE}decision = "block"\n'
        'conditions = [{ field = "x", op = "regex", value = 5 }]\n',
        "`regex` needs a string value, not an integer",
        5,
        key="rule[0].conditions[0].value",
    ),
    _case(
        "condition-display-empty",
        f'[[rule]]\n{RULE}decision = "block"\n'
        'conditions = [{ field = "x", op = "exists", display = "" }]\n',
        "`display` must be a non-empty string",
        5,
        key="rule[0].conditions[0].display",
    ),
    _case(
        "any-empty",
        f'[[rule]]\n{RULE}decision = "block"\nany = []\n',
        "`any` is empty, so the rule could never match",
        5,
        key="rule[0].any",
    ),
    _case(
        "any-bad-op",
        f'[[rule]]\n{RULE}decision = "block"\nany = [\n  {{ field = "a", op = "exists" }},\n'
        '  { field = "b", op = "equal", value = 1 },\n]\n',
        'rule "r" any[1]: unknown operator "equal"',
        7,
        key="rule[0].any[1].op",
        hint='did you mean "eq"?',
    ),
    # -- approvals -------------------------------------------------------------------------
    _case(
        "approval-without-approvers",
        f'[[rule]]\n{RULE}decision = "require_approval"\n',
        'rule "r" decides require_approval but names no approvers',
        1,
        key="rule[0]",
        hint='approvers = ["oncall"]',
    ),
    _case(
        "approvers-string",
        f'[[rule]]\n{RULE}decision = "require_approval"\napprovers = "oncall"\n',
        "`approvers` must be an array of approver groups, not a string",
        5,
        column=13,
        key="rule[0].approvers",
        hint='approvers = ["oncall"]',
    ),
    _case(
        "approvers-empty",
        f'[[rule]]\n{RULE}decision = "require_approval"\napprovers = []\n',
        "`approvers` is empty",
        5,
        key="rule[0].approvers",
    ),
    _case(
        "approvers-blank-entry",
        f'[[rule]]\n{RULE}decision = "require_approval"\napprovers = ["oncall", " "]\n',
        "`approvers` entries must be non-empty strings",
        5,
        column=24,
        key="rule[0].approvers[1]",
    ),
    _case(
        "negative-sla",
        f'[[rule]]\n{RULE}decision = "require_approval"\napprovers = ["oncall"]\n'
        "sla_minutes = -5\n",
        "`sla_minutes` is negative (-5)",
        6,
        column=15,
        key="rule[0].sla_minutes",
        hint="positive number of minutes",
    ),
    _case(
        "zero-sla",
        f'[[rule]]\n{RULE}decision = "require_approval"\napprovers = ["oncall"]\nsla_minutes = 0\n',
        "`sla_minutes` is 0",
        6,
        key="rule[0].sla_minutes",
    ),
    _case(
        "float-sla",
        f'[[rule]]\n{RULE}decision = "require_approval"\napprovers = ["oncall"]\n'
        "sla_minutes = 1.5\n",
        "`sla_minutes` must be a whole number of minutes, not a float",
        6,
        key="rule[0].sla_minutes",
    ),
    # -- other rule values -----------------------------------------------------------------
    _case(
        "order-string",
        f'[[rule]]\n{RULE}decision = "block"\norder = "10"\n',
        "`order` must be an integer, not a string",
        5,
        column=9,
        key="rule[0].order",
        hint="write order = 10",
    ),
    _case(
        "enabled-string",
        f'[[rule]]\n{RULE}decision = "block"\nenabled = "yes"\n',
        "`enabled` must be true or false, not a string",
        5,
        key="rule[0].enabled",
    ),
    _case(
        "display-wrong-type",
        f'[[rule]]\n{RULE}decision = "block"\ndisplay = 3\n',
        "`display` must be a non-empty string",
        5,
        key="rule[0].display",
    ),
    # -- [policy] --------------------------------------------------------------------------
    _case(
        "policy-not-table",
        "policy = 1\n",
        "`policy` must be a table, not an integer",
        1,
        key="policy",
    ),
    _case(
        "policy-unknown-key",
        '[policy]\ndefualt = "block"\n',
        '[policy]: unknown key "defualt"',
        2,
        column=1,
        key="policy.defualt",
        hint='did you mean "default"?',
    ),
    _case(
        "policy-default-unknown",
        '[policy]\ndefault = "permit"\n',
        '[policy]: unknown decision "permit"',
        2,
        column=11,
        key="policy.default",
        hint='did you mean "allow"?',
    ),
    _case(
        "policy-default-approvers-empty",
        "[policy]\ndefault_approvers = []\n",
        "`default_approvers` is empty",
        2,
        key="policy.default_approvers",
    ),
    _case(
        "policy-default-sla-negative",
        "[policy]\ndefault_sla_minutes = -1\n",
        "`default_sla_minutes` is negative",
        2,
        key="policy.default_sla_minutes",
    ),
    _case(
        "floors-unknown-lane",
        '[policy.floors]\ndelet = "block"\n',
        'unknown lane "delet" in [policy.floors]',
        2,
        column=1,
        key="policy.floors.delet",
        hint='did you mean "delete"?',
    ),
    _case(
        "floors-loosen-delete",
        '[policy.floors]\ndelete = "allow"\n',
        "the delete floor is pinned at require_approval; allow would loosen it",
        2,
        column=10,
        key="policy.floors.delete",
        hint="never loosen",
    ),
    _case(
        "floors-loosen-delete-inline",
        '[policy]\nfloors = { delete = "allow", payment = "allow" }\n',
        "the delete floor is pinned at require_approval",
        2,
        key="policy.floors.delete",
    ),
    _case(
        "floors-bad-decision",
        '[policy.floors]\nexport = "approve"\n',
        '[policy.floors]: unknown decision "approve"',
        2,
        key="policy.floors.export",
        hint='did you mean "require_approval"?',
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_bad_policy_is_a_located_config_error(case: Case) -> None:
    with pytest.raises(HesoConfigError) as info:
        parse_policy(case.text, path="conf/heso.toml")
    err = info.value
    assert case.message in err.message, err.message
    assert err.path == "conf/heso.toml"
    assert err.line == case.line, str(err)
    if case.column is not None:
        assert err.column == case.column, str(err)
    assert err.key == case.key, str(err)
    if case.hint is not None:
        assert err.hint is not None and case.hint in err.hint, err.hint
    rendered = str(err)
    assert rendered.startswith(f"conf/heso.toml:{case.line}")
    assert case.message in rendered


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


def test_every_problem_is_collected_in_file_order() -> None:
    text = textwrap.dedent(
        """
        [[rule]]
        id = "a"
        verb = "teleport"
        decision = "block"

        [[rule]]
        id = "b"
        verb = "delete"
        decision = "maybe"
        sla_minutes = -1
        """
    )
    with pytest.raises(PolicyConfigError) as info:
        parse_policy(text)
    err = info.value
    assert [p.key for p in err.problems] == [
        "rule[0].verb",
        "rule[1].decision",
        "rule[1].sla_minutes",
    ]
    assert err.key == "rule[0].verb"
    assert "+2 more problems" in err.diagnostics()


def test_a_single_problem_says_nothing_about_more() -> None:
    with pytest.raises(PolicyConfigError) as info:
        parse_policy('[[rule]]\nid = "a"\nverb = "x"\ndecision = "block"\n')
    assert "more problem" not in info.value.diagnostics()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(HesoConfigError) as info:
        load_policy(tmp_path / "heso.toml")
    assert info.value.path == str(tmp_path / "heso.toml")
    assert "file not found" in info.value.message
    assert "heso init" in (info.value.hint or "")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(HesoConfigError, match="is a directory"):
        load_policy(tmp_path)


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "heso.toml"
    path.write_bytes(b'[policy]\ndefault = "allow"\n# caf\xe9\n')
    with pytest.raises(HesoConfigError) as info:
        load_policy(path)
    assert (info.value.line, info.value.column) == (3, 6)
    assert "UTF-8" in info.value.message


def test_load_error_names_the_real_file(tmp_path: Path) -> None:
    path = tmp_path / "heso.toml"
    path.write_text('[[rule]]\nid = "a"\nverb = "llm_call"\ndecision = "alow"\n', encoding="utf-8")
    with pytest.raises(HesoConfigError) as info:
        load_policy(path)
    assert str(info.value).startswith(f"{path}:4:12: ")


def test_a_failed_load_never_yields_a_policy() -> None:
    # one bad rule among good ones: nothing is loaded, so nothing can fall back to allow
    text = (
        '[policy]\ndefault = "allow"\n\n'
        '[[rule]]\nid = "ok"\nverb = "llm_call"\ndecision = "allow"\n\n'
        '[[rule]]\nid = "bad"\nverb = "delete"\ndecision = "block"\n'
        'conditions = [{ field = "x", op = "regex", value = "[" }]\n'
    )
    with pytest.raises(HesoConfigError):
        parse_policy(text)


def test_other_modules_tables_are_accepted_unvalidated() -> None:
    text = (
        "[heso]\nanything = { goes = [1, 2] }\n\n"
        '[approvers.oncall]\nmembers = 5\nwhatever = "x"\n\n'
        '[[rule]]\nid = "a"\nverb = "llm_call"\ndecision = "allow"\n'
    )
    assert [r.id for r in parse_policy(text).rules] == ["a"]
