"""``heso witness serve --config witness.toml``: run heso's C2SP ``tlog-witness`` (for an
auditor who cosigns a log's checkpoints only when each extends the last it saw)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "witness", help="run a transparency witness that cosigns a log's checkpoints"
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s: argparse.ArgumentParser = actions.add_parser(
        "serve", help="serve add-checkpoint (C2SP tlog-witness) with durable state"
    )
    s.add_argument("--config", required=True, help="the witness's TOML configuration")
    s.add_argument(
        "--init-key", action="store_true", help="create the witness key first (if absent)"
    )
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from heso.transparency.witness_server import main

    argv = ["--config", args.config] + (["--init-key"] if args.init_key else [])
    return main(argv)
