"""The one model-facing refusal text, its data form, and the refusal modes."""

from __future__ import annotations

import pytest

from heso.errors import BlockedError, BridgeError, SuspendedError
from heso.refusals import GATE_FAILED, MODES, check_mode, refusal_info, refusal_text

HASH = "3f2a9c1b7d4e" + "0" * 52


def test_a_block_names_the_rule_and_its_display_text() -> None:
    refusal = BlockedError("x", action_hash=HASH, rule_id="no-rockets", reason="never")
    assert refusal_text(refusal) == "heso: blocked by rule no-rockets: never"


def test_an_approval_names_the_rule_and_the_next_step() -> None:
    refusal = SuspendedError(
        "x", action_hash=HASH, rule_id="oncall-only", reason="needs on-call", approvers=["oncall"]
    )
    assert refusal_text(refusal) == (
        "heso: needs approval by rule oncall-only: needs on-call; approve with "
        "`heso approve 3f2a9c1b7d4e --as <name>`"
    )


def test_a_refusal_without_a_reason_falls_back_to_the_rule() -> None:
    assert refusal_text(BlockedError("x", rule_id="r1")) == "heso: blocked by rule r1: r1"


def test_a_gate_failure_hides_its_details() -> None:
    assert refusal_text(BridgeError("signing failed: key at /secret/path")) == GATE_FAILED
    assert refusal_text(RuntimeError("boom")) == GATE_FAILED


def test_refusal_info_is_json_data() -> None:
    refusal = SuspendedError("x", action_hash=HASH, rule_id="r", reason="why")
    assert refusal_info(refusal) == {
        "heso": {"refusal": "suspended", "action_hash": HASH, "rule_id": "r", "reason": "why"}
    }
    assert refusal_info(BlockedError("x", rule_id="b"))["heso"]["refusal"] == "blocked"


def test_modes() -> None:
    assert MODES == ("raise", "message")
    assert [check_mode(m) for m in MODES] == list(MODES)
    with pytest.raises(ValueError, match="mode must be one of 'raise', 'message', not 'warn'"):
        check_mode("warn")
