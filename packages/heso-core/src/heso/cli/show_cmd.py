"""``heso show <prefix>``: the full signed receipt JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from heso.cli._output import add_json_flag


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("show", help="print a receipt's signed JSON")
    p.add_argument("prefix", help="action_hash prefix")
    p.add_argument("--project", help="project root (default: discovered from the CWD)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from heso import chain
    from heso.project import data_dir, require_root

    receipt = chain.get_receipt(data_dir(require_root(args.project)), args.prefix)
    indent = None if args.json else 2
    sys.stdout.write(json.dumps(receipt, indent=indent, ensure_ascii=False, sort_keys=True) + "\n")
    return 0
