"""The one capture path: every surface (decorators, ``wrap``, ``process``, adapters) calls it.

``capture`` decides, signs and chains an action and returns an :class:`Outcome`; ``gate`` does
the same and raises the refusal when blocking is on. ``with gate(...) as outcome:`` runs the
block as the action (:func:`current_action_hash` set; an approved firing records how the block
ended). Identical inputs give byte-identical receipt content whichever surface captured them.
"""

from __future__ import annotations

import enum
import functools
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from heso import config as _config
from heso import telemetry as _telemetry
from heso.action import Action, Verb
from heso.action_scope import action_hash_scope, current_action_hash
from heso.captured import captured_action
from heso.errors import (
    BlockedError,
    BridgeError,
    GateRefusal,
    HesoConfigError,
    HesoError,
    SuspendedError,
)
from heso.ledger.format import Entry
from heso.policy import DEFAULT_RULE_ID, Decision, DecisionKind, floor_rule_id
from heso.receipt import action_block, format_timestamp, mint_content
from heso.redaction import merge_redact_specs, normalize_redact_spec, redact

if TYPE_CHECKING:
    from heso.approvals.reentry import FireTicket

log = logging.getLogger("heso.capture")
_decisions = _telemetry.log
_INFO = logging.INFO

_DEFAULT = "default"
GATED_FLOOR_RULE_ID = floor_rule_id("gated")
"""``rule_id`` of a ``@heso.gated`` call that policy allowed: a person still approves it."""


class OutcomeKind(str, enum.Enum):
    """What the gate decided."""

    ALLOWED = "allowed"
    BLOCKED = "blocked"
    SUSPENDED = "suspended"
    APPROVED = "approved"
    """Policy requires approval, and this very call was suspended before and approved since:
    it runs now as that action's one firing (``Outcome.ticket``), with its L1 receipt."""
    FAILED = "failed"
    """The gate itself failed in observe-only mode; nothing was recorded."""

    def __str__(self) -> str:
        return self.value


_RUNS = (OutcomeKind.ALLOWED, OutcomeKind.APPROVED)
_ALLOWED = OutcomeKind.ALLOWED
_ALLOW = DecisionKind.ALLOW

_KIND_OF = {
    DecisionKind.ALLOW: OutcomeKind.ALLOWED,
    DecisionKind.BLOCK: OutcomeKind.BLOCKED,
    DecisionKind.REQUIRE_APPROVAL: OutcomeKind.SUSPENDED,
}


@dataclass(frozen=True, init=False)
class Outcome:
    """The result of gating one action."""

    kind: OutcomeKind
    blocking: bool
    action_hash: str | None = None
    receipt: Mapping[str, Any] | None = None
    decision: Decision | None = None
    entry: Entry | None = None
    error: BaseException | None = None
    ticket: FireTicket | None = None
    """For ``APPROVED``: the claimed firing (:class:`heso.approvals.reentry.FireTicket`);
    ``with outcome.ticket:`` runs the body and records how it ended."""

    def __init__(
        self,
        kind: OutcomeKind,
        blocking: bool,
        action_hash: str | None = None,
        receipt: Mapping[str, Any] | None = None,
        decision: Decision | None = None,
        entry: Entry | None = None,
        error: BaseException | None = None,
        ticket: FireTicket | None = None,
    ) -> None:
        # One dict update instead of a frozen dataclass's eight object.__setattr__ calls: the
        # gate makes one of these per call.
        self.__dict__.update(
            kind=kind,
            blocking=blocking,
            action_hash=action_hash,
            receipt=receipt,
            decision=decision,
            entry=entry,
            error=error,
            ticket=ticket,
        )

    @property
    def allowed(self) -> bool:
        """Policy allowed the action."""
        return self.kind is OutcomeKind.ALLOWED

    @property
    def runs(self) -> bool:
        """Whether the body may run: allowed, approved, or observe-only mode."""
        return self.kind in _RUNS or not self.blocking

    @property
    def rule_id(self) -> str | None:
        """The deciding rule."""
        return self.decision.rule_id if self.decision is not None else None

    @property
    def reason(self) -> str:
        """Human text for the decision (the rule's display text)."""
        if self.decision is None:
            return str(self.error or "")
        return self.decision.rule_display or self.decision.rule_id

    def refusal(self) -> GateRefusal | None:
        """The error a blocking gate raises for this outcome, if any."""
        if self.kind is OutcomeKind.BLOCKED:
            return BlockedError(
                f"heso blocked {self._name()}: {self.reason} (rule {self.rule_id}, "
                f"receipt {self._short()})",
                action_hash=self.action_hash,
                rule_id=self.rule_id,
                reason=self.reason,
            )
        if self.kind is OutcomeKind.SUSPENDED:
            approvers = list(self.decision.approvers) if self.decision else []
            who = ", ".join(approvers) if approvers else "the policy's approvers"
            return SuspendedError(
                f"heso suspended {self._name()} for approval: {self.reason} (rule "
                f"{self.rule_id}, receipt {self._short()}). Next: an approver ({who}) runs "
                f"`heso approve {self._short()} --as <name>`; then call again to resume",
                action_hash=self.action_hash,
                rule_id=self.rule_id,
                reason=self.reason,
                approvers=approvers,
            )
        return None

    def raise_for_refusal(self) -> None:
        """Raise the refusal when blocking is on and policy did not allow the action."""
        if self.blocking and self.kind is not OutcomeKind.ALLOWED:
            refusal = self.refusal()
            if refusal is not None:
                raise refusal

    @functools.cached_property
    def _scope(self) -> FireTicket | action_hash_scope:
        # Kept in the instance's __dict__ (cached_property bypasses the frozen __setattr__);
        # not a field: equality, hash and repr ignore it.
        return self.ticket if self.ticket is not None else action_hash_scope(self.action_hash)

    def __enter__(self) -> Outcome:
        """Run the ``with`` block as this action: :func:`current_action_hash` set, and for an
        approved firing, ``completed`` recorded when the block ends."""
        self._scope.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._scope.__exit__(*exc)

    async def __aenter__(self) -> Outcome:
        return self.__enter__()

    async def __aexit__(self, *exc: Any) -> None:
        self.__exit__(*exc)

    def _name(self) -> str:
        if self.receipt is None:
            return "the action"
        action = self.receipt["content"]["action"]
        return f"{action['verb']} {action['tool_name']!r}"

    def _short(self) -> str:
        return (self.action_hash or "")[:12]


_second: tuple[int, str] = (-1, "")
"""The last whole second :func:`_now` formatted, and its text."""


def _now(now_ns: int | None = None) -> str:
    """``now_ns`` (default: the current time) in UTC as :func:`heso.receipt.format_timestamp`
    writes it (``Z``, microseconds only when non-zero). The date and time of day are formatted
    once per second."""
    global _second
    sec, ns = divmod(time.time_ns() if now_ns is None else now_ns, 1_000_000_000)
    cached = _second
    if cached[0] == sec:
        text = cached[1]
    else:
        text = format_timestamp(datetime.fromtimestamp(sec, timezone.utc))[:-1]
        _second = (sec, text)
    us = ns // 1000
    return f"{text}.{us:06d}Z" if us else text + "Z"


def capture(
    verb: Verb | str,
    tool_name: str,
    fields: Mapping[str, Any] | None = None,
    *,
    workflow: str | None = None,
    account: str | None = None,
    agent: str | None = None,
    redact_fields: Any = None,
    domain: str | None = None,
    action_id: str | None = None,
    approval_floor: bool = False,
    reenter: bool = False,
    approval_session: str | None = None,
) -> Outcome:
    """Decide, sign and chain one action; never raises for a refusal (but see ``reenter``).

    ``workflow``/``account`` default to the innermost :func:`heso.step`, then the config.
    ``redact_fields`` (field paths, or paths to strategies) adds to ``[heso] redact`` and the
    enclosing step's. ``approval_floor`` raises an ``allow`` to ``require_approval``
    (``@heso.gated``: a human decides every call). ``reenter`` (what :func:`gate` passes):
    when policy requires approval and blocking is on, a call that was suspended before is
    re-entered instead of suspended anew (:func:`heso.approvals.pending.reenter`): approved,
    it returns ``APPROVED`` with the claimed firing; else it raises the refusal. A
    ``require_approval`` verdict opens the pending approval ``action-<action_hash>``
    (:func:`heso.approvals.pending.park`), unless the call belongs to the ``@heso.gated``
    session ``approval_session``, whose caller records the action's lifecycle itself.
    Raises ``HesoConfigError`` before :func:`heso.init`, ``CanonicalizationError`` when a
    field value has no JSON form, and ``BridgeError`` (``__cause__`` set) when the core fails.
    """
    return _capture(
        verb,
        tool_name,
        fields,
        workflow,
        account,
        agent,
        redact_fields,
        domain,
        action_id,
        approval_floor,
        reenter,
        approval_session,
    )


def _capture(
    verb: Verb | str,
    tool_name: str,
    fields: Mapping[str, Any] | None,
    workflow: str | None,
    account: str | None,
    agent: str | None,
    redact_fields: Any,
    domain: str | None,
    action_id: str | None,
    approval_floor: bool,
    reenter: bool,
    approval_session: str | None,
) -> Outcome:
    """:func:`capture` with every argument in order (the decorators' per-call path binds
    positional arguments faster than keywords)."""
    start_ns = time.time_ns()
    rt = _config.current()
    cfg = rt.config
    action, frame = captured_action(
        cfg, verb, tool_name, fields, workflow, account, agent, domain, action_id
    )
    verb, values = action.verb, action.fields
    spec = cfg.redact
    if frame is not None and frame.redact:
        spec = merge_redact_specs(spec, frame.redact) if spec else frame.redact
    if redact_fields:
        extra = normalize_redact_spec(redact_fields)
        spec = merge_redact_specs(spec, extra) if spec else extra
    stage = "evaluating the policy"
    try:
        decision = rt.policy.evaluate(action)
        if approval_floor and decision.kind is DecisionKind.ALLOW:
            decision = _approval_floor(decision, rt.policy.settings)
        kind = _ALLOWED if decision.kind is _ALLOW else _KIND_OF[decision.kind]
        if kind is OutcomeKind.SUSPENDED and reenter and cfg.blocking:
            stage = "looking up an earlier suspension"
            from heso.approvals import pending  # loaded on the first require_approval verdict

            ticket = pending.reenter(rt, action)
            if ticket is not None:
                return Outcome(
                    OutcomeKind.APPROVED,
                    True,
                    action_hash=ticket.action_hash,
                    receipt=ticket.receipt,
                    decision=decision,
                    entry=ticket.entry,
                    ticket=ticket,
                )
        shown: Mapping[str, Any] = values
        commitments = None
        if spec:
            stage = "redacting fields"
            shown, commitments = redact(values, spec)
        stage = "signing the receipt"
        receipt = mint_content(
            cfg.clock_override or _now(start_ns),
            rt.identity,
            action_block(action, shown),
            decision.policy_block(),
            rt.key,
        )  # = mint(build_content(...)), one step
        action_hash = receipt["content"]["action_hash"]
        if commitments:
            stage = "storing redaction salts"
            rt.reveal.add(action_hash, commitments)
        stage = "writing the audit chain"
        entry = rt.ledger.append(receipt)
        if _telemetry.tracer is not None or kind is not _ALLOWED or _decisions.isEnabledFor(_INFO):
            _telemetry.gate_decided(kind, cfg.blocking, receipt, entry, start_ns, approval_session)
        if kind is OutcomeKind.SUSPENDED and approval_session is None:
            stage = "opening the approval"
            from heso.approvals import pending

            pending.park(rt, receipt, decision)
    except (HesoConfigError, BridgeError, GateRefusal):
        raise
    except Exception as exc:
        raise BridgeError(
            f"the heso gate failed while {stage} for {verb.value} {tool_name!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return Outcome(kind, cfg.blocking, action_hash, receipt, decision, entry)


def _approval_floor(decision: Decision, settings: Any) -> Decision:
    """``decision`` (an ``allow``) raised to ``require_approval`` by ``@heso.gated``'s floor;
    the approvers and SLA are the policy's defaults."""
    because = "default allow" if decision.rule_id == DEFAULT_RULE_ID else f"rule {decision.rule_id}"
    return Decision(
        kind=DecisionKind.REQUIRE_APPROVAL,
        rule_id=GATED_FLOOR_RULE_ID,
        rule_display=f"@heso.gated floor: a person approves every call ({because} allowed it)",
        matched_conditions=decision.matched_conditions,
        decision_path=f"{decision.decision_path} > floor:gated=require_approval",
        approvers=tuple(settings.default_approvers),
        sla_minutes=settings.default_sla_minutes,
        lane=decision.lane,
        rule_decision=decision.rule_decision or decision.kind,
    )


def gate(
    verb: Verb | str,
    tool_name: str,
    fields: Mapping[str, Any] | None = None,
    **options: Any,
) -> Outcome:
    """:func:`capture`, then raise the refusal when blocking is on.

    Fail closed: with blocking on, any failure inside the gate raises, so the body never
    runs. Observe-only (``blocking=False``) never raises for a refusal or a core failure: the
    failure is logged and returned as ``OutcomeKind.FAILED``. Setup errors
    (``HesoConfigError``, e.g. no :func:`heso.init`) always raise.
    """
    try:
        outcome = capture(verb, tool_name, fields, reenter=True, **options)
    except (HesoConfigError, GateRefusal):
        raise
    except HesoError as exc:
        return _observe_failure(exc)
    outcome.raise_for_refusal()
    return outcome


def gate_call(
    verb: Verb,
    tool_name: str,
    fields: Mapping[str, Any],
    redact_fields: Any,
    domain: str | None,
    action_id: str | None,
) -> Outcome:
    """:func:`gate` for the decorators' per-call path (their options passed as they are)."""
    try:
        # workflow, account, agent: None; approval_floor False; reenter True; no session.
        outcome = _capture(
            verb,
            tool_name,
            fields,
            None,
            None,
            None,
            redact_fields,
            domain,
            action_id,
            False,
            True,
            None,
        )
    except (HesoConfigError, GateRefusal):
        raise
    except HesoError as exc:
        return _observe_failure(exc)
    if outcome.kind is not OutcomeKind.ALLOWED:
        outcome.raise_for_refusal()
    return outcome


def _observe_failure(exc: HesoError) -> Outcome:
    """Re-raise a gate failure, or in observe-only mode log it and let the action run."""
    rt = _config.active()
    if rt is None or rt.config.blocking:
        raise exc
    log.error("heso gate failed in observe-only mode; the action runs unrecorded: %s", exc)
    return Outcome(OutcomeKind.FAILED, False, error=exc)


def process(action: Action, *, redact_fields: Any = None) -> Outcome:
    """The imperative escape hatch: gate an :class:`~heso.action.Action` you built yourself.

    Raises the refusal when blocking is on, like every other surface; run the action only
    when it returns (``outcome.runs`` is then true). A ``workflow``/``account`` left at
    ``"default"`` falls through to the enclosing :func:`heso.step` and the config.
    """
    return gate(
        action.verb,
        action.tool_name,
        action.fields,
        workflow=None if action.workflow == _DEFAULT else action.workflow,
        account=None if action.account == _DEFAULT else action.account,
        agent=action.agent,
        redact_fields=redact_fields,
        domain=action.domain,
        action_id=action.action_id,
    )


__all__ = [
    "Outcome",
    "OutcomeKind",
    "action_hash_scope",
    "capture",
    "current_action_hash",
    "gate",
    "process",
]
