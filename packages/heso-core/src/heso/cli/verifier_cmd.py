"""``heso verifier export [PATH]``: write the offline verifier page (one static HTML file)."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any

from heso.cli._output import add_json_flag, emit

DEFAULT_NAME = "heso-verifier.html"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "verifier", help="the offline verifier page: verify receipts in any browser"
    )
    verbs = p.add_subparsers(dest="verifier_command", metavar="SUBCOMMAND")
    export = verbs.add_parser(
        "export",
        help="write the self-contained verifier page (no network requests) to a file",
    )
    export.add_argument(
        "path",
        nargs="?",
        default=DEFAULT_NAME,
        help=f"output file or directory (default ./{DEFAULT_NAME}); '-' writes to stdout",
    )
    add_json_flag(export)
    export.set_defaults(func=run_export)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help()
    return 2


def run_export(args: argparse.Namespace) -> int:
    from heso.errors import HesoConfigError
    from heso.web import verifier_html

    html = verifier_html()
    data = html.encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    if args.path == "-":
        sys.stdout.write(html)
        return 0
    target = Path(args.path)
    if target.is_dir():
        target = target / DEFAULT_NAME
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise HesoConfigError(f"cannot write {target}: {exc.strerror}") from exc
    emit(
        args,
        f"wrote the offline verifier to {target} ({len(data)} bytes, sha256 {digest})\n"
        "open it in any browser; drop a receipt, an L1 receipt or receipts.jsonl "
        "with chain.head.json on it",
        {"path": str(target), "bytes": len(data), "sha256": digest},
    )
    return 0
