"""``heso reveal <prefix> --field PATH``: prove a value matches a redacted field's commitment.

The commitment is trusted only once the receipt is: it must verify (hash, signatures, the
project's pinned operator key and approvers, as ``heso verify <prefix>``) and so must the chain
it is read from (``heso verify --chain``), so the receipt stands where the chain says it does.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from heso.cli._output import add_json_flag, emit
from heso.cli.trust_args import cli_trust
from heso.cli.verify_cmd import warn_unpinned

if TYPE_CHECKING:
    from heso.verdict import Verdict


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "reveal", help="prove that a value matches a redacted field's commitment"
    )
    p.add_argument("prefix", help="action_hash prefix of the receipt")
    p.add_argument("--field", required=True, help="the redacted field's path, e.g. api_key")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--value", help="the claimed cleartext (default: read from stdin)")
    src.add_argument("--value-json", help="the claimed value as JSON (numbers, objects, ...)")
    p.add_argument("--salt", help="the salt (hex) if it is not in this project's reveal store")
    p.add_argument(
        "--trust",
        action="append",
        default=None,
        metavar="KEY",
        help="pin a trusted operator key (ed25519:<hex>), as for heso verify; replaces "
        "[heso] operator_keys",
    )
    p.add_argument("--project", help="project root (default: discovered from the CWD)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from heso import fieldpath
    from heso.cli._stores import ledger_of
    from heso.errors import HesoConfigError
    from heso.project import data_dir, require_root
    from heso.redaction import RevealStore, is_marker, verify_reveal

    ledger = ledger_of(args)
    receipt = ledger.receipt(args.prefix)
    action_hash = receipt["content"]["action_hash"]
    trust = cli_trust(args)
    refused = _refusal(trust.verify_receipt(receipt), trust.verify_chain(ledger))
    if refused is not None:
        what = f"not revealed: receipt {action_hash[:12]} cannot be trusted: {refused}"
        emit(args, what, {"ok": False, **refused.to_dict(), "action_hash": action_hash})
        return 1
    try:
        path = fieldpath.render(fieldpath.parse(args.field))
    except ValueError as exc:
        raise HesoConfigError(f"--field: {exc}") from None
    marker = fieldpath.get(receipt["content"]["action"]["fields"], args.field)
    if not is_marker(marker):
        raise HesoConfigError(f"field {path!r} of receipt {action_hash[:12]} is not redacted")
    if marker.get("heso_redacted") != "commit":
        raise HesoConfigError(
            f"field {path!r} was destroyed, not committed: there is nothing to reveal against"
        )
    if args.value_json is not None:
        try:
            value = json.loads(args.value_json)
        except ValueError as exc:
            raise HesoConfigError(f"--value-json is not JSON: {exc}") from None
    elif args.value is not None:
        value = args.value
    else:
        value = sys.stdin.read().rstrip("\n")
    if args.salt:
        try:
            salts = [bytes.fromhex(args.salt)]
        except ValueError:
            raise HesoConfigError("--salt must be hex") from None
    else:
        reveal = RevealStore(data_dir(require_root(args.project)) / "reveal")
        salts = [e.salt for e in reveal.lookup(action_hash, path)]
        if not salts:
            raise HesoConfigError(
                f"no salt for {path!r} of {action_hash[:12]} in this project's reveal store",
                hint="pass --salt if you hold it",
            )
    matches = any(verify_reveal(marker, value, salt) for salt in salts)
    human = (
        f"Revealed: the value matches the commitment of {path!r} in {action_hash[:12]}"
        if matches
        else f"Mismatch: the value does not match the commitment of {path!r}"
    )
    emit(args, human, {"ok": matches, "action_hash": action_hash, "field": path})
    warn_unpinned(args, matches and not trust.operators)
    return 0 if matches else 1


def _refusal(receipt: Verdict, chain: Verdict) -> Verdict | None:
    """Why the receipt cannot be trusted, or ``None``: the receipt's own verdict first, then the
    chain's (a torn tail leaves every complete entry verified)."""
    from heso import verdict as v

    if not receipt.ok:
        return receipt
    if not chain.ok and chain.code != v.TORN_TAIL:
        return chain
    return None
