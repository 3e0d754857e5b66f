"""The [approvers.<group>] schema: what it accepts, and a precise error for every mistake."""

from __future__ import annotations

import logging

import pytest

import heso
from heso.approvals.registry import load_registry
from heso.errors import HesoConfigError
from heso.keys import SigningKey
from heso.toml_source import TomlSource

A = str(SigningKey.generate().public_key())
B = str(SigningKey.generate().public_key())


def _load(text: str):
    return load_registry(TomlSource(text, "heso.toml"))


def test_groups_members_thresholds_and_escalation():
    registry = _load(
        f"""
[approvers.finance]
members = {{ alice = "{A}", bob = "{B}" }}
threshold = 2
escalate_to = "cfo"

[approvers.cfo.members]
bob = "{B}"
"""
    )
    finance = registry.group("finance")
    assert (finance.threshold, finance.escalate_to, sorted(finance.members)) == (
        2,
        "cfo",
        ["alice", "bob"],
    )
    assert registry.group("cfo").threshold == 1
    assert {str(k): n for k, n in registry.approver_keys().items()} == {A: "alice", B: "bob"}
    assert [g.name for g in registry.eligible(["cfo", "finance", "nope"], "bob")] == [
        "cfo",
        "finance",
    ]
    assert _load("[policy]\ndefault = 'allow'\n").groups == {}


@pytest.mark.parametrize(
    "text, message, line, key",
    [
        ("approvers = 3\n", "[approvers] must be a table", 1, "approvers"),
        (
            '[approvers]\noncall = "alice"\n',
            "[approvers.oncall] must be a table",
            2,
            "approvers.oncall",
        ),
        (
            f'[approvers.oncall]\nmembers = {{ alice = "{A}" }}\nthreshhold = 1\n',
            "unknown key 'threshhold'",
            3,
            "approvers.oncall.threshhold",
        ),
        ("[approvers.oncall]\nthreshold = 1\n", "has no members", 1, "approvers.oncall"),
        (
            "[approvers.oncall]\nmembers = {}\n",
            "must be a non-empty table",
            2,
            "approvers.oncall.members",
        ),
        (
            '[approvers.oncall]\nmembers = { alice = "ed25519:beef" }\n',
            "approver 'alice': invalid public key",
            2,
            "approvers.oncall.members.alice",
        ),
        (
            f'[approvers.oncall]\nmembers = {{ alice = "{A}" }}\nthreshold = 2\n',
            "threshold is 2 but the group has 1 member(s)",
            3,
            "approvers.oncall.threshold",
        ),
        (
            f'[approvers.oncall]\nmembers = {{ alice = "{A}" }}\nthreshold = 0\n',
            "threshold is 0",
            3,
            "approvers.oncall.threshold",
        ),
        (
            f'[approvers.oncall]\nmembers = {{ alice = "{A}" }}\nthreshold = "1"\n',
            "threshold must be an integer",
            3,
            "approvers.oncall.threshold",
        ),
        (
            f'[approvers.oncall]\nmembers = {{ alice = "{A}", eve = "{A}" }}\n',
            "the key of 'eve' is already registered as 'alice'",
            2,
            "approvers.oncall.members.eve",
        ),
        (
            f'[approvers.a]\nmembers = {{ alice = "{A}" }}\n'
            f'[approvers.b]\nmembers = {{ alice = "{B}" }}\n',
            "approver 'alice' has a different key in another group",
            4,
            "approvers.b.members.alice",
        ),
        (
            f'[approvers.a]\nmembers = {{ alice = "{A}" }}\nescalate_to = "boss"\n',
            "escalate_to names undefined group 'boss'",
            3,
            "approvers.a.escalate_to",
        ),
        (
            f'[approvers.a]\nmembers = {{ alice = "{A}" }}\nescalate_to = "a"\n',
            "escalate_to names itself",
            3,
            "approvers.a.escalate_to",
        ),
        (
            f'[approvers."on call"]\nmembers = {{ alice = "{A}" }}\n',
            "invalid approver group name 'on call'",
            1,
            'approvers."on call"',
        ),
    ],
)
def test_every_mistake_is_a_located_config_error(text, message, line, key):
    with pytest.raises(HesoConfigError) as err:
        _load(text)
    exc = err.value
    assert message in exc.message
    assert (exc.path, exc.line, exc.key) == ("heso.toml", line, key)


def test_an_undefined_group_is_named_with_the_fix(heso_project):
    heso_project.write_policy(
        """
        [[rule]]
        id = "refunds"
        verb = "tool_call"
        scope = "refund"
        decision = "require_approval"
        approvers = ["oncall"]
        """
    )
    registry = load_registry(TomlSource.read(heso_project.policy_path))
    with pytest.raises(HesoConfigError) as err:
        registry.group("oncall")
    assert "[approvers.oncall]" in err.value.hint and err.value.key == "approvers.oncall"


def test_suspending_for_an_undefined_group_warns_and_approving_explains(
    heso_project, caplog, capsys
):
    heso_project.write_policy(
        """
        [[rule]]
        id = "refunds"
        verb = "tool_call"
        scope = "refund"
        decision = "require_approval"
        approvers = ["oncall"]
        """
    )
    heso_project.init()

    @heso.gated
    def refund(order: str) -> None: ...

    with caplog.at_level(logging.WARNING, logger="heso.approvals"):
        assert refund("o-1", _heso_session="s") is heso.SUSPENDED
    assert "defines no [approvers.oncall]" in caplog.text
    from heso.cli import main

    capsys.readouterr()
    h = heso_project.receipts()[-1]["content"]["action_hash"]
    assert main(["approve", h[:12], "--as", "alice", "--project", str(heso_project.root)]) == 2
    assert "approver group 'oncall' is not defined" in capsys.readouterr().err


def test_a_malformed_registry_fails_the_gate_before_anything_is_chained(heso_project):
    heso_project.write_policy(
        """
        [[rule]]
        id = "refunds"
        verb = "tool_call"
        scope = "refund"
        decision = "require_approval"
        approvers = ["oncall"]

        [approvers.oncall]
        members = { alice = "not-a-key" }
        """
    )
    heso_project.init()

    @heso.gated
    def refund(order: str) -> None: ...

    with pytest.raises(HesoConfigError, match="invalid public key"):
        refund("o-1", _heso_session="s")
    assert heso_project.receipts() == []
