"""Re-entry: run a suspended action once heso approved it, when its call is made again.

A ``require_approval`` verdict outside ``@heso.gated`` parks the action in the session
``action-<action_hash>`` (:func:`heso.approvals.pending.park`). When the framework issues the
call again (its own resume, or the model calling the tool once more), an adapter:

1. :func:`find` s the suspended action the call *is*: by a hint the framework carried (the
   ``action_hash`` or session), else by rebuilding the receipt's action from the call's
   arguments and comparing it with every suspended one the current policy could have made.
   The rest of the receipt content (``captured_at``, identity, policy) is the recorded one; a
   redacted field matches only when the value opens its recorded commitment with the salt in
   the reveal store; a destroyed field never matches (fail closed);
2. :func:`fire` s it: once its approvers approved (the L1 receipt is finalized first), the one
   caller that wins the session's exactly-once claim gets a :class:`FireTicket` and the
   session records ``fired``; every other caller gets the refusal: ``SuspendedError`` while
   undecided, ``BlockedError`` once denied, expired or already fired;
3. runs the body and records ``completed`` (:meth:`FireTicket.complete`, or ``with ticket:``).

:func:`heso.approvals.admission.admit` does all three for an adapter whose framework has no
native pause, and the gate itself re-enters a call it would suspend
(:func:`heso.approvals.pending.reenter`). ``@heso.gated`` fires through the same claim
(:func:`claim`) and ticket. Nothing here writes a field's value: the lifecycle holds the
redacted receipt, and matching happens in memory.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from heso import config as _config
from heso import fieldpath
from heso.action import Action, Verb
from heso.action_scope import action_hash_scope
from heso.approvals import session as _session
from heso.approvals import sla
from heso.approvals.binding import has_destroyed
from heso.approvals.state import SessionState, fold
from heso.approvals.status import OPEN, TERMINAL, ApprovalStatus
from heso.approvals.store import OPENING_KINDS, ApprovalStore
from heso.canonical import canonical_bytes
from heso.captured import captured_action
from heso.errors import (
    BlockedError,
    BridgeError,
    GateRefusal,
    HesoError,
    LifecycleError,
    SuspendedError,
)
from heso.ledger.format import Entry
from heso.policy import DecisionKind
from heso.receipt import action_block
from heso.redaction import RedactStrategy, RevealEntry, redact

if TYPE_CHECKING:
    from heso.config import Runtime

log = logging.getLogger("heso.approvals")

OBSERVE_ONLY = "observe-only"
_PREFERENCE = {ApprovalStatus.APPROVED: 0, **{status: 1 for status in OPEN}}


@dataclass(frozen=True)
class Found:
    """A suspended action, and where its session stood when it was found."""

    session: str
    """The session ``action-<action_hash>`` the core opened when it suspended the action."""
    state: SessionState

    @property
    def action_hash(self) -> str:
        """The action's current hash (a rotated operator key suspends it again anew)."""
        return self.state.action_hash

    @property
    def status(self) -> ApprovalStatus:
        """Where the session stands."""
        return self.state.status

    def refusal(self) -> GateRefusal | None:
        """Why the action may not fire now; ``None`` when it may (approved, not yet fired)."""
        return refusal(self.state)


# -- finding ------------------------------------------------------------------------------------


def find(
    verb: Verb | str,
    tool_name: str,
    fields: Mapping[str, Any] | None,
    *,
    workflow: str | None = None,
    account: str | None = None,
    agent: str | None = None,
    domain: str | None = None,
    action_id: str | None = None,
    hint: str | None = None,
    include_spent: bool = False,
) -> Found | None:
    """The suspended action this call is, or ``None`` when heso never suspended it.

    Pass what the call was captured with (``workflow``/``account`` default to the innermost
    :func:`heso.step`, then the config, as :func:`heso.capture.capture` does). ``hint`` (an
    ``action_hash`` or ``action-<hash>`` session the framework carried) is tried first, in any
    state. Otherwise, if the current policy would suspend the call, every suspended action is
    compared with it; an approved match wins, then one still undecided, then the newest.
    Sessions whose firing was claimed (fired, or a denial already delivered) count only with
    ``include_spent``: a framework resuming a deferred call passes it (running it again is
    refused), while for a call made anew they are a new action.
    """
    runtime = _config.current()
    store = _session.store_of(runtime)
    now = sla.clock(runtime)
    action, _ = captured_action(
        runtime.config, verb, tool_name, fields, workflow, account, agent, domain, action_id
    )
    hinted = _hinted_session(store, hint)
    if hinted is not None:
        found = _match(runtime, store, hinted, action, now)
        if found is not None:
            return found
    if not _suspends(runtime, action):
        return None
    return search(runtime, store, action, now, skip=hinted, include_spent=include_spent)


def search(
    runtime: Any,
    store: ApprovalStore,
    action: Action,
    now: datetime,
    *,
    skip: str | None = None,
    include_spent: bool = False,
) -> Found | None:
    """The suspended action ``action`` is, among every ``action-…`` session (see
    :func:`find`)."""
    matches: list[Found] = []
    for session in _candidates(store):
        if session == skip or (not include_spent and store.fire_claimed(session)):
            continue
        try:
            found = _match(runtime, store, session, action, now)
        except LifecycleError as exc:
            log.warning("heso skipped a corrupted approval session: %s", exc)
            continue
        if found is not None:
            matches.append(found)
    matches.sort(key=lambda m: m.state.receipt["content"]["captured_at"], reverse=True)
    return min(matches, key=lambda m: _PREFERENCE.get(m.status, 2), default=None)


def lookup(key: str, *, settle: bool = False) -> Found | None:
    """The suspended action ``key`` names (its ``action_hash`` or ``action-<hash>`` session),
    without comparing any call with it; ``None`` when heso suspended no such action outside
    ``@heso.gated``. ``settle=True`` first records due timeouts (as :func:`heso.resume`); the
    L1 receipt is minted when the action fires."""
    runtime = _config.current()
    store = _session.store_of(runtime)
    session = _hinted_session(store, key)
    if session is None:
        return None
    now = sla.clock(runtime)
    if settle:
        with store.locked(session):
            st = _session.settle(runtime, store, session, now, on_rotation="log")
    else:
        st = _session.state(runtime, store, session, now)
    return Found(session, st) if st is not None else None


def _hinted_session(store: ApprovalStore, hint: str | None) -> str | None:
    """The re-enterable session ``hint`` names; a ``@heso.gated`` session never (its calls
    are bound to the approved arguments by the decorator, not by re-entry)."""
    if not hint:
        return None
    prefix = _session.AUTO_SESSION_PREFIX
    session = hint if hint.startswith(prefix) else store.session_of(hint)
    if session is None and len(hint) == 64 and set(hint) <= set("0123456789abcdef"):
        session = prefix + hint  # the index is only a lookup aid
    if session is None or not session.startswith(prefix) or not store.exists(session):
        return None
    return session


def _suspends(runtime: Runtime, action: Action) -> bool:
    """Whether the current policy suspends ``action``: only then can an earlier suspension of
    it exist to re-enter (fail closed: a policy that crashes raises)."""
    try:
        return bool(runtime.policy.evaluate(action).kind is DecisionKind.REQUIRE_APPROVAL)
    except HesoError:
        raise
    except Exception as exc:
        raise BridgeError(
            f"the heso gate failed while evaluating the policy for {action.verb.value} "
            f"{action.tool_name!r}: {type(exc).__name__}: {exc}"
        ) from exc


def _candidates(store: ApprovalStore) -> list[str]:
    prefix = _session.AUTO_SESSION_PREFIX
    return [s for s in store.sessions() if s.startswith(prefix)]


def _match(
    runtime: Runtime, store: ApprovalStore, session: str, action: Action, now: datetime
) -> Found | None:
    """``session``'s state when its current action is ``action`` (cheap checks first; the
    lifecycle's signatures are verified only for a match)."""
    lines = store.lines(session)
    openings = [line.record for line in lines if line.record.get("kind") in OPENING_KINDS]
    if not openings or openings[-1].get("observe_only"):
        return None
    try:
        recorded = openings[-1]["receipt"]["content"]["action"]
        same_tool = (recorded["verb"], recorded["tool_name"]) == (
            action.verb.value,
            action.tool_name,
        )
    except (KeyError, TypeError):
        raise LifecycleError(f"session {session!r} carries a malformed receipt") from None
    if not same_tool:
        return None
    # A re-suspension (rotated operator key) keeps the fields; their salts stay filed under
    # the first action_hash.
    salts = [e for rec in openings for e in runtime.reveal.lookup(rec["action_hash"])]
    shown = _recommit(action.fields, recorded.get("fields"), salts)
    if shown is None or canonical_bytes(action_block(action, shown)) != canonical_bytes(recorded):
        return None
    st = fold(session, lines, _session.registry_of(runtime), now)
    return Found(session, st) if st is not None else None


def _recommit(values: Mapping[str, Any], recorded: Any, salts: list[RevealEntry]) -> Any:
    """``values`` redacted as the core redacted the recorded action, with its recorded salts
    (so equal values give equal commitments); ``None`` when a field was destroyed."""
    if has_destroyed(recorded):
        return None
    latest = {e.path: e for e in salts}
    # redact() commits deepest paths first, then by path: hand it the salts in that order.
    order = iter(sorted(latest.values(), key=lambda e: (-len(fieldpath.parse(e.path)), e.path)))
    spec = {path: RedactStrategy.COMMIT for path in latest}
    try:
        shown, _ = redact(values, spec, salt_source=lambda _n: next(order).salt)
    except StopIteration:
        return None
    return shown


# -- firing -------------------------------------------------------------------------------------


@dataclass
class FireTicket:
    """The claimed, single firing of an approved action: run its body, then :meth:`complete`.

    ``with ticket:`` runs the body with :func:`heso.current_action_hash` set and records
    ``completed`` (``ok``, or ``error`` with the exception's type) when the block ends.
    """

    session: str
    action_hash: str
    trust_level: str
    """``L1`` when approvers co-signed the receipt, ``L0`` for an operator or timeout
    approval."""
    receipt: Mapping[str, Any] | None = None
    """The action's receipt as it fires (chained and sealed before the body runs)."""
    entry: Entry | None = None
    _done: bool = field(default=False, init=False, repr=False)
    _scope: action_hash_scope | None = field(default=None, init=False, repr=False)

    def complete(self, ok: bool = True, *, error: BaseException | str | None = None) -> None:
        """Record how the body ended (once; later calls do nothing). ``error`` is an
        exception or a type name; only its type name is recorded."""
        if self._done:
            return
        _session.record_completed(
            _config.current(), self.session, self.action_hash, ok=ok, error=error
        )
        self._done = True

    def __enter__(self) -> FireTicket:
        self._scope = action_hash_scope(self.action_hash)
        self._scope.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        scope, self._scope = self._scope, None
        try:
            if scope is not None:
                scope.__exit__(exc_type, exc, tb)
        finally:
            self.complete(exc is None, error=exc)


def claim(
    runtime: Runtime, store: ApprovalStore, st: SessionState, now: datetime
) -> FireTicket | None:
    """Win the one firing of the approved session ``st`` (hold its lock): the session records
    ``fired``. ``None`` when ``st`` is not approved or another caller, in any thread or
    process, won it."""
    firing = _session.claim_firing(runtime, store, st, now)
    if firing is None:
        return None
    return FireTicket(
        st.session, st.action_hash, firing.trust_level, dict(firing.receipt), firing.entry
    )


def fire(found: Found) -> FireTicket | GateRefusal:
    """Claim the one firing of ``found``, or say why it may not run.

    Settles the session first (records due timeouts; a rotated operator key suspends the
    action again, which then awaits a new approval); the winner's firing chains the action's
    L1 receipt (or L0, for an operator or timeout approval) and seals it before returning.
    Returns a :class:`FireTicket` to the one winner, else the refusal:
    ``SuspendedError`` while undecided, ``BlockedError`` when denied, expired or already
    fired. A denial or expiry is delivered once: the same call made again is a new action.
    """
    runtime = _config.current()
    store = _session.store_of(runtime)
    now = sla.clock(runtime)
    with store.locked(found.session):
        st = _session.settle(runtime, store, found.session, now, on_rotation="log")
        if st is None:
            raise LifecycleError(f"session {found.session!r} has no lifecycle")
        # The session, not the hash found earlier, decides: a rotated operator key suspends
        # the same action again under a new hash, which needs its own approval.
        eligible = st.approved_by != OBSERVE_ONLY
        ticket = claim(runtime, store, st, now) if eligible else None
        if ticket is not None:
            return ticket
        lost = eligible and st.status == ApprovalStatus.APPROVED
        st = _session.state(runtime, store, found.session, now) or st
        if st.status in TERMINAL:
            _session.retire(store, st, now)
    return refusal(st, claimed=lost) or _ran_once(st)


@contextlib.contextmanager
def approved_call(found: Found) -> Iterator[FireTicket]:
    """``with approved_call(found) as ticket:`` runs the block as ``found``'s one firing, or
    raises the refusal (:func:`fire`); ``completed`` is recorded when the block ends."""
    fired = fire(found)
    if isinstance(fired, GateRefusal):
        raise fired
    with fired:
        yield fired


# -- refusals -----------------------------------------------------------------------------------


def refusal(st: SessionState, *, claimed: bool = False) -> GateRefusal | None:
    """Why the action of ``st`` may not fire now (``claimed``: another caller won its one
    firing); ``None`` when it may."""
    if st.status in OPEN:
        return suspension(st)
    if st.status == ApprovalStatus.APPROVED and not claimed and st.approved_by != OBSERVE_ONLY:
        return None
    return _ran_once(st)


def suspension(st: SessionState) -> SuspendedError:
    """The ``SuspendedError`` of ``st``'s action: what it waits for, and the next step."""
    content = st.receipt["content"]
    rule_id, display = _rule(st)
    short = st.action_hash[:12]
    who = ", ".join(st.groups) or "the policy's approvers"
    return SuspendedError(
        f"heso has no approval for {content['action']['tool_name']!r} yet (rule {rule_id}, "
        f"receipt {short}); the framework's approval alone never runs it. Next: an "
        f"approver ({who}) runs `heso approve {short} --as <name>`; then make the call again",
        action_hash=st.action_hash,
        rule_id=rule_id,
        reason=display,
        approvers=list(st.groups),
    )


def _ran_once(st: SessionState) -> BlockedError:
    """The ``BlockedError`` of an action that will never fire (again)."""
    if st.status in TERMINAL:
        why = "approval " + _decided(st)
    elif st.approved_by == OBSERVE_ONLY and st.status == ApprovalStatus.APPROVED:
        why = "it was suspended in observe-only mode"
    else:
        why = "it already ran once"
    rule_id, display = _rule(st)
    tool = st.receipt["content"]["action"]["tool_name"]
    return BlockedError(
        f"heso refused {tool!r}: {display} ({why}; rule {rule_id}, receipt {st.action_hash[:12]})",
        action_hash=st.action_hash,
        rule_id=rule_id,
        reason=f"{display} ({why})",
    )


def _rule(st: SessionState) -> tuple[str | None, str]:
    rule_id = st.opening.get("rule_id")
    display = st.receipt["content"]["policy"].get("rule_display") or rule_id or "approval"
    return rule_id, str(display)


def _decided(st: SessionState) -> str:
    """``denied by alice: <reason>``, ``expired on timeout``, ``denied by the operator``."""
    record = st.decided or {}
    by = record.get("by")
    if by == "approver" and record.get("approver"):
        who = f"by {record['approver']}"
    else:
        who = {"operator": "by the operator", "timeout": "on timeout"}.get(str(by), "")
    text = " ".join(part for part in (st.decision, who) if part)
    reason = record.get("reason")
    return f"{text}: {reason}" if reason and by != "timeout" else text


__all__ = [
    "FireTicket",
    "Found",
    "approved_call",
    "claim",
    "find",
    "fire",
    "lookup",
    "refusal",
    "search",
    "suspension",
]
