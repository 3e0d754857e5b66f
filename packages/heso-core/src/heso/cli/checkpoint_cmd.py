"""``heso checkpoint``: issue a signed checkpoint now (and gather the configured witnesses'
cosignatures); ``heso checkpoint verify <note> --key <vkey>``: check one offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from heso.cli._output import EXIT_INVALID, add_json_flag, emit


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "checkpoint",
        help="issue a signed checkpoint of the log (C2SP tlog-checkpoint), or verify one",
    )
    p.add_argument("--project", help="project root (default: discovered from the CWD)")
    p.add_argument("--out", metavar="FILE", help="also write the checkpoint note to FILE")
    p.add_argument(
        "--no-witnesses", action="store_true", help="do not ask the configured witnesses"
    )
    add_json_flag(p)
    p.set_defaults(func=run_issue)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    v: argparse.ArgumentParser = actions.add_parser(
        "verify", help="verify a checkpoint note offline against a log's verifier key"
    )
    v.add_argument("note", help="the signed checkpoint (a C2SP signed note)")
    v.add_argument("--project", help="project root (default: discovered from the CWD)")
    v.add_argument("--trust", action="append", default=None, metavar="KEY")
    v.add_argument("--approvers", default=None, help=argparse.SUPPRESS)
    from heso.cli.transparency_trust import add_trust_flags

    add_trust_flags(v)
    add_json_flag(v)
    v.set_defaults(func=run_verify)


def read_note(path: str) -> bytes:
    """A checkpoint or proof file, size-limited."""
    from heso.errors import HesoConfigError
    from heso.transparency.note import MAX_NOTE_BYTES

    try:
        with open(path, "rb") as f:
            data = f.read(2 * MAX_NOTE_BYTES + 1)
    except OSError as exc:
        raise HesoConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if len(data) > 2 * MAX_NOTE_BYTES:
        raise HesoConfigError(f"{path} is larger than a checkpoint or proof can be")
    return data


def run_issue(args: argparse.Namespace) -> int:
    from heso import config
    from heso.transparency.cosign import cosign_latest

    cfg = config.init(project_root=args.project)
    try:
        ledger = config.current().ledger
        settings = cfg.transparency
        if settings.witnesses and not args.no_witnesses:
            result = cosign_latest(ledger, settings, timeout=cfg.timeout)
            note, cosigned, refused = result.note, result.cosigned_by, result.refused
        else:
            note, cosigned, refused = ledger.checkpoint(), [], {}
        key = config.current().key
    finally:
        config.shutdown()
    from heso.transparency.note import Ed25519Verifier
    from heso.transparency.prove import checkpoint_of

    cp = checkpoint_of(note)
    vkey = Ed25519Verifier(cp.origin, key.public_key()).vkey()
    if args.out:
        Path(args.out).write_bytes(note)
    for name, why in refused.items():
        sys.stderr.write(f"witness {name} did not cosign: {why}\n")
    short = len(cosigned) < settings.threshold and not args.no_witnesses
    emit(
        args,
        note.decode("utf-8"),
        {
            "ok": not short,
            "origin": cp.origin,
            "size": cp.size,
            "note": note.decode("utf-8"),
            "vkey": vkey,
            "cosigned_by": cosigned,
            "refused": refused,
        },
    )
    if not getattr(args, "json", False):
        sys.stderr.write(f"checkpoint of {cp.size} entries; verify with --key {vkey}\n")
    if short:
        sys.stderr.write(
            f"only {len(cosigned)} of the {settings.threshold} witness cosignatures required\n"
        )
        return EXIT_INVALID
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from heso.cli.transparency_trust import checkpoint_trust
    from heso.errors import TransparencyError
    from heso.transparency.checkpoint import open_checkpoint

    note = read_note(args.note)
    trust = checkpoint_trust(args, note)
    try:
        verified = open_checkpoint(
            note,
            trust.log_keys,
            witnesses=trust.witnesses,
            threshold=trust.threshold,
        )
    except TransparencyError as exc:
        emit(args, f"Invalid: {exc}", {"ok": False, "error": str(exc), **trust.to_dict()})
        return EXIT_INVALID
    cp = verified.checkpoint
    cosigners = [c.witness.name for c in verified.cosignatures]
    human = f"Valid: checkpoint of {cp.origin!r} at size {cp.size}, signed by " + ", ".join(
        k.name for k in verified.log_keys
    )
    if cosigners:
        human += f"; cosigned by {', '.join(cosigners)} (threshold {trust.threshold})"
    emit(
        args,
        human,
        {
            "ok": True,
            "origin": cp.origin,
            "size": cp.size,
            "root": cp.root.hex(),
            "cosigned_by": cosigners,
            **trust.to_dict(),
        },
    )
    return 0
