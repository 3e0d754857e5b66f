"""``heso verify <prefix | receipt.json>`` and ``heso verify --chain``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from heso.cli._output import add_json_flag, emit


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "verify", help="verify a receipt (by hash prefix or file) or the whole chain offline"
    )
    p.add_argument("target", nargs="?", help="action_hash prefix or a receipt .json file")
    p.add_argument("--chain", action="store_true", help="verify the whole audit chain")
    p.add_argument(
        "--trust",
        action="append",
        default=None,
        metavar="KEY",
        help="pin a trusted operator key (ed25519:<hex>); repeatable",
    )
    p.add_argument("--project", help="project root (default: discovered from the CWD)")
    p.add_argument(
        "--approvers",
        metavar="TOML",
        help="a heso.toml whose [approvers.<group>] tables register the approver keys "
        "(default: the project's, when there is one)",
    )
    p.add_argument("--workers", type=int, default=None, help="processes for --chain")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from heso import chain
    from heso.errors import HesoConfigError
    from heso.keys import PublicKey
    from heso.project import data_dir, require_root
    from heso.receipt import verify_receipt, verify_receipt_bytes

    trusted = None
    if args.trust:
        try:
            trusted = {PublicKey.from_str(t) for t in args.trust}
        except ValueError as exc:
            raise HesoConfigError(f"--trust: {exc}") from exc
    registry = _registry(args)
    approvers: dict[str, Any] = {}
    if registry is not None:
        approvers = {"approver_keys": registry.approver_keys()}
    if args.chain:
        if args.target:
            raise HesoConfigError("give either a target or --chain, not both")
        ddir = data_dir(require_root(args.project))
        verdict = chain.verify_chain(
            ddir, trusted_operators=trusted, workers=args.workers, **approvers
        )
        human = str(verdict)
        if verdict.ok:
            d = verdict.details
            human += f"\n{d['entries']} entries, {d['sealed']} sealed by the signed head"
            if d.get("l1_receipts"):
                human += f", {d['l1_receipts']} co-signed by approvers (L1)"
            if d["torn_tails_recovered"]:
                human += f", {d['torn_tails_recovered']} torn tail(s) recovered (see receipts.torn)"
        emit(args, human, verdict.to_dict())
        return 0 if verdict.ok else 1
    if not args.target:
        raise HesoConfigError("give an action_hash prefix, a receipt file, or --chain")
    path = Path(args.target)
    if path.suffix == ".json" or path.is_file():
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise HesoConfigError(f"cannot read {path}: {exc.strerror}") from exc
        if registry is not None:
            approvers["approver_groups"] = registry.groups
        verdict = verify_receipt_bytes(data, trusted_operators=trusted, **approvers)
    else:
        ddir = data_dir(require_root(args.project))
        receipt = chain.get_receipt(ddir, args.target)
        if registry is not None:
            approvers["approver_groups"] = registry.groups
        verdict = verify_receipt(receipt, trusted_operators=trusted, **approvers)
    emit(args, str(verdict), verdict.to_dict())
    return 0 if verdict.ok else 1


def _registry(args: argparse.Namespace) -> Any:
    """The registered approvers: ``--approvers``, else the project's ``heso.toml`` if any."""
    from heso.approvals.registry import load_registry
    from heso.errors import HesoConfigError
    from heso.project import POLICY_FILE, require_root
    from heso.toml_source import TomlSource

    if args.approvers:
        return load_registry(TomlSource.read(args.approvers))
    try:
        root = require_root(args.project)
    except HesoConfigError:
        if args.project:
            raise
        return None
    return load_registry(TomlSource.read(root / POLICY_FILE))
