"""Lint findings of `heso policy check`."""

from __future__ import annotations

import textwrap

from heso.policy import parse_policy
from heso.policy.lint import Finding, lint


def findings(text: str) -> list[Finding]:
    return lint(parse_policy(textwrap.dedent(text)))


def codes(text: str) -> list[tuple[str, str, str | None]]:
    return [(f.code, f.severity, f.rule_id) for f in findings(text)]


HEAD = '[policy]\ndefault = "block"\n'


def test_a_clean_policy_has_no_findings() -> None:
    assert (
        codes(
            HEAD
            + """
        [[rule]]
        id = "a"
        verb = "llm_call"
        decision = "allow"
        """
        )
        == []
    )


def test_shadowed_by_an_earlier_catch_all() -> None:
    result = findings(
        HEAD
        + """
        [[rule]]
        id = "everything"
        order = 1
        verb = "*"
        decision = "allow"

        [[rule]]
        id = "never"
        order = 2
        verb = "tool_call"
        scope = "send_*"
        conditions = [{ field = "to", op = "exists" }]
        decision = "block"
        """
    )
    shadow = [f for f in result if f.code == "shadowed-rule"]
    assert len(shadow) == 1
    assert shadow[0].rule_id == "never"
    assert shadow[0].severity == "warning"
    assert shadow[0].line == 10
    assert '"everything" (line 4)' in shadow[0].message


def test_shadowing_follows_order_not_file_position() -> None:
    text = (
        HEAD
        + """
        [[rule]]
        id = "specific"
        order = 1
        verb = "tool_call"
        scope = "x"
        decision = "block"

        [[rule]]
        id = "general"
        order = 0
        verb = "tool_call"
        decision = "allow"
        """
    )
    assert ("shadowed-rule", "warning", "specific") in codes(text)


def test_prefix_globs_and_condition_subsets_shadow() -> None:
    text = (
        HEAD
        + """
        [[rule]]
        id = "wide"
        verb = ["tool_call", "delete"]
        scope = "db_*"
        conditions = [{ field = "env", op = "eq", value = "prod" }]
        decision = "block"

        [[rule]]
        id = "narrow"
        verb = "tool_call"
        scope = ["db_drop*", "db_x"]
        conditions = [
          { field = "env", op = "eq", value = "prod" },
          { field = "n", op = "gt", value = 1 },
        ]
        decision = "block"
        """
    )
    assert ("shadowed-rule", "warning", "narrow") in codes(text)


def test_not_shadowed_when_the_earlier_rule_is_narrower() -> None:
    base = (
        HEAD
        + """
        [[rule]]
        id = "first"
        verb = "tool_call"
        {extra}
        decision = "block"

        [[rule]]
        id = "second"
        verb = "tool_call"
        decision = "block"
        """
    )
    for extra in [
        'scope = "a*"',
        'subject = { kind = "agent", name = "bot" }',
        'conditions = [{ field = "x", op = "exists" }]',
        'any = [{ field = "x", op = "exists" }]',
    ]:
        assert "shadowed-rule" not in [c for c, _, _ in codes(base.format(extra=extra))], extra


def test_an_allow_with_conditions_does_not_shadow_a_stricter_rule() -> None:
    # on indeterminate input the block rule still applies, so it is reachable
    text = (
        HEAD
        + """
        [[rule]]
        id = "small-ok"
        verb = "tool_call"
        conditions = [{ field = "n", op = "lt", value = 5 }]
        decision = "allow"

        [[rule]]
        id = "small-block"
        verb = "tool_call"
        conditions = [{ field = "n", op = "lt", value = 5 }]
        decision = "block"
        """
    )
    assert "shadowed-rule" not in [c for c, _, _ in codes(text)]


def test_disabled_rule() -> None:
    result = findings(
        HEAD + '\n[[rule]]\nid = "off"\nverb = "*"\nenabled = false\ndecision = "block"\n'
    )
    (finding,) = result
    assert (finding.code, finding.severity, finding.rule_id) == ("disabled-rule", "warning", "off")
    assert (finding.line, finding.column) == (7, 1)  # at `enabled`


def test_unreachable_default() -> None:
    text = HEAD + '\n[[rule]]\nid = "all"\nverb = "*"\ndecision = "allow"\n'
    assert ("unreachable-default", "warning", None) in codes(text)
    per_verb = HEAD + "".join(
        f'\n[[rule]]\nid = "{v}"\nverb = "{v}"\ndecision = "block"\n'
        for v in ["llm_call", "tool_call", "http_request", "delete", "payment", "data_export"]
    )
    assert ("unreachable-default", "warning", None) in codes(per_verb)
    five = per_verb.rsplit("\n[[rule]]", 1)[0]
    assert "unreachable-default" not in [c for c, _, _ in codes(five)]


def test_unreachable_implicit_default_is_only_a_note() -> None:
    text = '[[rule]]\nid = "all"\nverb = "*"\ndecision = "allow"\n'
    assert ("unreachable-default", "info", None) in codes(text)


def test_implicit_default_and_no_rules() -> None:
    assert codes("") == [
        ("no-rules", "warning", None),
        ("implicit-default", "info", None),
    ]


def test_approvers_on_a_block_rule() -> None:
    text = HEAD + '\n[[rule]]\nid = "b"\nverb = "*"\ndecision = "block"\nsla_minutes = 5\n'
    assert ("approvers-unused", "warning", "b") in codes(text)


def test_allow_on_a_floored_verb_is_noted() -> None:
    text = HEAD + '\n[[rule]]\nid = "d"\nverb = ["delete", "payment"]\ndecision = "allow"\n'
    assert "floor-overrides-rule" not in [c for c, _, _ in codes(text)]  # payment: no floor
    text += '\n[policy.floors]\npayment = "require_approval"\n'
    assert ("floor-overrides-rule", "info", "d") in codes(text)
    mixed = HEAD + '\n[[rule]]\nid = "d"\nverb = ["delete", "tool_call"]\ndecision = "allow"\n'
    assert "floor-overrides-rule" not in [c for c, _, _ in codes(mixed)]


def test_unknown_approver_group_when_groups_are_declared() -> None:
    text = (
        HEAD
        + "\n[approvers.oncall]\nmembers = []\n"
        + '\n[[rule]]\nid = "a"\nverb = "tool_call"\ndecision = "require_approval"\n'
        + 'approvers = ["oncall", "secuirty"]\n'
    )
    result = [f for f in findings(text) if f.code == "unknown-approver-group"]
    assert len(result) == 1
    assert '"secuirty"' in result[0].message


def test_a_group_without_an_approvers_table_is_one_finding_per_group() -> None:
    undeclared = (
        '[policy]\ndefault = "block"\ndefault_approvers = ["anyone"]\n'
        '\n[[rule]]\nid = "a"\nverb = "tool_call"\ndecision = "require_approval"\n'
        'approvers = ["anyone"]\n'
        '\n[[rule]]\nid = "b"\nverb = "payment"\ndecision = "require_approval"\n'
        'approvers = ["anyone"]\n'
    )
    (finding,) = [f for f in findings(undeclared) if f.code == "unknown-approver-group"]
    # No group is defined at all: approvals are not set up yet (a fresh project), a note.
    assert (finding.severity, finding.rule_id, finding.line) == ("info", "a", 9)
    assert finding.message == (
        'approver group "anyone" is named by rule "a", rule "b", [policy] default_approvers, '
        "but heso.toml has no [approvers.anyone]: nobody can approve what waits for it "
        "(no approver group is set up yet)"
    )
    assert finding.hint is not None and "[approvers.anyone]" in finding.hint
    only_default = '[policy]\ndefault = "allow"\ndefault_approvers = ["nobody"]\n'
    (finding,) = [f for f in findings(only_default) if f.code == "unknown-approver-group"]
    assert (finding.rule_id, finding.line) == (None, 3)
    # The built-in default_approvers, not written in the file, is not a finding.
    assert "unknown-approver-group" not in [c for c, _, _ in codes(HEAD)]


def test_findings_are_in_file_order_and_render() -> None:
    result = findings(
        HEAD
        + '\n[[rule]]\nid = "z"\nverb = "*"\nenabled = false\ndecision = "block"\n'
        + '\n[[rule]]\nid = "a"\norder = -1\nverb = "*"\nenabled = false\ndecision = "block"\n'
    )
    assert [f.rule_id for f in result] == ["z", "a"]
    assert (
        result[0]
        .render("heso.toml")
        .startswith('heso.toml:7:1: warning[disabled-rule] rule "z" is disabled')
    )


def test_text_tests_on_addresses_and_url_schemes_are_flagged() -> None:
    """The patterns the starter used to ship, which a recipient list or HTTP:// got past."""
    result = findings(
        HEAD
        + """
        [[rule]]
        id = "plain-http"
        verb = "http_request"
        conditions = [{ field = "url", op = "starts_with", value = "http://" }]
        decision = "block"

        [[rule]]
        id = "internal"
        verb = "tool_call"
        any = [
          { field = "to", op = "exists" },
          { field = "to", op = "ends_with", value = ["@example.com"] },
        ]
        decision = "allow"

        [[rule]]
        id = "parsed"
        verb = "tool_call"
        conditions = [
          { field = "to", op = "email_domain_in", value = "example.com" },
          { field = "url", op = "url_scheme_not_in", value = "https" },
          { field = "path", op = "starts_with", value = "/tmp/" },
        ]
        decision = "allow"
        """
    )
    weak = [(f.code, f.rule_id, f.line) for f in result if f.severity == "warning"]
    assert weak == [("url-text-match", "plain-http", 7), ("address-text-match", "internal", 15)]
    address = next(f for f in result if f.code == "address-text-match")
    assert "email_domain_in" in (address.hint or "")
    assert "eve@evil.example, a@example.com" in address.message


def test_floors_that_do_nothing_and_payments_left_to_an_allow_default_are_noted() -> None:
    text = (
        '[policy]\ndefault = "allow"\n\n[policy.floors]\nexport = "allow"\n'
        'delete = "require_approval"\n'
    )
    result = [(f.code, f.severity, f.line) for f in findings(text) if f.code != "no-rules"]
    assert result == [
        ("payments-allowed-by-default", "info", 2),
        ("ineffective-floor", "info", 5),
        ("ineffective-floor", "info", 6),
    ]
    floored = '[policy]\ndefault = "allow"\n\n[policy.floors]\npayment = "require_approval"\n'
    assert "payments-allowed-by-default" not in [c for c, _, _ in codes(floored)]
    caught = (
        '[policy]\ndefault = "allow"\n\n[[rule]]\nid = "pay"\nverb = "payment"\n'
        'decision = "require_approval"\napprovers = ["finance"]\n'
    )
    assert "payments-allowed-by-default" not in [c for c, _, _ in codes(caught)]
    assert "payments-allowed-by-default" not in [c for c, _, _ in codes(HEAD)]
