"""The one door a framework adapter uses into heso's core.

An adapter package (``heso-langchain``, ``heso-mcp``, ...) imports from ``heso`` only its
public top-level names (``heso.BlockedError``, ``heso.step``, ...) and this module; a test
holds every adapter to that. What is here:

- gating: :func:`gate` (decide, sign, chain; raise the refusal while blocking is on),
  :func:`admit` (re-enter an approved suspension of the call, else gate it anew), the
  :class:`Outcome` / :class:`Admission` they return, :func:`action_hash_scope`;
- approvals for frameworks that pause: :func:`find` / :func:`lookup` a suspended action,
  :func:`fire` its one approved run (a :class:`FireTicket`), :func:`suspension`,
  :class:`ApprovalStatus`, :func:`session_of`;
- what the model is told: :data:`Mode`, :func:`check_mode`, :func:`refusal_text`,
  :func:`refusal_info`;
- the arguments a body receives: :func:`call_fields` binds a call as ``@heso.tool`` does, so
  an adapter gates the validated, defaulted arguments the framework passes to the body.

Adapters register their attribute of ``heso`` (``heso.mcp``, ``heso.crewai``, ...) as an entry
point in the group :data:`ENTRY_POINT_GROUP`; the core names none of them.
"""

from __future__ import annotations

from heso import config as _config
from heso.action import Verb
from heso.adapter_packages import INSTALL_HINTS
from heso.approvals.admission import Admission, admit
from heso.approvals.gated import append_decision, decision
from heso.approvals.reentry import FireTicket, Found, find, fire, lookup, suspension
from heso.approvals.session import AUTO_SESSION_PREFIX
from heso.approvals.status import ApprovalStatus
from heso.arguments import call_fields
from heso.canonical import to_json_value
from heso.capture import Outcome, OutcomeKind, action_hash_scope, current_action_hash, gate
from heso.refusals import GATE_FAILED, MODES, Mode, check_mode, refusal_info, refusal_text

ENTRY_POINT_GROUP = "heso.adapters"
"""Entry point group of adapters: ``<attribute of heso> = "<module>[:<object>]"``."""


def status(key: str, *, settle: bool = False) -> ApprovalStatus | None:
    """The status of the suspended action ``key`` names (its ``action_hash`` or session);
    ``None`` when heso suspended no such action. ``settle=True`` first records due timeouts
    and finalizes the L1 receipt of an approval."""
    found = lookup(key, settle=settle)
    return found.status if found is not None else None


def session_of(action_hash: str) -> str:
    """The approval session the core opens when it suspends ``action_hash`` outside
    ``@heso.gated``."""
    return AUTO_SESSION_PREFIX + action_hash


def blocking() -> bool:
    """Whether refusals stop actions (``False``: observe-only mode). Needs :func:`heso.init`."""
    return bool(_config.current().config.blocking)


def project_key() -> str:
    """A string naming the current heso project (its data directory)."""
    return str(_config.current().config.data_dir)


__all__ = [
    "ENTRY_POINT_GROUP",
    "GATE_FAILED",
    "INSTALL_HINTS",
    "MODES",
    "Admission",
    "ApprovalStatus",
    "FireTicket",
    "Found",
    "Mode",
    "Outcome",
    "OutcomeKind",
    "Verb",
    "action_hash_scope",
    "admit",
    "append_decision",
    "blocking",
    "call_fields",
    "check_mode",
    "current_action_hash",
    "decision",
    "find",
    "fire",
    "gate",
    "lookup",
    "project_key",
    "refusal_info",
    "refusal_text",
    "session_of",
    "status",
    "suspension",
    "to_json_value",
]
