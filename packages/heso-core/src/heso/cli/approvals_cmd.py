"""``heso approvals list|show``, ``heso approve``, ``heso deny`` and ``heso approver new|show``.

None of these needs the operator key: an approver signs with their own key, and the
operator's runtime finalizes the L1 receipt when the action resumes.
"""

from __future__ import annotations

import argparse
from typing import Any

from heso.cli._output import add_json_flag, emit
from heso.display import escape as _e


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "approvals", help="list and inspect actions waiting for human approval"
    )
    verbs = p.add_subparsers(dest="approvals_command", metavar="SUBCOMMAND")
    ls = verbs.add_parser("list", help="actions awaiting a decision: action, rule, SLA left")
    ls.add_argument("--all", action="store_true", help="include decided and fired actions")
    _common(ls)
    ls.set_defaults(func=run_list)
    show = verbs.add_parser("show", help="one action: what it does, who decided, its lifecycle")
    show.add_argument("prefix", help="action_hash prefix")
    _common(show)
    show.set_defaults(func=run_show)
    p.set_defaults(func=lambda args: _usage(p))

    for verb, help_text in (
        ("approve", "approve an action with your approver key (co-signs it for an L1 receipt)"),
        ("deny", "deny an action with your approver key (it will not run)"),
    ):
        q = sub.add_parser(verb, help=help_text)
        q.add_argument("prefix", help="action_hash prefix (see `heso approvals list`)")
        q.add_argument(
            "--as", dest="approver", required=True, metavar="NAME", help="your approver name"
        )
        q.add_argument("--reason", help="why (signed into your decision record)")
        q.add_argument("--group", help="the group you decide for, when you are in several")
        _common(q)
        q.set_defaults(func=run_decide, decision="approved" if verb == "approve" else "denied")

    a = sub.add_parser("approver", help="create or show your approver key")
    averbs = a.add_subparsers(dest="approver_command", metavar="SUBCOMMAND")
    new = averbs.add_parser(
        "new", help="create an approver key (encrypted with HESO_APPROVER_PASSPHRASE)"
    )
    new.add_argument("name")
    add_json_flag(new)
    new.set_defaults(func=run_approver_new)
    ashow = averbs.add_parser("show", help="print an approver's public key")
    ashow.add_argument("name")
    add_json_flag(ashow)
    ashow.set_defaults(func=run_approver_show)
    a.set_defaults(func=lambda args: _usage(a))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", help="project root (default: discovered from the CWD)")
    add_json_flag(p)


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help()
    return 2


def _context(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    from heso.approvals import sla
    from heso.approvals.registry import load_project_registry
    from heso.cli._stores import approvals_of
    from heso.project import require_root

    root = require_root(args.project)
    return load_project_registry(root), approvals_of(args), sla.clock()


def _progress_text(summary: dict[str, Any]) -> str:
    parts = []
    for g in summary["groups"]:
        k = g["threshold"]
        parts.append(f"{g['group']} {g['approvals']}/{k}" if k else f"{g['group']} (undefined!)")
    return _e(", ".join(parts) or "-")


def _left_text(summary: dict[str, Any], now: Any) -> str:
    from heso.approvals import sla

    if "deadline" not in summary:
        return "-"
    return (
        sla.describe_left(sla.parse_time(summary["deadline"]), now) + f" → {summary['on_timeout']}"
    )


def run_list(args: argparse.Namespace) -> int:
    from heso.approvals.summary import summaries

    registry, store, now = _context(args)
    rows = summaries(store, registry, now, include_all=args.all)
    if args.json:
        emit(args, "", rows)
        return 0
    if not rows:
        emit(args, "no actions awaiting approval" if not args.all else "no approvals yet", rows)
        return 0
    lines = [f"{'ACTION':<13}{'STATUS':<11}{'TOOL':<28}{'RULE':<30}{'APPROVALS':<18}SLA"]
    for r in rows:
        if r["status"] == "corrupt":
            lines.append(f"{r['action_hash'][:12]:<13}corrupt    {_e(r['error'])}")
            continue
        tool = _e(f"{r['verb']} {r['tool_name']}")
        lines.append(
            f"{r['action_hash'][:12]:<13}{r['status']:<11}{tool[:27]:<28}"
            f"{_e(r['rule_id'])[:29]:<30}{_progress_text(r)[:17]:<18}{_left_text(r, now)}"
        )
    lines.append("approve with `heso approve <ACTION> --as <name>`; details: `heso approvals show`")
    rejected = [r for r in rows if r.get("rejected")]
    if rejected:
        shown = ", ".join(r["action_hash"][:12] for r in rejected[:5])
        lines.append(
            f"records that do not count (unsigned or invalid) sit beside {shown}: "
            "`heso approvals show <ACTION>` lists them"
        )
    emit(args, "\n".join(lines), rows)
    return 0


def run_show(args: argparse.Namespace) -> int:
    import json

    from heso.approvals.state import fold
    from heso.approvals.summary import summary
    from heso.errors import ApprovalError

    registry, store, now = _context(args)
    action_hash, session = store.resolve(args.prefix)
    st = fold(session, store.lines(session), registry, now)
    if st is None:
        raise ApprovalError(f"session {session!r} has no lifecycle")
    data = summary(st, registry, now)
    if st.action_hash != action_hash:
        data["superseded_by"] = st.action_hash
    data["action"] = st.receipt["content"]["action"]
    data["suspended_content"] = st.receipt["content"]
    data["relayed_parts"] = [leg.part for legs in st.legs.values() for leg in legs.values()]
    data["approvals"] = [
        {
            "approver": leg.approver,
            "group": leg.group,
            "at": leg.at,
            "reason": leg.part["record"].get("reason"),
        }
        for legs in st.legs.values()
        for leg in legs.values()
    ]
    data["rejected"] = [_rejected(r) for r in st.rejected]
    data["lifecycle"] = [
        {
            k: rec[k]
            for k in ("kind", "at", "by", "decision", "approver", "reason", "action_hash")
            if k in rec
        }
        for rec in st.records
    ]
    if st.decided is not None:
        data["decided"] = {k: v for k, v in st.decided.items() if k != "approval_signature"}
    if args.json:
        emit(args, "", data)
        return 0
    lines = [
        f"action     {action_hash}",
        f"status     {data['status']}" + (f" (by {_e(st.approved_by)})" if st.approved_by else ""),
        f"tool       {_e(data['verb'])} {_e(data['tool_name'])}  (workflow "
        f"{_e(data['workflow'])}, account {_e(data['account'])})",
        f"rule       {_e(data['rule_id'])}: {_e(data['rule_display'])}",
        f"session    {_e(session)}",
        f"captured   {data['captured_at']}",
        f"approvals  {_progress_text(data)}",
        f"deadline   {data.get('deadline', '-')} ({_left_text(data, now)})",
    ]
    if "superseded_by" in data:
        lines.append(f"superseded by {data['superseded_by']} (the operator key rotated)")
    lines.append(
        "fields     " + json.dumps(data["action"]["fields"], ensure_ascii=False, sort_keys=True)
    )
    for a in data["approvals"]:
        why = f": {_e(a['reason'])}" if a["reason"] else ""
        lines.append(f"  approved by {_e(a['approver'])} ({_e(a['group'])}) at {_e(a['at'])}{why}")
    for r in data["rejected"]:
        what = "decision" if r["kind"] == "decision" else f"{_e(str(r['kind']))} record"
        by = r["approver"]
        who = f" by {_e(str(by))}" if by else f" signed as {_e(str(r['signer']))}"
        lines.append(f"  REJECTED {what}{who}: {r['verdict']}: {_e(str(r['reason']))}")
    lines.append("lifecycle:")
    for rec in data["lifecycle"]:
        who = _e(str(rec.get("approver") or rec.get("by") or ""))
        what = _e(str(rec.get("decision", "")))
        lines.append(f"  {_e(str(rec.get('at', ''))):<28}{_e(str(rec['kind'])):<11}{what:<10}{who}")
    emit(args, "\n".join(lines), data)
    return 0


def _rejected(r: Any) -> dict[str, Any]:
    """A record that does not count, as ``show`` reports it."""
    record = r.part.get("record")
    signer = r.part.get("signer")
    record = record if isinstance(record, dict) else {}
    signer = signer if isinstance(signer, dict) else {}
    return {
        "kind": record.get("kind"),
        "approver": record.get("approver"),
        "signer": signer.get("key_id"),
        "at": record.get("at"),
        "verdict": r.verdict.code,
        "reason": r.verdict.reason,
    }


def run_decide(args: argparse.Namespace) -> int:
    from heso.approvals import sla
    from heso.approvals.decisions import approver_decision
    from heso.approvals.identity import check_name, load_approver
    from heso.approvals.state import fold
    from heso.approvals.status import ApprovalStatus
    from heso.errors import ApprovalError

    name = check_name(args.approver)
    registry, store, _ = _context(args)
    action_hash, session = store.resolve(args.prefix)
    st = fold(session, store.lines(session), registry, sla.clock())
    if st is None:
        raise ApprovalError(f"session {session!r} has no lifecycle")
    group = _pick_group(st, registry, name, args.group)
    key = load_approver(name)
    if key.public_key() != group.members[name]:
        raise ApprovalError(
            f"the key in your approver file ({key.public_key()}) is not the one registered for "
            f"{name!r} in [approvers.{group.name}] ({group.members[name]})"
        )
    with store.locked(session):
        now = sla.clock()
        st = fold(session, store.lines(session), registry, now)
        assert st is not None
        if st.action_hash != action_hash:
            raise ApprovalError(
                f"{action_hash[:12]} was superseded by {st.action_hash[:12]} (the operator key "
                "rotated); decide on the new action"
            )
        if not st.is_open:
            raise ApprovalError(f"{action_hash[:12]} is already {st.decision}; nothing to decide")
        if key.public_key() in st.legs.get(group.name, {}):
            raise ApprovalError(f"{name} already approved {action_hash[:12]} for {group.name!r}")
        part = approver_decision(
            key,
            approver=name,
            action_hash=action_hash,
            decision=args.decision,
            group=group.name,
            threshold=group.threshold,
            at=sla.stamp(now),
            reason=args.reason,
        )
        store.append(session, part)
        after = fold(session, store.lines(session), registry, now)
    assert after is not None
    count = len(after.legs.get(group.name, {}))
    data = {
        "action_hash": action_hash,
        "session": session,
        "approver": name,
        "group": group.name,
        "decision": args.decision,
        "approvals": count,
        "threshold": group.threshold,
        "status": after.decision,
        "record": part,
    }
    tool = _e(
        f"{st.receipt['content']['action']['verb']} {st.receipt['content']['action']['tool_name']}"
    )
    if args.decision == ApprovalStatus.DENIED:
        human = f"{name} denied {action_hash[:12]} ({tool}); it will not run"
    else:
        human = (
            f"{name} approved {action_hash[:12]} ({tool}) for {group.name}: "
            f"{count} of {group.threshold}"
        )
        if after.status is ApprovalStatus.APPROVED:
            met = "quorum met" if group.threshold > 1 else "approved"
            human += f"\n{met}: the action fires, with an L1 receipt, when its call is made again"
    emit(args, human, data)
    return 0


def _pick_group(st: Any, registry: Any, name: str, wanted: str | None) -> Any:
    from heso.errors import ApprovalError

    for g in st.groups:
        if g not in registry.groups:
            registry.group(g)  # raises the HesoConfigError that says how to define it
    eligible = registry.eligible(st.groups, name)
    if wanted is not None:
        eligible = [g for g in eligible if g.name == wanted]
    if not eligible:
        groups = ", ".join(st.groups) or "none"
        raise ApprovalError(
            f"{name!r} is not a registered member of the groups that may decide this action "
            f"({groups}" + (f", asked for {wanted!r}" if wanted else "") + ")"
        )
    return eligible[0]


def run_approver_new(args: argparse.Namespace) -> int:
    from heso.approvals.identity import new_approver

    path, public = new_approver(args.name)
    snippet = f'[approvers.<group>]\nmembers = {{ {args.name} = "{public}" }}'
    human = (
        f"created the approver key of {args.name}: {path} (encrypted with "
        f"HESO_APPROVER_PASSPHRASE; keep it on this device)\npublic key: {public}\n"
        f"register it in the project's heso.toml:\n\n{snippet}"
    )
    emit(
        args,
        human,
        {
            "name": args.name,
            "path": str(path),
            "public_key": str(public),
            "did_key": public.did_key(),
        },
    )
    return 0


def run_approver_show(args: argparse.Namespace) -> int:
    from heso.approvals.identity import approver_public_key, key_path

    public = approver_public_key(args.name)
    emit(
        args,
        str(public),
        {
            "name": args.name,
            "path": str(key_path(args.name)),
            "public_key": str(public),
            "did_key": public.did_key(),
        },
    )
    return 0
