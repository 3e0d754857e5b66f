"""Pending actions: what the gate does with an action policy requires approval for.

:func:`park` opens the pending approval of a ``require_approval`` receipt captured outside
``@heso.gated`` (which opens its own session): the session ``action-<action_hash>``.
:func:`reenter` runs the same call, made again, as the one firing of that suspension once
heso's approvers approved it (:mod:`heso.approvals.reentry`). The gate
(:func:`heso.capture.capture`) calls both; nothing here calls the gate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from heso.action import Action
from heso.approvals import sla
from heso.approvals.reentry import FireTicket, fire, search
from heso.approvals.session import (
    AUTO_SESSION_PREFIX,
    chain_link,
    open_session,
    opening_record,
    registry_of,
    store_of,
)
from heso.config import Runtime
from heso.errors import GateRefusal
from heso.policy import Decision


def park(runtime: Runtime, receipt: Mapping[str, Any], decision: Decision) -> str:
    """Open the pending approval of a ``require_approval`` receipt (``SuspendedError``
    surfaces, or observe-only mode lets the call run); returns its session id."""
    action_hash: str = receipt["content"]["action_hash"]
    store = store_of(runtime)
    session = AUTO_SESSION_PREFIX + action_hash
    registry_of(runtime)
    with store.locked(session):
        if store.exists(session):
            return session
        minutes = decision.sla_minutes
        record = opening_record(
            "suspended",
            session,
            receipt,
            at=sla.parse_time(receipt["content"]["captured_at"]),
            link=chain_link(runtime, action_hash),
            decision=decision,
            sla_delta=timedelta(minutes=minutes) if minutes else None,
            observe_only=not runtime.config.blocking,
        )
        open_session(runtime, store, session, record)
    return session


def reenter(runtime: Runtime, action: Action) -> FireTicket | None:
    """The firing of ``action``'s earlier suspension, for a call policy suspends while blocking
    is on: approved since, its :class:`~heso.approvals.reentry.FireTicket`; still undecided,
    denied, expired or lost to a concurrent caller, its refusal is raised (no new receipt);
    ``None`` when heso never suspended this call, or its approval was spent (a new action)."""
    found = search(runtime, store_of(runtime), action, sla.clock(runtime))
    if found is None:
        return None
    fired = fire(found)
    if isinstance(fired, GateRefusal):
        raise fired
    return fired


__all__ = ["park", "reenter"]
