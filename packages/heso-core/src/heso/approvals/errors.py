"""Errors of the approval flow (all :class:`heso.errors.HesoError`)."""

from __future__ import annotations

from heso.errors import HesoError


class ApprovalError(HesoError):
    """An approval step cannot proceed: unknown action or session, already decided, a denied
    or invalid leg, or a lifecycle that does not verify."""


class LifecycleError(ApprovalError):
    """A session's lifecycle log is corrupted (a broken link or an unauthenticated record);
    nothing fires from it."""
