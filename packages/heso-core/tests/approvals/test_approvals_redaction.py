"""A redacted argument never lands in ``heso-local-data/`` in the clear: not in the chain, not
in an approval session (``session.json``, ``lifecycle.jsonl``, ``fired``), not in the index,
whether the action was parked by ``@heso.gated`` or by an adapter (:mod:`heso.approvals.reentry`),
through suspension, re-entry while pending, drift, approval, firing, a failing body and a
denial."""

from __future__ import annotations

import pytest

import heso
from heso.approvals import admission
from heso.errors import BlockedError, SuspendedError

SECRET = "sk-live-7c1e0b9d-HESO-NEVER-STORE"
OTHER_SECRET = "sk-live-2f8a6e4c-HESO-NEVER-STORE"
LATER = "2026-03-02T09:05:00Z"


def leaks(approvals, *secrets: str) -> list[str]:
    """Every file under ``heso-local-data/`` holding one of ``secrets`` (also JSON-escaped or
    hex-encoded)."""
    forms = [
        form
        for secret in secrets
        for form in (secret.encode(), secret.encode().hex().encode(), secret[::-1].encode())
    ]
    data_dir = approvals.project.data_dir
    files = [p for p in sorted(data_dir.rglob("*")) if p.is_file()]
    assert any(p.parent.name == "approvals" or "approvals" in p.parts for p in files)
    return [str(p) for p in files for form in forms if form in p.read_bytes()]


def test_gated_sessions_bind_arguments_without_their_cleartext(approvals):
    calls: list[str] = []

    @heso.gated
    @heso.tool(redact=["api_key"])
    def refund(order: str, api_key: str) -> str:
        calls.append(order)
        raise RuntimeError(f"upstream rejected {api_key}")

    assert refund("o-1", SECRET, _heso_session="s-secret") is heso.SUSPENDED
    (row,) = approvals.pending()
    assert refund("o-1", SECRET, _heso_session="s-secret") is heso.SUSPENDED
    assert refund("o-1", OTHER_SECRET, _heso_session="s-secret") is heso.DENIED  # drift
    approvals.approve(row["action_hash"], "alice")
    with pytest.raises(RuntimeError):
        refund("o-1", SECRET, _heso_session="s-secret")
    assert calls == ["o-1"]
    assert approvals.kinds("s-secret")[-3:] == ["finalized", "fired", "completed"]
    assert "drift" in approvals.kinds("s-secret")
    assert any(p.endswith("lifecycle.jsonl") for p in leaks(approvals, "o-1"))  # scans them
    assert leaks(approvals, SECRET, OTHER_SECRET) == []


def test_adapter_sessions_match_redacted_arguments_without_their_cleartext(approvals):
    def call(secret: str) -> admission.Admission:
        return admission.admit(
            "tool_call", "refund", {"order": "o-2", "api_key": secret}, redact_fields=["api_key"]
        )

    with pytest.raises(SuspendedError) as parked:
        call(SECRET)
    action_hash = parked.value.action_hash
    assert action_hash is not None
    with pytest.raises(SuspendedError):
        call(SECRET)  # the pending action, recognised through its commitment
    approvals.approve(action_hash, "alice")
    with pytest.raises(RuntimeError), call(SECRET):
        raise RuntimeError(f"upstream rejected {SECRET}")
    assert approvals.kinds(f"action-{action_hash}")[-2:] == ["fired", "completed"]

    # A second action with another secret, denied by the approver.
    approvals.init(clock=LATER)
    with pytest.raises(SuspendedError) as second:
        call(OTHER_SECRET)
    assert second.value.action_hash is not None
    approvals.deny(second.value.action_hash, "alice")
    with pytest.raises(BlockedError):
        call(OTHER_SECRET)
    assert any(p.endswith("lifecycle.jsonl") for p in leaks(approvals, "o-2"))  # scans them
    assert leaks(approvals, SECRET, OTHER_SECRET) == []
