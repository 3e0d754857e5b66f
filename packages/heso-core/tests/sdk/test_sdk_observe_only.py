"""blocking=False: every action is captured, signed and chained with its real verdict, the body
runs, and nothing raises."""

from __future__ import annotations

import pytest

import heso
from heso.capture import OutcomeKind, capture, gate
from heso.ledger import verify_chain


def _decisions(project):
    return [r["content"]["policy"]["decision"] for r in project.receipts()]


def test_blocked_and_suspended_tools_run_and_record_the_real_verdict(observe_project):
    ran = []

    @heso.tool
    def run_shell(command: str) -> str:
        ran.append(heso.current_action_hash())
        return "ran"

    @heso.destructive
    def drop(table: str) -> str:
        return "dropped"

    assert run_shell("rm -rf /") == "ran"
    assert drop("users") == "dropped"
    assert _decisions(observe_project) == ["block", "require_approval"]
    assert ran == [observe_project.receipts()[0]["content"]["action_hash"]]
    assert str(verify_chain(observe_project.data_dir)).startswith("Valid")


async def test_async_tools_run_too(observe_project):
    @heso.tool
    async def run_shell(command: str) -> str:
        return command

    assert await run_shell("rm -rf /") == "rm -rf /"
    assert _decisions(observe_project) == ["block"]


def test_outcomes_carry_the_verdict_without_raising(observe_project):
    blocked = gate("tool_call", "run_shell", {"command": "rm x"})
    assert (blocked.kind, blocked.blocking, blocked.runs) == (OutcomeKind.BLOCKED, False, True)
    assert blocked.rule_id == "no-rm"
    assert isinstance(blocked.refusal(), heso.BlockedError)
    suspended = heso.process(heso.Action(heso.Verb.DELETE, "drop_table", {"t": "x"}))
    assert (suspended.kind, suspended.runs) == (OutcomeKind.SUSPENDED, True)
    assert suspended.action_hash == observe_project.receipts()[-1]["content"]["action_hash"]


def test_wrapped_client_calls_go_through(observe_project, oai, fake_provider):
    completion = oai.chat.completions.create(
        model="forbidden-model", messages=[{"role": "user", "content": "x"}]
    )
    assert completion.choices[0].message.content == "echo: x"
    assert fake_provider.count() == 1
    assert _decisions(observe_project) == ["block"]


def test_a_failing_core_is_logged_and_the_body_still_runs(observe_project, monkeypatch, caplog):
    rt = heso.config.current()

    def broken(receipt):
        raise OSError("disk full")

    monkeypatch.setattr(rt.ledger, "append", broken)
    ran = []

    @heso.tool
    def f() -> None:
        ran.append(heso.current_action_hash())

    with caplog.at_level("ERROR", logger="heso.capture"):
        f()
    assert ran == [None]
    assert "disk full" in caplog.text
    outcome = gate("tool_call", "t", {})
    assert outcome.kind is OutcomeKind.FAILED and outcome.runs
    assert isinstance(outcome.error, heso.BridgeError)


def test_setup_errors_still_raise_in_observe_only(observe_project):
    heso.shutdown()

    @heso.tool
    def f() -> None:
        raise AssertionError("must not run")

    with pytest.raises(heso.HesoConfigError):
        f()


def test_capture_never_raises_for_a_refusal_even_when_blocking(sdk_project):
    outcome = capture("tool_call", "run_shell", {"command": "rm -rf /"})
    assert outcome.kind is OutcomeKind.BLOCKED and not outcome.runs
    with pytest.raises(heso.BlockedError):
        outcome.raise_for_refusal()
