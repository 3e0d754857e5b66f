"""``heso verify <prefix | receipt.json>`` and ``heso verify --chain``.

Trust anchors: the operator keys a verifier accepts are ``--trust`` keys when given, else the
project's ``[heso] operator_keys``; with neither, the store vouches for itself (its own head or
first receipt names the key), which proves integrity but not origin.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from heso.cli._output import add_json_flag, emit
from heso.cli.trust_args import cli_trust
from heso.display import escape

if TYPE_CHECKING:
    pass

UNPINNED_WARNING = (
    "warning: no operator key is pinned, so this proves the store is intact, not who wrote it "
    "(a store re-signed wholesale under another key would also pass); pin the operator key "
    "with --trust or [heso] operator_keys in heso.toml"
)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "verify", help="verify a receipt (by hash prefix or file) or the whole chain offline"
    )
    p.add_argument("target", nargs="?", help="action_hash prefix or a receipt .json file")
    p.add_argument("--chain", action="store_true", help="verify the whole audit chain")
    p.add_argument(
        "--sealed",
        action="store_true",
        help="with --chain: also fail when entries follow the signed head (audit a store at rest)",
    )
    p.add_argument(
        "--trust",
        action="append",
        default=None,
        metavar="KEY",
        help="pin a trusted operator key (ed25519:<hex>); repeatable; replaces the keys "
        "pinned by [heso] operator_keys",
    )
    p.add_argument("--project", help="project root (default: discovered from the CWD)")
    p.add_argument(
        "--approvers",
        metavar="TOML",
        help="a heso.toml whose [approvers.<group>] tables register the approver keys "
        "(default: the project's, when there is one)",
    )
    p.add_argument("--workers", type=int, default=None, help="processes for --chain")
    p.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="also prove the receipt is in the log under a signed checkpoint: FILE is a "
        "tlog-proof (from `heso proof`; offline) or a checkpoint note (the path is read from "
        "the local log's tree)",
    )
    p.add_argument(
        "--consistency",
        nargs=2,
        metavar=("OLD", "NEW"),
        help="prove the log in NEW extends the checkpoint OLD: NEW is a consistency proof "
        "(from `heso proof --consistency`) or a newer checkpoint (the path is read from the "
        "local log's tree)",
    )
    from heso.cli.transparency_trust import add_trust_flags

    add_trust_flags(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from heso.canonical import canonical_bytes
    from heso.cli._stores import ledger_of
    from heso.errors import HesoConfigError
    from heso.ledger import format as fmt

    if args.consistency:
        if args.target or args.chain or args.checkpoint:
            raise HesoConfigError("--consistency takes no target, --chain or --checkpoint")
        from heso.cli.transparency_verify import verify_consistency

        return verify_consistency(args)
    trust = cli_trust(args)
    if args.checkpoint and (args.chain or not args.target):
        raise HesoConfigError("--checkpoint applies to one receipt (a prefix or a file)")
    if args.sealed and not args.chain:
        raise HesoConfigError("--sealed applies to --chain")
    if args.chain:
        if args.target:
            raise HesoConfigError("give either a target or --chain, not both")
        from heso.cli._progress import progress

        ledger = ledger_of(args)
        with progress(f"verifying the chain in {ledger.location}"):
            verdict = trust.verify_chain(ledger, workers=args.workers, require_sealed=args.sealed)
        human = escape(str(verdict))
        if verdict.ok and not verdict.details["entries"]:
            verdict.details["empty"] = True
            human = f"Valid: the store is empty, there are no receipts yet ({ledger.location})"
        elif verdict.ok:
            d = verdict.details
            human += f"\n{d['entries']} entries, {d['sealed']} sealed by the signed head"
            if d.get("l1_receipts"):
                human += f", {d['l1_receipts']} co-signed by approvers (L1)"
            if d["torn_tails_recovered"]:
                human += f", {d['torn_tails_recovered']} torn tail(s) recovered (see receipts.torn)"
            if d.get("operator"):
                how = "pinned by " + trust.pinned_by if trust.operators else "not pinned"
                human += f"\noperator {escape(d['operator'])} ({how})"
        emit(args, human, verdict.to_dict())
        warn_unpinned(args, verdict.ok and not trust.operators and "empty" not in verdict.details)
        return 0 if verdict.ok else 1
    if not args.target:
        raise HesoConfigError("give an action_hash prefix, a receipt file, or --chain")
    path = Path(args.target)
    receipt_data: bytes | None = None
    if path.suffix == ".json" or path.is_file():
        try:
            with open(path, "rb") as f:
                data = f.read(fmt.MAX_ENTRY_BYTES + 1)
        except OSError as exc:
            raise HesoConfigError(f"cannot read {path}: {exc.strerror}") from exc
        if len(data) > fmt.MAX_ENTRY_BYTES:
            from heso import verdict as v

            verdict = v.fail(v.MALFORMED_JSON, f"larger than {fmt.MAX_ENTRY_BYTES} bytes")
            verdict.details["operator_pinned_by"] = trust.pinned_by
        else:
            verdict = trust.verify_receipt_bytes(data)
            receipt_data = data
    else:
        receipt = ledger_of(args).receipt(args.target)
        verdict = trust.verify_receipt(receipt)
        receipt_data = canonical_bytes(receipt)
    if args.checkpoint and receipt_data is not None:
        from heso.cli.transparency_verify import add_inclusion

        verdict = add_inclusion(args, verdict, receipt_data)
    emit(args, escape(str(verdict)), verdict.to_dict())
    warn_unpinned(args, verdict.ok and not trust.operators)
    return 0 if verdict.ok else 1


def warn_unpinned(args: argparse.Namespace, warn: bool) -> None:
    """Say on stderr (human mode) that a valid verdict rests on an unpinned key."""
    if warn and not getattr(args, "json", False):
        sys.stderr.write(UNPINNED_WARNING + "\n")
