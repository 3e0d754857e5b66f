"""Human approval: pending actions, approver co-signatures (L1), quorum, suspend/resume.

Modules: ``registry`` (the ``[approvers.<group>]`` schema), ``identity`` (approvers' own keys),
``decisions`` (signed records and approver decisions), ``store`` (files, locks, the
exactly-once claim), ``state`` (a session folded at a moment, SLA timeouts), ``session`` (the
operator's side), ``finalize`` (L1 receipts), ``gated`` (``@heso.gated`` and the session API)
and ``reentry`` (firing a suspended action when an adapter's call comes again). The reference
is ``docs/approvals.md``. Importing this package is cheap: the gate imports it on every process
start.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from heso.action import Action
    from heso.capture import Outcome
    from heso.config import Runtime
    from heso.policy import Decision

_EXPORTS = {
    "resume": "heso.approvals.gated",
    "ResumeOutcome": "heso.approvals.gated",
    "decision": "heso.approvals.gated",
    "append_decision": "heso.approvals.gated",
    "SUSPENDED": "heso.approvals.gated",
    "DENIED": "heso.approvals.gated",
    "Paused": "heso.approvals.gated",
    "finalize_l1": "heso.approvals.finalize",
    "finalize_quorum": "heso.approvals.finalize",
    "ApprovalError": "heso.errors",
    "LifecycleError": "heso.errors",
    "reentry": "heso.approvals.reentry",
}


def on_suspended(runtime: Runtime, receipt: Mapping[str, Any], decision: Decision) -> None:
    """Open a pending approval for a ``require_approval`` receipt (called by the gate).

    A ``@heso.gated`` first call opens its own session (it holds the session lock and knows
    the session); any other surface gets a session named ``action-<action_hash>``.
    """
    from heso.approvals import gated, session

    if gated.capturing():
        return
    session.open_pending(runtime, receipt, decision)


def reenter(runtime: Runtime, action: Action, decision: Decision) -> Outcome | None:
    """Re-enter an earlier suspension of ``action`` (called by the gate when policy requires
    approval and blocking is on): see :func:`heso.approvals.reentry.reenter`."""
    from heso.approvals import reentry

    return reentry.reenter(runtime, action, decision)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'heso.approvals' has no attribute {name!r}")
    imported = importlib.import_module(module)
    value = imported if module.endswith("." + name) else getattr(imported, name)
    globals()[name] = value
    return value


__all__ = ["on_suspended", "reenter", *_EXPORTS]
