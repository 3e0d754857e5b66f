"""The approval errors live in the one hierarchy."""

from __future__ import annotations

import importlib.util

import heso
import heso.policy
from heso.errors import (
    ApprovalError,
    HesoConfigError,
    HesoError,
    LifecycleError,
    OperatorKeyMismatchError,
    Paused,
    PolicyConfigError,
    SuspendedError,
)


def test_approval_errors_are_heso_errors() -> None:
    assert issubclass(LifecycleError, ApprovalError) and issubclass(ApprovalError, HesoError)


def test_public_errors_are_defined_in_errors_only() -> None:
    assert importlib.util.find_spec("heso.approvals.errors") is None
    assert heso.Paused is Paused and issubclass(Paused, SuspendedError)
    assert heso.policy.PolicyConfigError is PolicyConfigError
    assert issubclass(PolicyConfigError, HesoConfigError)
    for error in (Paused, PolicyConfigError, ApprovalError, LifecycleError):
        assert error.__module__ == "heso.errors"


def test_operator_key_mismatch_carries_both_hashes() -> None:
    exc = OperatorKeyMismatchError("rotated", action_hash="a" * 64, new_action_hash="b" * 64)
    assert (exc.action_hash, exc.new_action_hash, str(exc)) == ("a" * 64, "b" * 64, "rotated")
    bare = OperatorKeyMismatchError("rotated")
    assert (bare.action_hash, bare.new_action_hash) == (None, None)
