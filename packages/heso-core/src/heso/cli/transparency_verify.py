"""``heso verify … --checkpoint FILE`` and ``heso verify --consistency OLD NEW``: the
transparency checks of the verify verb, by the rules of :mod:`heso.transparency.prove`."""

from __future__ import annotations

import argparse
from typing import Any

from heso.cli._output import EXIT_INVALID, emit
from heso.verdict import NOT_IN_LOG, Verdict, fail

__all__ = ["add_inclusion", "verify_consistency"]


def _is_proof(data: bytes) -> bool:
    from heso.transparency.proof import TLOG_PROOF_V1

    return data.startswith(TLOG_PROOF_V1.encode() + b"\n")


def add_inclusion(args: argparse.Namespace, verdict: Verdict, receipt_data: bytes) -> Verdict:
    """Check that the receipt (already verified in ``verdict``) is in the log under the
    checkpoint of ``--checkpoint``; records the result in the verdict's details, and turns a
    valid verdict into ``NotInLog`` when the proof fails."""
    from heso.canonical import loads_strict
    from heso.cli._stores import ledger_of
    from heso.cli.checkpoint_cmd import read_note
    from heso.cli.transparency_trust import checkpoint_trust
    from heso.errors import HesoError, TransparencyError
    from heso.transparency import prove
    from heso.transparency.proof import InclusionProof

    data = read_note(args.checkpoint)
    try:
        receipt: dict[str, Any] = loads_strict(receipt_data)
        if _is_proof(data):
            proof = InclusionProof.from_text(data)
        else:
            ledger = ledger_of(args)
            action_hash = receipt["content"]["action_hash"]
            hits = [s for h, s in ledger.find(action_hash) if h == action_hash]
            if not hits:
                raise TransparencyError("the receipt is not in the local log")
            proof = prove.inclusion_proof(ledger, max(hits), data)
        trust = checkpoint_trust(args, proof.checkpoint)
        verified = prove.verify_receipt_inclusion(
            receipt,
            proof,
            trust.log_keys,
            origin=trust.origin,
            witnesses=trust.witnesses,
            threshold=trust.threshold,
        )
    except (HesoError, KeyError, TypeError, ValueError) as exc:
        reason = f"not proven in the log: {exc}"
        verdict.details["inclusion"] = {"ok": False, "reason": reason}
        if not verdict.ok:
            return verdict
        out = fail(NOT_IN_LOG, reason, action_hash=verdict.action_hash)
        out.details.update(verdict.details)
        return out
    cp = verified.checkpoint
    verdict.details["inclusion"] = {
        "ok": True,
        "index": proof.index,
        "origin": cp.origin,
        "size": cp.size,
        "cosigned_by": [c.witness.name for c in verified.cosignatures],
        **trust.to_dict(),
    }
    return verdict


def verify_consistency(args: argparse.Namespace) -> int:
    """``--consistency OLD NEW``: the log in NEW extends the checkpoint OLD."""
    from heso.cli._stores import ledger_of
    from heso.cli.checkpoint_cmd import read_note
    from heso.cli.transparency_trust import checkpoint_trust
    from heso.errors import TransparencyError
    from heso.transparency import prove
    from heso.transparency.proof import ConsistencyProof

    old_path, new_path = args.consistency
    old, new = read_note(old_path), read_note(new_path)
    trust = checkpoint_trust(args, old)
    try:
        if not new.startswith(b"old "):
            old_size = prove.checkpoint_of(old).size
            new = prove.consistency_proof(ledger_of(args), old_size, new).to_bytes()
        ConsistencyProof.from_bytes(new)
        older, newer = prove.verify_consistency_files(
            old, new, trust.log_keys, witnesses=trust.witnesses, threshold=trust.threshold
        )
    except TransparencyError as exc:
        verdict = fail(NOT_IN_LOG, f"not consistent: {exc}")
        verdict.details.update(trust.to_dict())
        emit(args, f"Invalid: {exc}", {**verdict.to_dict(), "ok": False})
        return EXIT_INVALID
    a, b = older.checkpoint, newer.checkpoint
    human = f"Valid: the log at size {b.size} extends the checkpoint at size {a.size} ({a.origin})"
    emit(
        args,
        human,
        {
            "ok": True,
            "code": "Valid",
            "origin": a.origin,
            "old_size": a.size,
            "new_size": b.size,
            "cosigned_by": [c.witness.name for c in newer.cosignatures],
            **trust.to_dict(),
        },
    )
    return 0
