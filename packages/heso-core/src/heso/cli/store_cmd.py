"""``heso store migrate`` (apply the database schema) and ``heso store copy --to URL`` (move a
project's file store into a database). See ``docs/fleet.md``."""

from __future__ import annotations

import argparse
from typing import Any

from heso.cli._output import add_json_flag, emit


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "store", help="manage where evidence is kept: migrate a database, copy files into it"
    )
    verbs = p.add_subparsers(dest="store_command", metavar="ACTION")
    m = verbs.add_parser(
        "migrate",
        help="apply the heso schema to the project's PostgreSQL store (run as its owner)",
    )
    m.add_argument("--url", help="the database (default: HESO_STORE / [heso] store)")
    m.add_argument(
        "--no-roles", action="store_true", help="do not create the heso_writer / heso_reader roles"
    )
    m.add_argument("--project", help="project root (default: discovered from the CWD)")
    add_json_flag(m)
    m.set_defaults(func=run_migrate)
    c = verbs.add_parser(
        "copy",
        help="copy the project's file store (chain, head, approvals) into an empty database",
    )
    c.add_argument("--to", required=True, metavar="URL", help="a postgresql:// URL (migrated)")
    c.add_argument("--project", help="project root (default: discovered from the CWD)")
    c.add_argument(
        "--trust", action="append", default=None, metavar="KEY", help="pin an operator key"
    )
    c.add_argument("--approvers", metavar="TOML", help="a heso.toml registering approver keys")
    add_json_flag(c)
    c.set_defaults(func=run_copy)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    """``heso store`` without a subcommand: print what it takes; exit 2 (usage)."""
    parser.print_help()
    return 2


def _url(args: argparse.Namespace, given: str | None) -> str:
    from heso import stores
    from heso.cli._stores import store_spec
    from heso.errors import HesoConfigError

    if given:
        spec = stores.parse_store(given, "the command line", ".")
    else:
        spec = store_spec(args)
    if spec.url is None:
        raise HesoConfigError(
            "this project keeps its evidence in files, not a database",
            hint="pass --url postgresql://..., or set HESO_STORE / [heso] store",
        )
    return spec.url


def run_migrate(args: argparse.Namespace) -> int:
    from heso.database import SCHEMA_VERSION, Database, migrate

    try:
        url = _url(args, args.url)
    except ValueError as exc:
        from heso.errors import HesoConfigError

        raise HesoConfigError(str(exc)) from None
    db = Database(url)
    try:
        before, after = migrate(db, roles=not args.no_roles)
    finally:
        db.close()
    human = (
        f"{db.location}: schema version {after} (already current)"
        if before == after
        else f"{db.location}: schema migrated from version {before} to {after}"
    )
    emit(
        args,
        human,
        {
            "ok": True,
            "store": db.location,
            "before": before,
            "after": after,
            "current": SCHEMA_VERSION,
        },
    )
    return 0


def run_copy(args: argparse.Namespace) -> int:
    from heso import stores
    from heso.cli.trust_args import cli_trust
    from heso.errors import HesoConfigError
    from heso.ledger.file_store import FileLedger
    from heso.ledger.transfer import copy_to_database
    from heso.project import data_dir, require_root

    try:
        url = _url(args, args.to)
    except ValueError as exc:
        raise HesoConfigError(str(exc)) from None
    trust = cli_trust(args)
    source = FileLedger(data_dir(require_root(args.project)))
    verdict = copy_to_database(source, url, trust.verify_chain)
    shown = stores.redact_url(url)
    emit(
        args,
        f"copied {verdict.details['entries']} entries from {source.location} to {shown}; "
        "the copy verifies",
        {"ok": True, "to": shown, "verdict": verdict.to_dict()},
    )
    return 0
