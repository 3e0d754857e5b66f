"""CrewAI has no pause: a call that needs approval is refused, and the same call made again
re-enters it (``heso.approvals.reentry``): refused while undecided, run exactly once after
heso's approvers approved (``fired`` and ``completed`` recorded), refused once denied."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import heso_crewai
from heso.approvals.file_store import FileApprovalStore
from heso.errors import SuspendedError
from heso_testing.conformance import (
    APPROVAL_DISPLAY,
    APPROVAL_RULE,
    APPROVER,
    ConformanceContext,
    ConformanceTools,
    conformance_context,
)

from .conftest import PATHS, run_crew

ARGS = {"ticket_id": "T-7", "note": "customer is down"}
CALL = [("escalate_ticket", ARGS)]


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConformanceContext]:
    with conformance_context(tmp_path, monkeypatch) as ctx:
        yield ctx


def kinds(ctx: ConformanceContext, action_hash: str) -> list[str]:
    lines = FileApprovalStore(ctx.data_dir).lines(f"action-{action_hash}")
    return [line.record["kind"] for line in lines]


@pytest.mark.parametrize("path", PATHS)
def test_an_approved_call_made_again_runs_once(ctx: ConformanceContext, path: str) -> None:
    tools = ConformanceTools()
    with heso_crewai.scoped("message"):
        _, first = run_crew(path, tools.sync_tools(), CALL)
        (receipt,) = ctx.receipts("escalate_ticket")
        action_hash = receipt["content"]["action_hash"]
        told = (
            f"heso: needs approval by rule {APPROVAL_RULE}: {APPROVAL_DISPLAY}; approve with "
            f"`heso approve {action_hash[:12]} --as <name>`"
        )
        assert first.observations() == [told]

        _, again = run_crew(path, tools.sync_tools(), CALL)
        assert again.observations() == [told]
        assert len(ctx.receipts("escalate_ticket")) == 1 and tools.calls == []

        ctx.approve(action_hash)
        _, fired = run_crew(path, tools.sync_tools(), CALL)
    assert fired.observations() == ["escalated T-7"]
    assert tools.calls == [("escalate_ticket", ARGS)]
    assert kinds(ctx, action_hash)[-3:] == ["finalized", "fired", "completed"]
    assert action_hash not in ctx.pending()
    ctx.assert_chain_valid()


def test_a_denied_call_is_refused(ctx: ConformanceContext) -> None:
    tools = ConformanceTools()
    with heso_crewai.scoped("raise"), pytest.raises(SuspendedError) as parked:
        run_crew("native", tools.sync_tools(), CALL)
    assert parked.value.action_hash is not None
    ctx.deny(parked.value.action_hash)
    with heso_crewai.scoped("message"):
        _, denied = run_crew("native", tools.sync_tools(), CALL)
    (text,) = denied.observations()
    assert text == (
        f"heso: blocked by rule {APPROVAL_RULE}: {APPROVAL_DISPLAY} (approval denied by {APPROVER})"
    )
    assert tools.calls == []
