"""The approval errors live in the one hierarchy."""

from __future__ import annotations

import heso.approvals.errors
from heso.errors import ApprovalError, HesoError, LifecycleError, OperatorKeyMismatchError


def test_approval_errors_are_heso_errors() -> None:
    assert issubclass(LifecycleError, ApprovalError) and issubclass(ApprovalError, HesoError)
    assert heso.approvals.errors.ApprovalError is ApprovalError


def test_operator_key_mismatch_carries_both_hashes() -> None:
    exc = OperatorKeyMismatchError("rotated", action_hash="a" * 64, new_action_hash="b" * 64)
    assert (exc.action_hash, exc.new_action_hash, str(exc)) == ("a" * 64, "b" * 64, "rotated")
    bare = OperatorKeyMismatchError("rotated")
    assert (bare.action_hash, bare.new_action_hash) == (None, None)
