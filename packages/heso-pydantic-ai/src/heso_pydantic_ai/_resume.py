"""Re-entry of a suspended action after the framework says "approved".

Framework-neutral: given a tool call, find the pending approval heso opened when the same call
was suspended (session ``action-<action_hash>``), prove that the call *is* that action, and
claim its one firing through the approvals store. The framework's word alone never fires
anything: only a session whose approvers (or the operator) approved in heso does.

"The same action" means: the receipt content the core minted at suspension, rebuilt from this
call with the recorded ``captured_at``, identity, policy and redaction commitments (opened with
the salts from the reveal store), has the same ``action_hash``. A destroyed field cannot be
compared, so an action with one never matches (fail closed).

The session records ``fired`` and ``completed`` exactly as ``@heso.gated`` does (signed by the
operator key through ``heso.approvals.decisions``), so ``heso approvals`` reports both alike.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from heso import config as _config
from heso import fieldpath
from heso.action import Action, Verb
from heso.approvals import session as _session
from heso.approvals import sla as _sla
from heso.approvals.decisions import operator_record
from heso.approvals.state import APPROVED, COMPLETED, FIRED, OPEN, SessionState
from heso.canonical import to_json_value
from heso.capture import action_hash_scope
from heso.errors import BlockedError, GateRefusal, OperatorKeyMismatchError, SuspendedError
from heso.receipt import action_block, build_content, compute_action_hash
from heso.redaction import MARKER_KEY, RevealEntry, is_marker, verify_reveal
from heso.steps import current_step

HINT_KEY = "heso"
"""The key of heso's entry in a deferred call's metadata (``{"heso": {"action_hash": ...}}``)."""

_PREFERENCE = {APPROVED: 0, **{status: 1 for status in OPEN}}


@dataclass(frozen=True)
class Suspended:
    """A suspended action this call matches, and where its session stands."""

    session: str
    state: SessionState

    @property
    def action_hash(self) -> str:
        return self.state.action_hash


def find(
    verb: Verb, tool_name: str, fields: Mapping[str, Any], *, hint: str | None = None
) -> Suspended | None:
    """The suspended action this call is, or ``None`` when heso never suspended it.

    ``hint`` (an ``action_hash`` carried in the framework's deferred metadata) is checked
    first; otherwise every session heso opened for a suspended action is considered. Among
    several matches (the same call suspended more than once) an approved one wins, then one
    still open, then the newest.
    """
    runtime = _config.current()
    store = _session.store_of(runtime)
    now = _sla.clock(runtime)
    values = to_json_value(dict(fields), path="fields")
    frame = current_step()
    cfg = runtime.config
    action = Action(
        verb=verb,
        tool_name=tool_name,
        fields=values,
        workflow=(frame.workflow if frame else None) or cfg.workflow,
        account=(frame.account if frame else None) or cfg.account,
    )
    sessions = {h: s for h, s in store.all_hashes() if s.startswith(_session.AUTO_SESSION_PREFIX)}
    hinted = sessions.get(hint) if hint is not None else None
    order = ([hinted] if hinted else []) + sorted(set(sessions.values()) - {hinted})
    matches: list[Suspended] = []
    for session in order:
        st = _session.state(runtime, store, session, now)
        if st is None or st.opening.get("observe_only"):
            continue
        if _is(action, st, runtime.reveal):
            if session == hinted:
                return Suspended(session, st)
            matches.append(Suspended(session, st))
    newest_first = sorted(
        matches, key=lambda m: m.state.receipt["content"]["captured_at"], reverse=True
    )
    return min(newest_first, key=lambda m: _PREFERENCE.get(m.state.status, 2), default=None)


def _is(action: Action, st: SessionState, reveal: Any) -> bool:
    """Whether ``action`` rebuilt with the recorded content has the recorded ``action_hash``."""
    content = st.receipt["content"]
    recorded = content["action"]
    if (recorded.get("verb"), recorded.get("tool_name")) != (action.verb.value, action.tool_name):
        return False
    # A re-suspension (rotated operator key) keeps the fields; their salts stay filed under
    # the first action_hash.
    salts = [e for h in (st.action_hash, *st.superseded) for e in reveal.lookup(h)]
    shown = _mask(action.fields, recorded.get("fields"), salts)
    if shown is None:
        return False
    rebuilt = build_content(
        captured_at=content["captured_at"],
        agent_identity=content["agent_identity"],
        action=action_block(action, shown),
        policy=content["policy"],
        trust_level=content["trust_level"],
    )
    return compute_action_hash(rebuilt) == content["action_hash"]


def _mask(values: Any, recorded: Any, salts: list[RevealEntry]) -> Any:
    """``values`` with each recorded commitment substituted once the value opens it, deepest
    first (as the core redacts); ``None`` when a value does not open its commitment or a field
    was destroyed."""
    if _has_destroyed(recorded):
        return None
    latest = {e.path: e for e in salts[::-1]}
    entries = sorted(latest.values(), key=lambda e: (-len(fieldpath.parse(e.path)), e.path))
    shown = copy.deepcopy(values)
    for entry in entries:
        segments = fieldpath.parse(entry.path)
        marker = {MARKER_KEY: "commit", "commitment": entry.commitment}
        value = fieldpath.get(shown, segments)
        if value is fieldpath.MISSING or not verify_reveal(marker, value, entry.salt):
            return None
        shown = _replace(shown, segments, marker)
    return shown


def _has_destroyed(node: Any) -> bool:
    if is_marker(node):
        return bool(node[MARKER_KEY] == "destroy")
    if isinstance(node, Mapping):
        return any(_has_destroyed(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_destroyed(v) for v in node)
    return False


def _replace(root: Any, segments: tuple[fieldpath.Segment, ...], value: Any) -> Any:
    parent = fieldpath.get(root, segments[:-1]) if len(segments) > 1 else root
    last = segments[-1]
    if isinstance(parent, dict):
        parent[str(last)] = value
    elif isinstance(parent, list) and isinstance(last, int):
        parent[last] = value
    return root


# -- firing -----------------------------------------------------------------------------------


@contextlib.contextmanager
def fire(found: Suspended) -> Iterator[str]:
    """Claim the one firing of ``found`` and run the ``with`` body as it.

    Raises the refusal instead when heso has not approved it: ``SuspendedError`` while the
    approvers have not decided, ``BlockedError`` when they denied it, it expired, or it
    already fired (exactly once). Settling first finalizes the L1 receipt of an approvers'
    approval. The body runs with ``heso.current_action_hash()`` set; the session records
    ``fired`` before it and ``completed`` after it, as for ``@heso.gated``.
    """
    runtime = _config.current()
    store = _session.store_of(runtime)
    session = found.session
    now = _sla.clock(runtime)
    with store.locked(session):
        try:
            st = _session.settle(runtime, store, session, now)
        except OperatorKeyMismatchError:
            st = _session.state(runtime, store, session, now)  # re-suspended under a new hash
        assert st is not None
        approved = (
            st.status == APPROVED
            and st.approved_by != "observe-only"
            and st.action_hash == found.action_hash
        )
        claim = {"action_hash": st.action_hash, "at": _sla.stamp(now), "pid": os.getpid()}
        if not approved or not store.claim_fire(session, claim):
            raise refusal(_session.state(runtime, store, session, now) or st, claimed=approved)
        fired = {
            "kind": "fired",
            "at": _sla.stamp(now),
            "action_hash": st.action_hash,
            "approved_by": st.approved_by,
            "trust_level": "L1" if st.finalized is not None else "L0",
            "pid": os.getpid(),
        }
        store.append(session, operator_record(fired, runtime.key))
        store.set_open(st.action_hash, session, False)
    completed: dict[str, Any] = {"kind": "completed", "action_hash": st.action_hash}
    try:
        with action_hash_scope(st.action_hash):
            yield st.action_hash
        completed["status"] = "ok"
    except BaseException as exc:
        completed.update(status="error", error=type(exc).__name__)
        raise
    finally:
        completed["at"] = _sla.stamp(_sla.clock(runtime))
        with store.locked(session):
            store.append(session, operator_record(completed, runtime.key))


def refusal(st: SessionState, *, claimed: bool = False) -> GateRefusal:
    """Why a suspended action may not fire now (``claimed``: another caller won its firing)."""
    rule_id = st.opening.get("rule_id")
    display = st.receipt["content"]["policy"].get("rule_display") or rule_id
    short = st.action_hash[:12]
    if st.status in OPEN and not claimed:
        return SuspendedError(
            f"heso has no approval for {st.receipt['content']['action']['tool_name']!r} yet "
            f"(rule {rule_id}, receipt {short}); the framework's approval alone never runs it. "
            f"Next: an approver ({', '.join(st.groups)}) runs `heso approve {short} --as "
            "<name>`; then resume again",
            action_hash=st.action_hash,
            rule_id=rule_id,
            reason=display,
            approvers=list(st.groups),
        )
    once = claimed or st.status in (FIRED, COMPLETED)
    why = "it already ran once" if once else f"the approval was {st.decision}"
    return BlockedError(
        f"heso refused {st.receipt['content']['action']['tool_name']!r}: {display}: {why} "
        f"(rule {rule_id}, receipt {short})",
        action_hash=st.action_hash,
        rule_id=rule_id,
        reason=f"{display}: {why}",
    )


def hint_of(metadata: Any) -> str | None:
    """The ``action_hash`` heso put in a deferred call's metadata, if it is there."""
    if isinstance(metadata, Mapping):
        entry = metadata.get(HINT_KEY)
        if isinstance(entry, Mapping) and isinstance(entry.get("action_hash"), str):
            return str(entry["action_hash"])
    return None
