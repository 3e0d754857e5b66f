"""Admission: one call let through for a framework without a native pause.

:func:`admit` re-enters the call's approved suspension (:mod:`heso.approvals.reentry`), else
gates it as a new action (:func:`heso.capture.gate`); either way the body runs inside the
:class:`Admission` it returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from heso import config as _config
from heso.action import Verb
from heso.action_scope import action_hash_scope
from heso.approvals.reentry import FireTicket, find, fire
from heso.capture import Outcome, gate
from heso.errors import GateRefusal


@dataclass
class Admission:
    """A call :func:`admit` let through: a new action policy allowed (``outcome``; observe-only
    lets refused ones through too), or the approved suspension it re-entered (``ticket``).

    ``with admission:`` runs the body with :func:`heso.current_action_hash` set and, for a
    re-entry, records ``completed`` when the block ends.
    """

    action_hash: str | None
    outcome: Outcome | None = None
    ticket: FireTicket | None = None
    _scope: FireTicket | action_hash_scope | None = field(default=None, init=False, repr=False)

    def complete(self, ok: bool = True, *, error: BaseException | str | None = None) -> None:
        """Record how a re-entered body ended (nothing to record for a new action)."""
        if self.ticket is not None:
            self.ticket.complete(ok, error=error)

    def __enter__(self) -> Admission:
        scope = self.ticket if self.ticket is not None else action_hash_scope(self.action_hash)
        scope.__enter__()
        self._scope = scope
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        scope, self._scope = self._scope, None
        if scope is not None:
            scope.__exit__(exc_type, exc, tb)


def admit(
    verb: Verb | str,
    tool_name: str,
    fields: Mapping[str, Any] | None = None,
    *,
    hint: str | None = None,
    **options: Any,
) -> Admission:
    """Let one call through, for a framework without a native pause: re-enter its approved
    suspension (the one ``hint`` names first), else gate it (:func:`heso.capture.gate`, with
    ``options``, which itself re-enters an earlier suspension of the same call).

    Raises the refusal while blocking is on: ``SuspendedError`` (a new suspension, or one still
    undecided: no new receipt), ``BlockedError`` (policy, a denial, an expiry, a spent
    approval). ``with admit("tool_call", name, args): run()``.
    """
    if hint is not None and _config.current().config.blocking:
        shape: dict[str, Any] = {
            k: options.get(k) for k in ("workflow", "account", "agent", "domain", "action_id")
        }
        found = find(verb, tool_name, fields, hint=hint, **shape)
        if found is not None:
            fired = fire(found)
            if isinstance(fired, GateRefusal):
                raise fired
            return Admission(fired.action_hash, ticket=fired)
    outcome = gate(verb, tool_name, fields, **options)
    return Admission(outcome.action_hash, outcome=outcome, ticket=outcome.ticket)


__all__ = ["Admission", "admit"]
