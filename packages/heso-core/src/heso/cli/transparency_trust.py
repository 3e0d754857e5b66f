"""The trust inputs of the transparency verbs: which keys sign a log's checkpoints, which
witnesses must cosign them, and how many.

Log keys: ``--key`` verifier keys (vkeys) when given; else the project's pinned operator keys
(``--trust`` / ``[heso] operator_keys``) under the checkpoint's origin; else the operator key of
the store's own signed head (the store vouching for itself, which the CLI says). Witnesses and
their threshold come from ``[heso.transparency]``, unless ``--witness`` / ``--threshold``
replace them.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from heso.errors import HesoConfigError, TransparencyError
from heso.transparency.cosignature import CosignatureVerifier
from heso.transparency.note import Verifier
from heso.transparency.settings import TransparencySettings, parse_settings

__all__ = ["CheckpointTrust", "add_trust_flags", "checkpoint_trust", "project_settings"]


def add_trust_flags(p: argparse.ArgumentParser) -> None:
    """``--key``, ``--witness``, ``--threshold`` (and ``--trust``, ``--project``)."""
    p.add_argument(
        "--key",
        action="append",
        default=None,
        metavar="VKEY",
        help="a verifier key (vkey) of the log; repeatable (default: the pinned operator keys "
        "under the checkpoint's origin)",
    )
    p.add_argument(
        "--witness",
        action="append",
        default=None,
        metavar="VKEY",
        help="a witness cosignature vkey; repeatable; replaces [heso.transparency] witnesses",
    )
    p.add_argument(
        "--threshold",
        type=int,
        default=None,
        help="valid witness cosignatures required (default: [heso.transparency] threshold)",
    )


@dataclass(frozen=True)
class CheckpointTrust:
    log_keys: list[Verifier]
    witnesses: tuple[CosignatureVerifier, ...]
    threshold: int
    pinned_by: str
    origin: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "log_keys": [k.vkey() for k in self.log_keys],
            "witnesses": [w.vkey() for w in self.witnesses],
            "threshold": self.threshold,
            "pinned_by": self.pinned_by,
        }


def project_settings(args: argparse.Namespace) -> TransparencySettings:
    """``[heso.transparency]`` of the verb's project (defaults outside a project)."""
    from heso.project import POLICY_FILE, require_root
    from heso.toml_source import TomlSource

    try:
        root = require_root(getattr(args, "project", None))
    except HesoConfigError:
        if getattr(args, "project", None):
            raise
        return TransparencySettings()
    return parse_settings(TomlSource.read(root / POLICY_FILE))


def checkpoint_trust(args: argparse.Namespace, note: bytes) -> CheckpointTrust:
    """The keys that verify ``note`` (a checkpoint, or the checkpoint a proof carries)."""
    from heso.cli.trust_args import cli_trust
    from heso.transparency.prove import checkpoint_of, log_keys_for
    from heso.transparency.vkey import parse_vkey

    settings = project_settings(args)
    witnesses = settings.witness_keys
    if args.witness:
        parsed = [parse_vkey(v) for v in args.witness]
        if not all(isinstance(w, CosignatureVerifier) for w in parsed):
            raise HesoConfigError("--witness takes cosignature vkeys (type 0x04)")
        witnesses = tuple(w for w in parsed if isinstance(w, CosignatureVerifier))
    threshold = settings.threshold if args.threshold is None else args.threshold
    if args.witness and args.threshold is None:
        threshold = len(witnesses)
    if threshold < 0 or threshold > len(witnesses):
        raise HesoConfigError(
            f"a threshold of {threshold} needs that many witness keys ({len(witnesses)} given)"
        )
    if args.key:
        keys = [parse_vkey(v) for v in args.key]
        return CheckpointTrust(keys, witnesses, threshold, "--key", settings.origin)
    trust = cli_trust(args)
    operators = trust.operators
    pinned_by = trust.pinned_by
    if operators is None:
        from heso.cli._stores import ledger_of
        from heso.ledger.format import Head

        head = ledger_of(args).signed_head()
        if not isinstance(head, Head):
            raise HesoConfigError(
                "no log key to verify the checkpoint with: give --key VKEY, or pin the "
                "operator key (--trust or [heso] operator_keys)"
            )
        operators = frozenset({head.operator})
        pinned_by = "the store's own head"
        if not getattr(args, "json", False):
            sys.stderr.write(
                "warning: no log key given or pinned, so the checkpoint is checked against the "
                "key of the store's own signed head (integrity, not origin); give --key VKEY "
                "or pin the operator key\n"
            )
    try:
        keys = log_keys_for(note, operators)
        origin = checkpoint_of(note).origin
    except TransparencyError as exc:
        raise HesoConfigError(f"not a checkpoint: {exc}") from None
    if settings.origin is not None and origin != settings.origin:
        raise HesoConfigError(
            f"the checkpoint names log {origin!r}; this project's log is {settings.origin!r}"
        )
    return CheckpointTrust(keys, witnesses, threshold, pinned_by, settings.origin)
