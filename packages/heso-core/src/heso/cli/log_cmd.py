"""``heso log``: list the receipts of the store, oldest first, filtered like the console's list."""

from __future__ import annotations

import argparse
from collections import deque
from typing import Any

from heso.cli._output import add_json_flag, emit

DECISIONS = ("allow", "block", "require_approval")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "log",
        help="list receipts: entry, time, decision, action, workflow, action_hash",
        description="List the receipts of the audit chain, oldest first. Filters combine; "
        "times are UTC (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] or RFC 3339). This reads the "
        "store; `heso verify --chain` verifies it.",
    )
    p.add_argument("--verb", help="llm_call, tool_call, http_request, delete, payment, ...")
    p.add_argument("--tool", help="tool, model or target name (exact)")
    p.add_argument("--decision", choices=DECISIONS, help="the policy's decision")
    p.add_argument("--workflow", help="workflow label (exact)")
    p.add_argument("--account", help="account label (exact)")
    p.add_argument("--since", metavar="TIME", help="captured at or after TIME")
    p.add_argument("--until", metavar="TIME", help="captured at or before TIME")
    p.add_argument("--search", metavar="WORDS", help="any of these words anywhere in the action")
    p.add_argument("-n", "--limit", type=int, metavar="N", help="only the last N matching receipts")
    p.add_argument("--project", help="project root (default: discovered from the CWD)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from heso.cli._progress import progress
    from heso.cli._stores import ledger_of
    from heso.console.data import RowFilter, row_of
    from heso.errors import HesoConfigError

    if args.limit is not None and args.limit < 1:
        raise HesoConfigError("--limit must be at least 1", key="--limit")
    params = {
        "verb": args.verb,
        "tool": args.tool,
        "decision": args.decision,
        "workflow": args.workflow,
        "account": args.account,
        "since": args.since,
        "until": args.until,
        "q": args.search,
    }
    try:
        keep = RowFilter.from_params(params)
    except ValueError as exc:
        raise HesoConfigError(f"--since/--until: {exc}") from None
    ledger = ledger_of(args)
    total = 0
    picked: deque[Any] = deque(maxlen=args.limit)
    with progress(f"reading the receipts in {ledger.location}"):
        for seq, line in ledger.entries():
            total += 1
            row = row_of(seq, line)
            if keep.matches(row):
                picked.append(row)
    rows = [r.to_dict() for r in picked]
    data = {"total": total, "shown": len(rows), "rows": rows}
    emit(args, _table(rows, total, ledger.location), data)
    return 0


def _table(rows: list[dict[str, Any]], total: int, location: str) -> str:
    from heso.display import escape

    if not total:
        return f"the store is empty: no receipts yet ({location})"
    if not rows:
        return f"no receipt matches (of {total})"
    head = (
        f"{'ENTRY':<8}{'CAPTURED (UTC)':<28}{'DECISION':<18}{'TRUST':<7}{'ACTION':<36}"
        f"{'WORKFLOW':<16}HASH"
    )
    lines = [head]
    for r in rows:
        action = escape(f"{r['verb']} {r['tool']}")
        trust = "L1" if r["approvers"] else "L0"
        lines.append(
            f"{'#' + str(r['seq']):<8}{escape(r['captured_at']):<28}{escape(r['decision']):<18}"
            f"{trust:<7}{action[:35]:<36}{escape(r['workflow'])[:15]:<16}"
            f"{escape(r['action_hash'])[:12]}"
        )
    lines.append(f"{len(rows)} of {total} receipts; `heso show <HASH>` prints one")
    return "\n".join(lines)
