"""``heso demo``: scaffold a demo project, mint receipts through the real engine, verify them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from heso.cli._output import add_json_flag, emit

DEMO_DIR = "heso-demo"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo", help="mint an allowed and a redacted receipt and verify both offline"
    )
    p.add_argument("--dir", default=DEMO_DIR, help=f"demo project directory (default: {DEMO_DIR})")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import heso
    from heso import chain
    from heso.capture import capture
    from heso.project import data_dir, init_project
    from heso.receipt import verify_receipt

    root = Path(args.dir).resolve()
    result = init_project(root)
    heso.init(project_root=root)
    try:
        allowed = capture("tool_call", "search_docs", {"query": "refund policy", "limit": 5})
        redacted = capture(
            "tool_call",
            "send_email",
            {"to": "customer@example.com", "subject": "Your refund", "api_key": "sk-demo-0451"},
            redact_fields=["api_key"],
        )
    finally:
        heso.shutdown()
    ddir = data_dir(root)
    rows = []
    for label, outcome in (("allowed", allowed), ("redacted", redacted)):
        assert outcome.action_hash is not None
        stored = chain.get_receipt(ddir, outcome.action_hash)
        verdict = verify_receipt(stored)
        rows.append((label, outcome, verdict))
    chain_verdict = chain.verify_chain(ddir)
    rel = Path(args.dir)
    lines = [f"demo project: {root} ({len(result.written)} files written)"]
    for label, outcome, verdict in rows:
        lines.append(f"  {label:9} {outcome.kind.value:9} {outcome.action_hash}  {verdict}")
    lines.append(f"  chain     {chain_verdict}")
    short = rows[1][1].action_hash[:12] if rows[1][1].action_hash else ""
    lines += [
        "re-verify offline:",
        f"  heso verify {short} --project {rel}",
        f"  heso verify --chain --project {rel}",
        f"  heso show {short} --project {rel}   (api_key is only a commitment)",
    ]
    ok = all(v.ok for _, _, v in rows) and chain_verdict.ok
    emit(
        args,
        "\n".join(lines),
        {
            "ok": ok,
            "project": str(root),
            "receipts": [
                {
                    "label": label,
                    "decision": o.kind.value,
                    "action_hash": o.action_hash,
                    "verdict": str(vd),
                }
                for label, o, vd in rows
            ],
            "chain": chain_verdict.to_dict(),
        },
    )
    return 0 if ok else 1
