"""``heso verify <prefix | receipt.json>`` and ``heso verify --chain``.

Trust anchors: the operator keys a verifier accepts are ``--trust`` keys when given, else the
project's ``[heso] operator_keys``; with neither, the store vouches for itself (its own head or
first receipt names the key), which proves integrity but not origin.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from heso.cli._output import add_json_flag, emit
from heso.display import escape

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
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from heso import chain
    from heso.errors import HesoConfigError
    from heso.keys import PublicKey
    from heso.project import data_dir, require_root
    from heso.receipt import verify_receipt, verify_receipt_bytes

    source = _project_source(args)
    trusted, pinned_by = None, "unpinned"
    if args.trust:
        try:
            trusted = {PublicKey.from_str(t) for t in args.trust}
        except ValueError as exc:
            raise HesoConfigError(f"--trust: {exc}") from exc
        pinned_by = "--trust"
    elif source is not None:
        trusted = pinned_operator_keys(source)
        pinned_by = "heso.toml" if trusted else "unpinned"
    registry = _registry(args, source)
    approvers: dict[str, Any] = {}
    if registry is not None:
        approvers = {"approver_keys": registry.approver_keys()}
    if args.sealed and not args.chain:
        raise HesoConfigError("--sealed applies to --chain")
    if args.chain:
        if args.target:
            raise HesoConfigError("give either a target or --chain, not both")
        from heso.cli._progress import progress

        ddir = data_dir(require_root(args.project))
        log = ddir / chain.CHAIN_FILE
        size = log.stat().st_size if log.exists() else 0
        with progress(f"verifying the chain in {ddir} ({size / 1e6:,.1f} MB)"):
            verdict = chain.verify_chain(
                ddir,
                trusted_operators=trusted,
                workers=args.workers,
                require_sealed=args.sealed,
                **approvers,
            )
        verdict.details["operator_pinned_by"] = pinned_by
        human = escape(str(verdict))
        if verdict.ok and not verdict.details["entries"]:
            verdict.details["empty"] = True
            human = f"Valid: the store is empty, there are no receipts yet ({ddir})"
        elif verdict.ok:
            d = verdict.details
            human += f"\n{d['entries']} entries, {d['sealed']} sealed by the signed head"
            if d.get("l1_receipts"):
                human += f", {d['l1_receipts']} co-signed by approvers (L1)"
            if d["torn_tails_recovered"]:
                human += f", {d['torn_tails_recovered']} torn tail(s) recovered (see receipts.torn)"
            if d.get("operator"):
                how = "pinned by " + pinned_by if trusted else "not pinned"
                human += f"\noperator {escape(d['operator'])} ({how})"
        emit(args, human, verdict.to_dict())
        _warn_unpinned(args, verdict.ok and not trusted and "empty" not in verdict.details)
        return 0 if verdict.ok else 1
    if not args.target:
        raise HesoConfigError("give an action_hash prefix, a receipt file, or --chain")
    path = Path(args.target)
    if path.suffix == ".json" or path.is_file():
        try:
            with open(path, "rb") as f:
                data = f.read(chain.MAX_ENTRY_BYTES + 1)
        except OSError as exc:
            raise HesoConfigError(f"cannot read {path}: {exc.strerror}") from exc
        if registry is not None:
            approvers["approver_groups"] = registry.groups
        if len(data) > chain.MAX_ENTRY_BYTES:
            from heso import verdict as v

            verdict = v.fail(v.MALFORMED_JSON, f"larger than {chain.MAX_ENTRY_BYTES} bytes")
        else:
            verdict = verify_receipt_bytes(data, trusted_operators=trusted, **approvers)
    else:
        ddir = data_dir(require_root(args.project))
        receipt = chain.get_receipt(ddir, args.target)
        if registry is not None:
            approvers["approver_groups"] = registry.groups
        verdict = verify_receipt(receipt, trusted_operators=trusted, **approvers)
    verdict.details["operator_pinned_by"] = pinned_by
    emit(args, escape(str(verdict)), verdict.to_dict())
    _warn_unpinned(args, verdict.ok and not trusted)
    return 0 if verdict.ok else 1


def _warn_unpinned(args: argparse.Namespace, warn: bool) -> None:
    """Say on stderr (human mode) that a valid verdict rests on an unpinned key."""
    if warn and not getattr(args, "json", False):
        sys.stderr.write(UNPINNED_WARNING + "\n")


def pinned_operator_keys(source: Any) -> set[Any] | None:
    """The operator keys ``[heso] operator_keys`` pins, or ``None`` when it pins none."""
    from heso.keys import PublicKey

    table = source.data.get("heso", {})
    if not isinstance(table, dict) or "operator_keys" not in table:
        return None
    keys = table["operator_keys"]
    where = ("heso", "operator_keys")
    if not isinstance(keys, list):
        raise source.error("[heso].operator_keys must be an array of keys", where, value=True)
    pinned = set()
    for i, text in enumerate(keys):
        try:
            pinned.add(PublicKey.from_str(text))
        except (ValueError, TypeError) as exc:
            raise source.error(f"[heso].operator_keys[{i}]: {exc}", where, value=True) from None
    return pinned or None


def _project_source(args: argparse.Namespace) -> Any:
    """The project's parsed ``heso.toml``, or ``None`` outside a project."""
    from heso.errors import HesoConfigError
    from heso.project import POLICY_FILE, require_root
    from heso.toml_source import TomlSource

    try:
        root = require_root(args.project)
    except HesoConfigError:
        if args.project:
            raise
        return None
    return TomlSource.read(root / POLICY_FILE)


def _registry(args: argparse.Namespace, source: Any) -> Any:
    """The registered approvers: ``--approvers``, else the project's ``heso.toml`` if any."""
    from heso.approvals.registry import load_registry
    from heso.toml_source import TomlSource

    if args.approvers:
        return load_registry(TomlSource.read(args.approvers))
    return load_registry(source) if source is not None else None
