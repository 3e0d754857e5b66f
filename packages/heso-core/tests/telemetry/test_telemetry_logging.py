"""``logging.getLogger("heso")``: one record per decision with structured ``extra``, a warning
when a suspension waits for a person, with or without tracing."""

from __future__ import annotations

import logging

import pytest

import heso
from heso.approvals.admission import admit

POLICY = """
[policy]
default = "allow"

[[rule]]
id = "no-deletes"
verb = "delete"
scope = "*"
decision = "block"
display = "deletes are not allowed"

[[rule]]
id = "wires-need-review"
verb = "tool_call"
scope = "wire"
decision = "require_approval"
approvers = ["finance"]
"""

EXTRA = ("action_hash", "decision", "outcome", "rule", "verb", "tool", "workflow", "account")


class Collect(logging.Handler):
    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def heso_log():
    """What a handler on ``logging.getLogger("heso")`` receives from the decisions logger."""
    logger = logging.getLogger("heso")
    handler = Collect(logging.DEBUG)
    old = logger.level
    logger.addHandler(handler)
    try:
        yield logger, handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)


def _decisions(handler: Collect) -> list[logging.LogRecord]:
    return [r for r in handler.records if r.name == "heso.decisions"]


def _run_three() -> str:
    @heso.tool
    def lookup(customer: str) -> str:
        return customer

    lookup("c-1")
    with pytest.raises(heso.BlockedError):
        heso.capture.gate("delete", "/users/7", {})
    with pytest.raises(heso.SuspendedError) as suspended:
        admit("tool_call", "wire", {"amount": 5})
    assert suspended.value.action_hash is not None
    return suspended.value.action_hash


def test_one_record_per_decision_with_structured_extra(heso_project, heso_log):
    logger, handler = heso_log
    logger.setLevel(logging.INFO)
    heso_project.write_policy(POLICY)
    heso_project.init()
    wire_hash = _run_three()
    records = _decisions(handler)
    receipts = heso_project.receipts()
    assert [(r.levelname, r.outcome) for r in records] == [
        ("INFO", "allowed"),
        ("INFO", "blocked"),
        ("WARNING", "suspended"),
    ]
    for record, receipt in zip(records, receipts, strict=True):
        content = receipt["content"]
        assert {k: getattr(record, k) for k in EXTRA} == {
            "action_hash": content["action_hash"],
            "decision": content["policy"]["decision"],
            "outcome": record.outcome,
            "rule": content["policy"]["rule_id"],
            "verb": content["action"]["verb"],
            "tool": content["action"]["tool_name"],
            "workflow": "default",
            "account": "default",
        }
        assert record.blocking is True
    assert records[0].getMessage() == (
        f"heso allowed tool_call 'lookup' (rule heso:default, receipt "
        f"{receipts[0]['content']['action_hash'][:12]})"
    )
    assert records[1].seq == 1 and records[1].session is None
    assert records[2].session == f"action-{wire_hash}"
    assert f"heso approve {wire_hash[:12]} --as <name>" in records[2].getMessage()


def test_untouched_logging_still_warns_about_a_suspension_only(heso_project, heso_log):
    _, handler = heso_log  # the logger left at its default level (WARNING, from the root)
    heso_project.write_policy(POLICY)
    heso_project.init()
    _run_three()
    assert [(r.levelname, r.outcome) for r in _decisions(handler)] == [("WARNING", "suspended")]


def test_observe_only_says_what_would_have_happened(heso_project, heso_log):
    logger, handler = heso_log
    logger.setLevel(logging.INFO)
    heso_project.write_policy(POLICY)
    heso_project.init(blocking=False)
    heso.capture.gate("delete", "/users/7", {})
    heso.capture.gate("tool_call", "wire", {"amount": 5})
    records = _decisions(handler)
    assert [r.levelname for r in records] == ["INFO", "INFO"]
    assert (
        records[0]
        .getMessage()
        .startswith("heso would have blocked (observe-only: it runs) delete '/users/7'")
    )
    assert records[1].outcome == "suspended" and records[1].blocking is False


def test_a_suspended_actions_later_events_are_logged(heso_project, heso_log):
    logger, handler = heso_log
    logger.setLevel(logging.INFO)
    heso_project.write_policy(POLICY)
    heso_project.init()
    wire_hash = _run_three()
    handler.records.clear()
    heso.append_decision(f"action-{wire_hash}", "approved")
    with admit("tool_call", "wire", {"amount": 5}):
        pass
    records = _decisions(handler)
    short = wire_hash[:12]
    assert [r.getMessage() for r in records] == [
        f"heso recorded tool_call 'wire': approved by operator (receipt {short})",
        f"heso fired approved tool_call 'wire' (L0, approved by operator, receipt {short})",
        f"heso completed approved tool_call 'wire' (ok, receipt {short})",
    ]
    assert [(r.outcome, r.approval) for r in records] == [
        ("decision", "approved"),
        ("fired", None),
        ("completed", "ok"),
    ]
    assert {r.session for r in records} == {f"action-{wire_hash}"}
    assert records[1].trust_level == "L0"
