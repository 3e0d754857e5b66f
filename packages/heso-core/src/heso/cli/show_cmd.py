"""``heso show <prefix>``: the full signed receipt JSON."""

from __future__ import annotations

import argparse
from typing import Any

from heso.cli._output import add_json_flag, write_json


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("show", help="print a receipt's signed JSON")
    p.add_argument("prefix", help="action_hash prefix")
    p.add_argument("--project", help="project root (default: discovered from the CWD)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from heso.cli._stores import ledger_of

    receipt = ledger_of(args).receipt(args.prefix)
    write_json(receipt, indent=None if args.json else 2)
    return 0
