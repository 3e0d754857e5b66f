"""Where an approval session stands: one enum for the whole code base (the gate, the CLI, the
console and every adapter read the same statuses)."""

from __future__ import annotations

import enum


class ApprovalStatus(str, enum.Enum):
    """The status of a suspended action's approval session. A ``str``: each compares equal to
    its value, which is what lifecycle records and ``--json`` outputs carry."""

    PENDING = "pending"
    ESCALATED = "escalated"
    APPROVED = "approved"
    FIRED = "fired"
    COMPLETED = "completed"
    DENIED = "denied"
    EXPIRED = "expired"

    @property
    def waiting(self) -> bool:
        """No decision yet: the call keeps waiting for heso's approvers."""
        return self in OPEN

    @property
    def decision(self) -> str:
        """What :func:`heso.decision` reports: ``suspended`` while pending, ``approved`` once
        fired (the body may still be running), else the status itself."""
        return _DECISIONS.get(self, self.value)

    def __str__(self) -> str:
        return self.value


OPEN = (ApprovalStatus.PENDING, ApprovalStatus.ESCALATED)
"""Awaiting a decision."""
TERMINAL = (ApprovalStatus.DENIED, ApprovalStatus.EXPIRED)
"""Refused for good: the action never fires."""
DECISION_KINDS = (
    ApprovalStatus.APPROVED,
    ApprovalStatus.DENIED,
    ApprovalStatus.EXPIRED,
    ApprovalStatus.ESCALATED,
)
"""What a decision record (an approver's, the operator's, a timeout's) may decide."""
TRACKED = ("approvers", "operator", "timeout")
"""Who approved an action whose firing is recorded in the audit chain (a human decision or a
timeout); policy-allowed and observe-only calls are not approvals, and chain nothing more."""

_DECISIONS = {ApprovalStatus.PENDING: "suspended", ApprovalStatus.FIRED: "approved"}

__all__ = ["DECISION_KINDS", "OPEN", "TERMINAL", "TRACKED", "ApprovalStatus"]
