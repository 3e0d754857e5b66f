"""``@heso.gated``: suspend a call for human approval and fire it exactly once on resume.

The first call of a session gates the action (``heso.capture.capture``); a ``require_approval``
verdict parks it. Calling again with the same ``_heso_session`` resumes: the body runs only once
the approvers approved (the L1 receipt is finalized first), only with the arguments that were
approved, and only for the one caller that wins the session's exactly-once claim.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from heso import config as _config
from heso import telemetry
from heso.action import Verb
from heso.action_scope import action_hash_scope
from heso.approvals import binding as _binding
from heso.approvals import session as _session
from heso.approvals import sla as _sla
from heso.approvals.decisions import operator_record
from heso.approvals.reentry import FireTicket, claim
from heso.approvals.state import SessionState
from heso.approvals.status import TERMINAL, ApprovalStatus
from heso.approvals.store import ApprovalStore, check_session, new_session_id
from heso.arguments import signature_binder
from heso.capture import OutcomeKind, capture
from heso.errors import ApprovalError, HesoConfigError, HesoError, Paused

if TYPE_CHECKING:
    from heso.config import Runtime

log = logging.getLogger("heso.approvals")


class Sentinel:
    """A named marker value returned instead of the body's result; always falsy."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"heso.{self._name}"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return self._name


SUSPENDED = Sentinel("SUSPENDED")
"""Returned while the call is parked for approval, or when this session already fired."""
DENIED = Sentinel("DENIED")
"""Returned on a terminal refusal: denied, expired, blocked by policy, or arguments that
differ from the approved ones."""


@dataclass(frozen=True)
class _Spec:
    verb: Verb
    tool_name: str
    sla: Any
    on_timeout: str
    tool_version: str | None
    expires_at: datetime | None
    raise_on_suspend: bool
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class _Plan:
    """What a call does after the bookkeeping: fire (with the claimed ``ticket``, or untracked
    when the gate failed in observe-only mode), or return a value."""

    fire: bool
    value: Any = None
    session: str = ""
    action_hash: str | None = None
    ticket: FireTicket | None = None


def gated(
    func: Callable[..., Any] | None = None,
    /,
    *,
    sla: str | Any = "1d",
    on_timeout: str = "deny",
    tool_version: str | None = None,
    expires_at: datetime | str | None = None,
    raise_on_suspend: bool = False,
) -> Any:
    """Gate every call; park ``require_approval`` calls until approvers decide.

    Returns the body's result when it fires, ``heso.SUSPENDED`` while parked (or once the
    session already fired), ``heso.DENIED`` on a terminal refusal. ``sla`` (``"30m"``,
    ``"1d"``, a ``timedelta``) bounds the wait (a rule's ``sla_minutes`` can only shorten it);
    ``on_timeout`` (``deny``, ``escalate``, ``auto_approve``) applies at the deadline;
    ``expires_at`` is when the action may no longer fire at all; ``tool_version`` is bound into
    the approval. Pass ``_heso_session=`` to name the session (else one is generated; ``Paused``
    carries it); calling again with the same session resumes.
    """
    delta = _sla.parse_duration(sla, "sla")
    _sla.check_on_timeout(on_timeout)
    expiry = _sla.parse_time(expires_at, "expires_at") if expires_at is not None else None
    if tool_version is not None and not isinstance(tool_version, str):
        raise HesoConfigError("tool_version must be a string", key="tool_version")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        info = getattr(fn, "__heso_gate__", None)
        body = getattr(fn, "__wrapped__", fn) if info is not None else fn
        if inspect.isgeneratorfunction(body) or inspect.isasyncgenfunction(body):
            raise TypeError("@heso.gated cannot park a generator; gate a function that returns")
        options: dict[str, Any] = {}
        if info is not None:
            verb, tool_name = info.verb, info.tool_name
            options = {
                "redact_fields": info.redact,
                "domain": info.domain,
                "action_id": info.action_id,
            }
        else:
            verb, tool_name = Verb.TOOL_CALL, getattr(fn, "__name__", type(fn).__name__)
        options["approval_floor"] = True  # policy may block a call or pick who decides it
        spec = _Spec(
            verb, tool_name, delta, on_timeout, tool_version, expiry, raise_on_suspend, options
        )
        sig = inspect.signature(body)
        if "_heso_session" in sig.parameters:
            raise TypeError("_heso_session is reserved by @heso.gated")
        fields_of = signature_binder(sig)

        if inspect.iscoroutinefunction(body):

            async def async_wrapper(
                *args: Any, _heso_session: str | None = None, **kwargs: Any
            ) -> Any:
                plan = _begin(spec, _heso_session, fields_of(args, kwargs))
                if not plan.fire:
                    return plan.value
                with _fired(plan):
                    return await body(*args, **kwargs)

            wrapper: Callable[..., Any] = async_wrapper
        else:

            def sync_wrapper(*args: Any, _heso_session: str | None = None, **kwargs: Any) -> Any:
                plan = _begin(spec, _heso_session, fields_of(args, kwargs))
                if not plan.fire:
                    return plan.value
                with _fired(plan):
                    return body(*args, **kwargs)

            wrapper = sync_wrapper
        functools.update_wrapper(wrapper, fn)
        wrapper.__signature__ = sig  # type: ignore[attr-defined]
        wrapper.__heso_gated__ = spec  # type: ignore[attr-defined]
        return wrapper

    return decorate(func) if func is not None else decorate


def _identity(spec: _Spec) -> dict[str, Any]:
    """What a session binds besides the arguments."""
    return {"tool_name": spec.tool_name, "tool_version": spec.tool_version, "verb": spec.verb.value}


def _begin(spec: _Spec, session: str | None, fields: dict[str, Any]) -> _Plan:
    runtime = _config.current()
    session = check_session(session) if session is not None else new_session_id()
    store = _session.store_of(runtime)
    now = _sla.clock(runtime)
    _session.registry_of(runtime)  # a broken [approvers] table fails before anything is chained
    with store.locked(session):
        if not store.exists(session):
            plan = _first_call(runtime, store, spec, session, fields, now)
            if plan is not None:
                return plan
        return _resume(runtime, store, spec, session, fields, now)


def _first_call(
    runtime: Runtime,
    store: ApprovalStore,
    spec: _Spec,
    session: str,
    fields: dict[str, Any],
    now: datetime,
) -> _Plan | None:
    secret = store.create_session(session)
    try:
        # This call opens its own session (it holds the lock and knows the name).
        outcome = capture(
            spec.verb, spec.tool_name, fields, approval_session=session, **spec.options
        )
    except HesoError as exc:
        if runtime.config.blocking or isinstance(exc, HesoConfigError):
            raise
        log.error("heso gate failed in observe-only mode: %s", exc)
        return _Plan(True, session=session)
    assert outcome.receipt is not None
    bound = _binding.bind(
        secret, _identity(spec), fields, outcome.receipt["content"]["action"]["fields"]
    )
    kind = {
        OutcomeKind.SUSPENDED: "suspended",
        OutcomeKind.ALLOWED: "allowed",
        OutcomeKind.BLOCKED: "blocked",
    }[outcome.kind]
    decision = outcome.decision
    delta = spec.sla
    minutes = getattr(decision, "sla_minutes", None)
    if kind == "suspended" and minutes:
        delta = min(delta, timedelta(minutes=minutes))
    record = _session.opening_record(
        kind,
        session,
        outcome.receipt,
        at=_sla.parse_time(outcome.receipt["content"]["captured_at"]),
        link=_session.chain_link(runtime, outcome.action_hash or "", outcome.entry),
        decision=decision,
        sla_delta=delta,
        on_timeout=spec.on_timeout,
        expires_at=spec.expires_at,
        binding=bound.digest,
        tool_version=spec.tool_version,
        observe_only=not outcome.blocking and kind != "allowed",
    )
    _session.open_session(runtime, store, session, record)
    _binding.remember(runtime.config.data_dir, session, bound)
    return None


def _resume(
    runtime: Runtime,
    store: ApprovalStore,
    spec: _Spec,
    session: str,
    fields: dict[str, Any],
    now: datetime,
) -> _Plan:
    st = _session.state(runtime, store, session, now)
    assert st is not None
    if st.binding is None:
        raise ApprovalError(
            f"session {session!r} was not opened by a @heso.gated call, so no gated call can "
            "resume it: it fires when its own call is made again (heso.resume() reports where "
            "it stands)"
        )
    data_dir = runtime.config.data_dir
    bound = _binding.bind(
        store.binding_secret(session),
        _identity(spec),
        fields,
        st.receipt["content"]["action"]["fields"],
    )
    held = _binding.remembered(data_dir, session)
    if bound.digest != st.binding or (held is not None and held != bound.destroyed):
        record = {
            "kind": "drift",
            "at": _sla.stamp(now),
            "action_hash": st.action_hash,
            "binding": bound.digest,
            "reason": "the call's arguments or tool_version differ from the suspended action",
        }
        store.append(session, operator_record(record, runtime.key))
        log.warning(
            "heso refused session %r: its arguments differ from the action %s that was "
            "suspended for approval",
            session,
            st.action_hash[:12],
        )
        return _Plan(False, DENIED, session, st.action_hash)
    settled = _session.settle(runtime, store, session, now, on_rotation="log")
    assert settled is not None
    st = settled
    if st.status in TERMINAL:
        return _Plan(False, DENIED, session, st.action_hash)
    if st.status in (ApprovalStatus.FIRED, ApprovalStatus.COMPLETED) or store.fire_claimed(session):
        return _Plan(False, SUSPENDED, session, st.action_hash)
    if st.status != ApprovalStatus.APPROVED:
        return _park(spec, st)
    if bound.destroyed is not None and held is None:
        raise ApprovalError(
            f"session {session!r} cannot be resumed here: {spec.tool_name}() has arguments "
            "redacted with destroy, and heso keeps no trace of their values on disk, so only "
            "the process that suspended the call can check that they are the approved ones; "
            "redact them with commit to resume from any process"
        )
    ticket = claim(runtime, store, st, now)
    if ticket is None:
        return _Plan(False, SUSPENDED, session, st.action_hash)
    _binding.forget(data_dir, session)
    return _Plan(True, session=session, action_hash=st.action_hash, ticket=ticket)


def _park(spec: _Spec, st: SessionState) -> _Plan:
    if not spec.raise_on_suspend:
        return _Plan(False, SUSPENDED, st.session, st.action_hash)
    short = st.action_hash[:12]
    groups = list(st.groups)
    deadline = _sla.stamp(st.deadline) if st.deadline else None
    raise Paused(
        f"heso parked {spec.tool_name!r} for approval (rule {st.opening.get('rule_id')}, "
        f"session {st.session!r}, action {short}, decide by {deadline}). Next: an approver in "
        f"{groups} runs `heso approve {short} --as <name>`; then call again with "
        f"_heso_session={st.session!r}",
        session=st.session,
        action_hash=st.action_hash,
        rule_id=st.opening.get("rule_id"),
        reason=st.receipt["content"]["policy"].get("rule_display") or st.status,
        approvers=groups,
        deadline=deadline,
    )


def _fired(plan: _Plan) -> AbstractContextManager[Any]:
    """Run the body with ``current_action_hash()`` set; the ticket records how it completed."""
    return plan.ticket if plan.ticket is not None else action_hash_scope(plan.action_hash)


# -- the session API --------------------------------------------------------------------------


class ResumeOutcome(str):
    """What :func:`resume` found. It *is* the session's decision (``"suspended"``,
    ``"escalated"``, ``"approved"``, ``"denied"``, ``"expired"``, ``"completed"``: compare
    it with a string), and carries the details."""

    session: str
    action_hash: str
    fired: bool
    """The action fired (its firing receipt is chained); a bare resume never fires it."""
    trust_level: str | None
    """``L1``/``L0`` of the firing, once fired."""
    receipt: Mapping[str, Any]
    """The receipt the action fired with, once fired (a replay); else the suspended one."""

    def __new__(
        cls,
        decision: str,
        *,
        session: str,
        action_hash: str,
        fired: bool,
        trust_level: str | None,
        receipt: Mapping[str, Any],
    ) -> ResumeOutcome:
        out = super().__new__(cls, decision)
        out.session, out.action_hash, out.fired = session, action_hash, fired
        out.trust_level, out.receipt = trust_level, receipt
        return out

    @property
    def decision(self) -> str:
        """The decision, as a plain string."""
        return str.__str__(self)

    def __repr__(self) -> str:
        return (
            f"ResumeOutcome({self.decision!r}, session={self.session!r}, "
            f"action_hash={self.action_hash[:12]!r}, fired={self.fired})"
        )


def resume(session: str, *, now: datetime | str | None = None) -> ResumeOutcome | None:
    """Bring ``session`` up to date without running its body: record due timeouts (and, when
    the operator key rotated since an approved action was suspended, suspend it again under
    the current key). ``None`` for an unknown session. An approved action fires, and its L1
    receipt is chained, when its call is made again (the gated function with the session, or
    the same call through ``@heso.tool``, ``heso.wrap`` or an adapter); once fired, the
    outcome replays the receipt it fired with."""
    runtime = _config.current()
    st = _update(session, now, functools.partial(_session.settle, on_rotation="log"))
    if st is None:
        return None
    fired = st.fired is not None or st.status in (ApprovalStatus.FIRED, ApprovalStatus.COMPLETED)
    receipt = _session.firing_receipt(runtime, st) if fired else None
    return ResumeOutcome(
        st.decision,
        session=st.session,
        action_hash=st.action_hash,
        fired=fired,
        trust_level=(st.fired or {}).get("trust_level"),
        receipt=receipt or st.receipt,
    )


def decision(session: str, *, now: datetime | str | None = None) -> str | None:
    """``approved``, ``denied``, ``expired``, ``escalated``, ``completed``, ``suspended``, or
    ``None`` for an unknown session. Records any timeout that took effect."""
    st = _update(session, now, _record_timeouts)
    return st.decision if st is not None else None


def wait(session: str, *, timeout: float = 60.0) -> str | None:
    """Block until ``session`` is no longer awaiting a decision, or ``timeout`` seconds pass;
    returns :func:`decision` then (``suspended`` on timeout, ``None`` for an unknown session).

    A decision made on any host is seen at once on the PostgreSQL store (LISTEN/NOTIFY) and
    within a fraction of a second on the file store (polling).
    """
    import time

    store = _session.store_of(_config.current())
    session = check_session(session)
    deadline = time.monotonic() + max(float(timeout), 0.0)
    while True:
        seen = len(store.lines(session))
        state = decision(session)
        left = deadline - time.monotonic()
        if state != "suspended" or left <= 0:
            return state
        store.wait_for_change(session, seen, left)


def _update(
    session: str,
    now: datetime | str | None,
    step: Callable[[Any, ApprovalStore, str, datetime], SessionState | None],
) -> SessionState | None:
    """Run ``step`` on ``session`` at ``now``, under its lock; the resulting state."""
    runtime = _config.current()
    store = _session.store_of(runtime)
    moment = _sla.parse_time(now, "now") if now is not None else _sla.clock(runtime)
    session = check_session(session)
    if not store.exists(session):
        return None
    with store.locked(session):
        return step(runtime, store, session, moment)


def _record_timeouts(
    runtime: Runtime, store: ApprovalStore, session: str, now: datetime
) -> SessionState | None:
    st = _session.state(runtime, store, session, now)
    if st is not None and st.due and runtime.identity == st.operator:
        for timeout in st.due:
            store.append(session, operator_record(timeout, runtime.key))
            telemetry.approval_event(runtime, session, timeout, state=st)
    return st


def append_decision(
    session: str,
    kind: str,
    *,
    reason: str | None = None,
    decided_at: datetime | str | None = None,
) -> str:
    """Record a decision made outside heso's approver flow (``approved``, ``denied``,
    ``expired``, ``escalated``), signed by the operator key. An operator approval fires the
    action with its L0 receipt: only approvers' co-signatures make L1. Returns
    :func:`decision`."""
    return _session.decide(
        _config.current(), check_session(session), kind, reason=reason, decided_at=decided_at
    )
