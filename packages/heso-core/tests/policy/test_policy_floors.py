"""Lanes, floors, structural classification and the action catalog."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heso.action import Action, Verb
from heso.policy import CATALOG, PINNED_FLOORS, DecisionKind, Lane, lookup_catalog, parse_policy
from heso.policy.lanes import VERB_LANES, name_words, structural_lane

ALLOW, BLOCK, APPROVAL = DecisionKind.ALLOW, DecisionKind.BLOCK, DecisionKind.REQUIRE_APPROVAL

OPEN = parse_policy('[policy]\ndefault = "allow"\n')


def act(verb: Verb, tool: str = "t", fields: dict[str, Any] | None = None, **kw: Any) -> Action:
    return Action(verb, tool, fields or {}, **kw)


# -- floors -----------------------------------------------------------------------------------


def test_unmatched_delete_routes_to_the_default_approver_group() -> None:
    d = OPEN.evaluate(act(Verb.DELETE, "s3.bucket"))
    assert (d.kind, d.rule_id, d.approvers, d.lane) == (
        APPROVAL,
        "heso:floor:delete",
        ("oncall",),
        "delete",
    )
    assert d.rule_decision is ALLOW and d.floor_applied
    assert d.decision_path == "lane:delete(verb) > default=allow > floor:delete=require_approval"
    assert d.rule_display == "delete lane floor: requires human approval (default allow)"


def test_no_rule_can_allow_a_delete_and_its_approvers_are_used() -> None:
    p = parse_policy(
        textwrap.dedent(
            """
            [policy]
            default_approvers = ["platform"]
            default_sla_minutes = 120

            [[rule]]
            id = "cleanup-ok"
            verb = "delete"
            scope = "tmp-*"
            decision = "allow"
            approvers = ["storage-team"]
            sla_minutes = 10
            conditions = [{ field = "age_days", op = "gt", value = 30 }]
            """
        )
    )
    d = p.evaluate(act(Verb.DELETE, "tmp-1", {"age_days": 90}))
    assert (d.kind, d.rule_id, d.approvers, d.sla_minutes) == (
        APPROVAL,
        "heso:floor:delete",
        ("storage-team",),
        10,
    )
    assert d.decision_path == (
        "lane:delete(verb) > rule:cleanup-ok=allow > floor:delete=require_approval"
    )
    assert d.matched_conditions[0]["field"] == "age_days"
    assert "rule cleanup-ok decided allow" in d.rule_display


def test_floor_without_rule_approvers_uses_policy_defaults() -> None:
    p = parse_policy(
        '[policy]\ndefault_approvers = ["platform"]\ndefault_sla_minutes = 120\n\n'
        '[[rule]]\nid = "ok"\nverb = "delete"\ndecision = "allow"\n'
    )
    d = p.evaluate(act(Verb.DELETE))
    assert (d.approvers, d.sla_minutes) == (("platform",), 120)


def test_a_blocked_delete_stays_blocked() -> None:
    p = parse_policy('[[rule]]\nid = "no"\nverb = "delete"\ndecision = "block"\n')
    d = p.evaluate(act(Verb.DELETE))
    assert (d.kind, d.rule_id, d.floor_applied) == (BLOCK, "no", False)
    assert d.decision_path == "lane:delete(verb) > rule:no=block"


def test_an_approval_rule_on_a_floored_lane_keeps_its_own_id() -> None:
    p = parse_policy(
        '[[rule]]\nid = "ask"\nverb = "delete"\n'
        'decision = "require_approval"\napprovers = ["dba"]\n'
    )
    d = p.evaluate(act(Verb.DELETE))
    assert (d.kind, d.rule_id, d.approvers) == (APPROVAL, "ask", ("dba",))
    assert "floor" not in d.decision_path


def test_unmatched_delete_under_a_block_default_is_blocked() -> None:
    d = parse_policy("").evaluate(act(Verb.DELETE))
    assert (d.kind, d.rule_id) == (BLOCK, "heso:default")


def test_only_the_delete_floor_is_pinned() -> None:
    assert PINNED_FLOORS == {Lane.DELETE: APPROVAL}
    d = OPEN.evaluate(act(Verb.PAYMENT, "stripe.charge", {"amount": 1}))
    assert (d.kind, d.rule_id, d.lane) == (ALLOW, "heso:default", "payment")


PAY_CAP = textwrap.dedent(
    """
    [policy]
    default = "require_approval"

    [[rule]]
    id = "pay-cap"
    verb = "payment"
    conditions = [{ field = "amount_usd", op = "lte", value = 5000 }]
    decision = "allow"
    display = "Require approval to pay over $5,000"
    """
)


def test_a_rule_can_allow_a_payment_as_in_the_reference_receipt() -> None:
    """The reference's receipt: a $4,200 transfer allowed at L0 by rule pay-cap."""
    action = act(
        Verb.PAYMENT,
        "stripe.transfers.create",
        {"amount_usd": "4200", "payee": "Globex LLC"},
        workflow="vendor-payouts",
        account="acct_19",
    )
    d = parse_policy(PAY_CAP).evaluate(action)
    assert (d.kind, d.rule_id, d.floor_applied) == (ALLOW, "pay-cap", False)
    assert d.rule_display == "Require approval to pay over $5,000"
    assert d.matched_conditions[0]["op"] == "lte"
    assert d.decision_path == "lane:payment(verb) > rule:pay-cap=allow"
    over = parse_policy(PAY_CAP).evaluate(act(Verb.PAYMENT, "stripe", {"amount_usd": 9000}))
    assert (over.kind, over.rule_id) == (APPROVAL, "heso:default")


def test_the_operator_can_ask_for_a_payment_floor() -> None:
    p = parse_policy(
        PAY_CAP.replace("[[rule]]", '[policy.floors]\npayment = "require_approval"\n\n[[rule]]')
    )
    d = p.evaluate(act(Verb.PAYMENT, "stripe", {"amount_usd": "4200"}))
    assert (d.kind, d.rule_id, d.rule_decision) == (APPROVAL, "heso:floor:payment", ALLOW)
    assert d.decision_path == (
        "lane:payment(verb) > rule:pay-cap=allow > floor:payment=require_approval"
    )
    blocked = parse_policy('[policy]\ndefault = "allow"\n[policy.floors]\npayment = "block"\n')
    assert blocked.evaluate(act(Verb.PAYMENT, "stripe")).kind is BLOCK
    # an operator's floor may be set to allow again: only delete is pinned
    open_again = parse_policy('[policy]\ndefault = "allow"\n[policy.floors]\npayment = "allow"\n')
    assert open_again.evaluate(act(Verb.PAYMENT, "stripe")).kind is ALLOW


@pytest.mark.parametrize(
    ("verb", "lane"),
    [
        (Verb.LLM_CALL, "read"),
        (Verb.TOOL_CALL, "write"),
        (Verb.HTTP_REQUEST, "write"),
        (Verb.DATA_EXPORT, "export"),
    ],
)
def test_other_lanes_have_no_floor_by_default(verb: Verb, lane: str) -> None:
    d = OPEN.evaluate(act(verb, "plain"))
    assert (d.kind, d.lane) == (ALLOW, lane)


def test_a_policy_can_tighten_floors() -> None:
    p = parse_policy(
        textwrap.dedent(
            """
            [policy]
            default = "allow"

            [policy.floors]
            export = "require_approval"
            delete = "block"
            read = "require_approval"

            [[rule]]
            id = "ask-export"
            verb = "data_export"
            scope = "warehouse"
            decision = "require_approval"
            approvers = ["privacy"]
            """
        )
    )
    d = p.evaluate(act(Verb.DATA_EXPORT, "csv"))
    assert (d.kind, d.rule_id) == (APPROVAL, "heso:floor:export")
    d = p.evaluate(act(Verb.DATA_EXPORT, "warehouse"))
    assert (d.kind, d.rule_id, d.approvers) == (APPROVAL, "ask-export", ("privacy",))
    d = p.evaluate(act(Verb.DELETE))
    assert (d.kind, d.rule_id) == (BLOCK, "heso:floor:delete")
    assert d.approvers == ()
    assert p.evaluate(act(Verb.LLM_CALL, "gpt")).kind is APPROVAL
    assert p.evaluate(act(Verb.TOOL_CALL, "x")).kind is ALLOW


def test_a_block_floor_overrides_an_approval_rule() -> None:
    p = parse_policy(
        '[policy.floors]\nexport = "block"\n\n'
        '[[rule]]\nid = "ask"\nverb = "data_export"\n'
        'decision = "require_approval"\napprovers = ["x"]\n'
    )
    d = p.evaluate(act(Verb.DATA_EXPORT))
    assert (d.kind, d.rule_id) == (BLOCK, "heso:floor:export")
    assert d.decision_path.endswith("rule:ask=require_approval > floor:export=block")


rule_st = st.fixed_dictionaries(
    {
        "verb": st.sampled_from(['"delete"', '"*"', '["delete", "tool_call"]', '"payment"']),
        "scope": st.sampled_from(['"*"', '"tmp-*"', '"x"']),
        "cond": st.sampled_from(["", 'conditions = [{ field = "n", op = "gt", value = 1 }]']),
    }
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(rule_st, min_size=0, max_size=5),
    st.sampled_from(["allow", "require_approval", "block"]),
    st.sampled_from([Verb.DELETE, Verb.TOOL_CALL, Verb.HTTP_REQUEST]),
    st.sampled_from(["x", "tmp-1", "other", "delete_x"]),
    st.sampled_from([{}, {"n": 5}, {"n": "?"}, {"method": "DELETE"}]),
)
def test_no_policy_ever_allows_a_delete(
    rules: list[dict[str, str]], default: str, verb: Verb, tool: str, fields: dict[str, Any]
) -> None:
    text = f'[policy]\ndefault = "{default}"\n'
    for i, r in enumerate(rules):
        text += f'\n[[rule]]\nid = "r{i}"\nverb = {r["verb"]}\nscope = {r["scope"]}\n'
        text += f'decision = "allow"\n{r["cond"]}\n'
    d = parse_policy(text).evaluate(act(verb, tool, fields))
    if d.lane == "delete":
        assert d.kind is not ALLOW
    else:
        assert verb is not Verb.DELETE


# -- structural classification ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("verb", "tool", "fields", "lane", "source"),
    [
        (Verb.TOOL_CALL, "delete_user", {}, "delete", "name"),
        (Verb.TOOL_CALL, "drop_table", {}, "delete", "name"),
        (Verb.TOOL_CALL, "remove_member", {}, "delete", "name"),
        (Verb.TOOL_CALL, "deleteUser", {}, "delete", "name"),
        (Verb.TOOL_CALL, "DropTable", {}, "delete", "name"),
        (Verb.TOOL_CALL, "users.delete", {}, "delete", "name"),
        (Verb.TOOL_CALL, "mcp__fs__delete_file", {}, "delete", "name"),
        (Verb.TOOL_CALL, "bulk-purge", {}, "delete", "name"),
        (Verb.TOOL_CALL, "rm", {}, "delete", "name"),
        (Verb.TOOL_CALL, "list_deleted_items", {}, "write", "verb"),
        (Verb.TOOL_CALL, "undelete_file", {}, "write", "verb"),
        (Verb.TOOL_CALL, "charge_card", {}, "payment", "name"),
        (Verb.TOOL_CALL, "createRefund", {}, "payment", "name"),
        (Verb.TOOL_CALL, "export_contacts", {}, "export", "name"),
        (Verb.TOOL_CALL, "search_docs", {}, "write", "verb"),
        (Verb.DATA_EXPORT, "delete_after_export", {}, "delete", "name"),
        (Verb.DELETE, "export_then_delete", {}, "delete", "verb"),
        (Verb.LLM_CALL, "remove-bg-model", {}, "read", "verb"),  # a model name, not a tool
        (Verb.HTTP_REQUEST, "api.example.com", {"method": "DELETE"}, "delete", "method"),
        (Verb.HTTP_REQUEST, "api.example.com", {"method": " delete "}, "delete", "method"),
        (Verb.HTTP_REQUEST, "api.example.com", {"method": "GET"}, "write", "verb"),
        (Verb.HTTP_REQUEST, "api.example.com/v1/refund", {"method": "POST"}, "payment", "name"),
        (Verb.TOOL_CALL, "x", {"method": "DELETE"}, "write", "verb"),  # only HTTP has a method
    ],
)
def test_structural_classification(
    verb: Verb, tool: str, fields: dict[str, Any], lane: str, source: str
) -> None:
    action = act(verb, tool, fields)
    assert OPEN.classify(action) == (lane, source)
    d = OPEN.evaluate(action)
    assert d.lane == lane
    assert d.decision_path.startswith(f"lane:{lane}({source}) > ")


def test_a_structural_delete_is_floored_even_when_a_rule_allows_it() -> None:
    p = parse_policy('[[rule]]\nid = "tools-ok"\nverb = "tool_call"\ndecision = "allow"\n')
    d = p.evaluate(act(Verb.TOOL_CALL, "delete_repo"))
    assert (d.kind, d.rule_id) == (APPROVAL, "heso:floor:delete")
    assert d.decision_path == (
        "lane:delete(name) > rule:tools-ok=allow > floor:delete=require_approval"
    )


def test_name_words() -> None:
    assert name_words("mcp__fs.deleteFile") == ("mcp", "fs", "delete", "file")
    assert name_words("HTTPDelete") == ("http", "delete")


def test_structural_lane_only_raises() -> None:
    for verb, lane in VERB_LANES.items():
        assert structural_lane(verb, "get_status") == (lane, "verb")


# -- the catalog ------------------------------------------------------------------------------


def test_catalog_has_the_common_agent_actions() -> None:
    assert len(CATALOG) >= 36
    for full in [
        "payment.authorize_payment",
        "data.export_records",
        "messaging.send_email",
        "infra.delete_resource",
    ]:
        entry = lookup_catalog(full)
        assert entry.id == full
    entry = lookup_catalog("payment.authorize_payment")
    assert (entry.domain, entry.action_id, entry.verb, entry.lane) == (
        "payment",
        "authorize_payment",
        Verb.PAYMENT,
        Lane.PAYMENT,
    )
    assert lookup_catalog("infra.delete_resource").lane is Lane.DELETE


def test_catalog_ids_are_well_formed() -> None:
    for full, entry in CATALOG.items():
        assert full == f"{entry.domain}.{entry.action_id}"
        assert entry.action_id.isidentifier() and entry.domain.isidentifier()
        assert isinstance(entry.verb, Verb) and isinstance(entry.lane, Lane)


def test_unknown_catalog_id_names_the_nearest_ids() -> None:
    with pytest.raises(ValueError) as info:
        lookup_catalog("payment.authorise_payment")
    message = str(info.value)
    assert "'payment.authorise_payment'" in message
    assert "payment.authorize_payment" in message


def test_unknown_catalog_action_in_a_known_domain() -> None:
    with pytest.raises(ValueError, match=r"nearest known: infra\."):
        lookup_catalog("infra.zzzzzzzzzzzzzzzzzzzz")


def test_unknown_catalog_domain_lists_the_domains() -> None:
    with pytest.raises(ValueError, match=r"domain one of .*payment"):
        lookup_catalog("qqqq")


@pytest.mark.parametrize(
    ("verb", "tool", "declared", "lane", "source"),
    [
        (Verb.TOOL_CALL, "stripe", "payment.capture_payment", "payment", "catalog:*"),
        (Verb.TOOL_CALL, "mailer", "messaging.send_email", "export", "catalog:*"),
        (Verb.TOOL_CALL, "db", "data.read_records", "write", "verb"),  # cannot lower tool_call
        (Verb.DELETE, "db", "files.read_file", "delete", "verb"),  # cannot lower a delete
        (Verb.TOOL_CALL, "delete_post", "messaging.post_message", "delete", "name"),  # nor the name
        (Verb.LLM_CALL, "gpt", "llm.chat_completion", "read", "verb"),
    ],
)  # fmt: skip
def test_declaring_a_catalog_action_only_raises_the_lane(
    verb: Verb, tool: str, declared: str, lane: str, source: str
) -> None:
    domain, action_id = declared.split(".", 1)
    source = source.replace("*", declared)
    for action in (
        act(verb, tool, domain=domain, action_id=action_id),
        act(verb, tool, action_id=declared),
        act(verb, tool, domain=domain, action_id=declared),
    ):
        assert OPEN.classify(action) == (lane, source)
        assert OPEN.evaluate(action).lane == lane


def test_a_declared_payment_meets_the_payment_floor_the_operator_set() -> None:
    d = OPEN.evaluate(act(Verb.TOOL_CALL, "api", domain="payment", action_id="refund_payment"))
    assert (d.kind, d.rule_id, d.lane) == (ALLOW, "heso:default", "payment")
    floored = parse_policy('[policy]\ndefault = "allow"\n[policy.floors]\npayment = "block"\n')
    d = floored.evaluate(act(Verb.TOOL_CALL, "api", domain="payment", action_id="refund_payment"))
    assert (d.kind, d.rule_id) == (BLOCK, "heso:floor:payment")
    assert d.decision_path == (
        "lane:payment(catalog:payment.refund_payment) > default=allow > floor:payment=block"
    )


def test_an_unknown_declared_action_is_blocked_not_raised() -> None:
    d = OPEN.evaluate(act(Verb.TOOL_CALL, "api", domain="payment", action_id="authorise_payment"))
    assert (d.kind, d.rule_id, d.lane) == (BLOCK, "heso:unknown-catalog-action", "write")
    assert d.decision_path == "lane:write(verb) > catalog:payment.authorise_payment=block"
    assert "payment.authorise_payment" in d.rule_display
    assert OPEN.classify(act(Verb.TOOL_CALL, "api", action_id="nope.nope")) == ("write", "verb")


def test_pinned_floors_hold_for_a_policy_built_in_code() -> None:
    from heso.policy import Policy, PolicySettings

    p = Policy([], PolicySettings(default=ALLOW, floors={}))
    assert p.evaluate(act(Verb.DELETE)).kind is APPROVAL
    assert p.evaluate(act(Verb.PAYMENT)).kind is ALLOW
    held = Policy([], PolicySettings(default=ALLOW, floors={"payment": APPROVAL, "delete": ALLOW}))
    assert held.evaluate(act(Verb.PAYMENT)).kind is APPROVAL
    assert held.evaluate(act(Verb.DELETE)).kind is APPROVAL


def test_empty_catalog_declarations() -> None:
    assert OPEN.evaluate(act(Verb.TOOL_CALL, "x", domain="", action_id="")).lane == "write"
    d = OPEN.evaluate(act(Verb.TOOL_CALL, "x", domain="payment"))
    assert (d.kind, d.rule_id) == (BLOCK, "heso:unknown-catalog-action")
