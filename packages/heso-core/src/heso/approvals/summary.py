"""One session as the CLI (``heso approvals list/show --json``) and the console show it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from heso.approvals import sla
from heso.approvals.registry import Registry
from heso.approvals.state import SessionState, survey
from heso.approvals.store import ApprovalStore
from heso.errors import LifecycleError


def summary(st: SessionState, registry: Registry, now: datetime) -> dict[str, Any]:
    """An action awaiting (or past) approval: what it is, the rule that parked it, each
    eligible group's progress, and its deadline."""
    content = st.receipt["content"]
    action = content["action"]
    out: dict[str, Any] = {
        "action_hash": st.action_hash,
        "session": st.session,
        "status": st.decision,
        "open": st.is_open,
        "verb": action["verb"],
        "tool_name": action["tool_name"],
        "workflow": action["workflow"],
        "account": action["account"],
        "fields": action.get("fields", {}),
        "rule_id": content["policy"]["rule_id"],
        "rule_display": content["policy"].get("rule_display", ""),
        "captured_at": content["captured_at"],
        "on_timeout": st.on_timeout,
        "groups": [],
        "approvals": [
            {"approver": leg.approver, "group": leg.group, "at": leg.at}
            for legs in st.legs.values()
            for leg in legs.values()
        ],
    }
    for g, (n, k) in st.progress(registry).items():
        group = registry.groups.get(g)
        out["groups"].append(
            {
                "group": g,
                "approvals": n,
                "threshold": k,
                "defined": k is not None,
                "members": sorted(group.members) if group else [],
            }
        )
    if st.deadline is not None:
        out["deadline"] = sla.stamp(st.deadline)
        out["sla_left_seconds"] = int((st.deadline - now).total_seconds())
        out["sla_left"] = sla.describe_left(st.deadline, now)
    if st.expires_at is not None:
        out["expires_at"] = sla.stamp(st.expires_at)
    if st.approved_by is not None:
        out["approved_by"] = st.approved_by
    out["rejected"] = len(st.rejected)
    return out


def summaries(
    store: ApprovalStore, registry: Registry, now: datetime, *, include_all: bool = False
) -> list[dict[str, Any]]:
    """Every open action's :func:`summary` (``include_all``: every one ever suspended); a
    lifecycle that does not verify is a ``"corrupt"`` row naming why."""
    rows: list[dict[str, Any]] = []
    for action_hash, session, st in survey(store, registry, now):
        if isinstance(st, LifecycleError):
            corrupt = {"action_hash": action_hash, "session": session, "status": "corrupt"}
            rows.append({**corrupt, "error": str(st)})
            continue
        if st.action_hash != action_hash or (not include_all and not st.is_open):
            continue
        rows.append(summary(st, registry, now))
    return rows


__all__ = ["summaries", "summary"]
