"""``heso export <dir>``: the project's chain, from whatever store keeps it, as the file form an
auditor verifies anywhere (``heso verify --chain --project <dir>``, the offline page)."""

from __future__ import annotations

import argparse
from typing import Any

from heso.cli._output import add_json_flag, emit


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "export",
        help="write the chain as receipts.jsonl + chain.head.json (verified before and after)",
    )
    p.add_argument("path", help="a new directory: gets heso.toml and heso-local-data/")
    p.add_argument("--project", help="project root (default: discovered from the CWD)")
    p.add_argument(
        "--trust", action="append", default=None, metavar="KEY", help="pin an operator key"
    )
    p.add_argument("--approvers", metavar="TOML", help="a heso.toml registering approver keys")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from heso import durable
    from heso.cli._stores import ledger_of
    from heso.cli.trust_args import cli_trust
    from heso.ledger.transfer import export_files, exported_policy
    from heso.project import POLICY_FILE, data_dir, require_root

    root = require_root(args.project)
    trust = cli_trust(args)
    ledger = ledger_of(args)
    out = Path(args.path)
    verdict = export_files(ledger, data_dir(out), trust.verify_chain)
    durable.atomic_write(out / POLICY_FILE, exported_policy(root / POLICY_FILE))
    emit(
        args,
        f"exported {verdict.details['entries']} entries from {ledger.location} to "
        f"{data_dir(out)}; verify them with `heso verify --chain --project {out}`",
        {"ok": True, "path": str(out), "verdict": verdict.to_dict()},
    )
    return 0
