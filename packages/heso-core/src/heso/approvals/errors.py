"""Errors of the approval flow; they live in :mod:`heso.errors` (re-exported here)."""

from __future__ import annotations

from heso.errors import ApprovalError, LifecycleError

__all__ = ["ApprovalError", "LifecycleError"]
