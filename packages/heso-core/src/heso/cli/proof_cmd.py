"""``heso proof <prefix>``: the inclusion proof of a receipt's entry (a C2SP ``tlog-proof``:
checkpoint, index, path); ``heso proof --consistency OLD``: proof that the latest checkpoint
(or ``--to NEW``) extends the checkpoint in ``OLD``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from heso.cli._output import add_json_flag, emit


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "proof", help="print an inclusion proof (tlog-proof) or a consistency proof"
    )
    p.add_argument("prefix", nargs="?", help="action_hash prefix of the receipt")
    p.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="prove against this checkpoint (default: the latest one kept)",
    )
    p.add_argument(
        "--consistency",
        metavar="OLD",
        help="prove that a newer checkpoint extends the checkpoint in OLD",
    )
    p.add_argument("--to", metavar="NEW", help="with --consistency: the newer checkpoint")
    p.add_argument("--out", metavar="FILE", help="write the proof to FILE")
    p.add_argument("--project", help="project root (default: discovered from the CWD)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from heso.cli._stores import ledger_of
    from heso.cli.checkpoint_cmd import read_note
    from heso.errors import HesoConfigError
    from heso.transparency import prove

    ledger = ledger_of(args)
    if args.consistency:
        if args.prefix:
            raise HesoConfigError("give a prefix or --consistency, not both")
        old = prove.checkpoint_of(read_note(args.consistency))
        if args.to:
            new = read_note(args.to)
        else:
            sizes = ledger.checkpoint_store().sizes()
            latest = ledger.checkpoint_store().get(sizes[-1]) if sizes else None
            if latest is None:
                raise HesoConfigError("no checkpoint kept yet: run `heso checkpoint`")
            new = latest
        proof = prove.consistency_proof(ledger, old.size, new)
        text = proof.to_bytes().decode("utf-8")
        data: dict[str, Any] = {
            "old_size": proof.old_size,
            "new_size": prove.checkpoint_of(new).size,
            "proof": text,
        }
    else:
        if not args.prefix:
            raise HesoConfigError("give an action_hash prefix, or --consistency OLD")
        if args.to:
            raise HesoConfigError("--to applies to --consistency")
        receipt = ledger.receipt(args.prefix)
        action_hash = receipt["content"]["action_hash"]
        seq = max(s for h, s in ledger.find(action_hash) if h == action_hash)
        note = read_note(args.checkpoint) if args.checkpoint else None
        inclusion = prove.inclusion_proof(ledger, seq, note)
        text = inclusion.to_text()
        data = {
            "action_hash": action_hash,
            "index": seq,
            "size": prove.checkpoint_of(inclusion.checkpoint).size,
            "proof": text,
        }
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        if not args.json:
            sys.stderr.write(f"wrote {args.out}\n")
            return 0
    emit(args, text, data)
    return 0
