"""What the console shows of a ledger's transparency log: its latest signed checkpoints and an
entry's inclusion proof, each verified by :mod:`heso.transparency`'s rules with the trust the
CLI uses: the operator keys ``[heso] operator_keys`` pins (else the key of the store's own
signed head, integrity but not origin) and the witnesses and threshold of
``[heso.transparency]``. A store that keeps no Merkle tree is said so, never an error."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heso.canonical import loads_strict
from heso.errors import CanonicalizationError, ChainError, HesoConfigError, TransparencyError
from heso.ledger.format import Head
from heso.ledger.store import LedgerReader
from heso.project import POLICY_FILE
from heso.toml_source import TomlSource
from heso.transparency.checkpoint import open_checkpoint
from heso.transparency.cosignature import CosignatureVerifier
from heso.transparency.note import parse_note
from heso.transparency.prove import (
    checkpoint_of,
    inclusion_proof,
    log_keys_for,
    verify_receipt_inclusion,
)
from heso.transparency.settings import parse_settings
from heso.trust import Trust

SHOWN = 20
"""Checkpoints the view lists (the newest)."""
NO_TREE = "this store keeps no Merkle tree or checkpoints yet, so there is nothing to prove against"


@dataclass(frozen=True)
class LogTrust:
    """The keys a checkpoint of this project is verified with."""

    operators: frozenset[Any]
    pinned_by: str
    witnesses: tuple[CosignatureVerifier, ...]
    threshold: int

    def open(self, note: bytes) -> Any:
        """The verified checkpoint (raises :class:`TransparencyError`)."""
        return open_checkpoint(
            note,
            log_keys_for(note, self.operators),
            witnesses=self.witnesses,
            threshold=self.threshold,
        )


def log_trust(root: Path, trust: Trust, ledger: LedgerReader) -> LogTrust:
    """The project's trust for checkpoints (``HesoConfigError`` when there is no log key)."""
    settings = parse_settings(TomlSource.read(root / POLICY_FILE))
    operators, pinned_by = trust.operators, trust.pinned_by
    if operators is None:
        head = ledger.signed_head()
        if not isinstance(head, Head):
            raise HesoConfigError("no operator key is pinned and the store has no signed head")
        operators = frozenset({head.operator})
        pinned_by = "the store's own head (integrity, not origin: pin the operator key)"
    return LogTrust(operators, pinned_by, settings.witness_keys, settings.threshold)


def _checkpoint_store(ledger: LedgerReader) -> Any:
    """The ledger's checkpoint store, ``None`` when the store keeps none."""
    opener = getattr(ledger, "checkpoint_store", None)
    if opener is None:
        return None
    try:
        return opener()
    except (ChainError, TransparencyError, NotImplementedError):
        return None


def checkpoints(root: Path, trust: Trust, ledger: LedgerReader) -> dict[str, Any]:
    """The newest checkpoints (size, root, cosignatures against the threshold), each verified."""
    store = _checkpoint_store(ledger)
    sizes = store.sizes() if store is not None else []
    if not sizes:
        return {"available": False, "message": NO_TREE, "checkpoints": []}
    try:
        keys = log_trust(root, trust, ledger)
    except HesoConfigError as exc:
        return {"available": False, "message": str(exc), "checkpoints": []}
    out = []
    for size in reversed(sizes[-SHOWN:]):
        note = store.get(size)
        if note is not None:
            out.append(_checkpoint(note, size, keys))
    return {
        "available": True,
        "count": len(sizes),
        "threshold": keys.threshold,
        "witnesses": len(keys.witnesses),
        "pinned_by": keys.pinned_by,
        "checkpoints": out,
    }


def _checkpoint(note: bytes, size: int, keys: LogTrust) -> dict[str, Any]:
    item: dict[str, Any] = {"size": size, "signatures": 0}
    try:
        cp = checkpoint_of(note)
        item.update(
            origin=cp.origin,
            root=base64.b64encode(cp.root).decode(),
            signatures=len(parse_note(note).signatures),
        )
        verified = keys.open(note)
    except TransparencyError as exc:
        item.update(ok=False, error=str(exc), cosignatures=0)
        return item
    item.update(
        ok=verified.checkpoint.size == size,
        cosignatures=len(verified.cosignatures),
        cosigned_by=[c.witness.name for c in verified.cosignatures],
    )
    if not item["ok"]:
        item["error"] = f"kept as size {size} but says {verified.checkpoint.size}"
    return item


def inclusion(root: Path, trust: Trust, ledger: LedgerReader, seq: int) -> dict[str, Any]:
    """Entry ``seq``'s inclusion proof against the latest checkpoint, verified (the proof is
    built from the stored tree, then checked like ``heso verify --proof``: the checkpoint's
    signatures and threshold, and the entry's own bytes up the Merkle path)."""
    store = _checkpoint_store(ledger)
    sizes = store.sizes() if store is not None else []
    if not sizes:
        return {"status": "unavailable", "message": NO_TREE}
    if seq >= sizes[-1]:
        return {
            "status": "not_covered",
            "message": f"the latest checkpoint covers entries 0 to {sizes[-1] - 1}; "
            "run `heso checkpoint` to cover this one",
            "checkpoint_size": sizes[-1],
        }
    try:
        keys = log_trust(root, trust, ledger)
        proof = inclusion_proof(ledger, seq)
        receipt = loads_strict(ledger.line(seq))["receipt"]
        verified = verify_receipt_inclusion(
            receipt,
            proof,
            log_keys_for(proof.checkpoint, keys.operators),
            witnesses=keys.witnesses,
            threshold=keys.threshold,
        )
    except (CanonicalizationError, KeyError, TypeError) as exc:
        return {"status": "failed", "message": f"entry {seq} is not a receipt: {exc}"}
    except (TransparencyError, ChainError, HesoConfigError) as exc:
        return {"status": "failed", "message": str(exc)}
    cp = verified.checkpoint
    return {
        "status": "verified",
        "checkpoint_size": cp.size,
        "root": base64.b64encode(cp.root).decode(),
        "path_length": len(proof.path),
        "cosignatures": len(verified.cosignatures),
        "threshold": keys.threshold,
        "pinned_by": keys.pinned_by,
        "proof": proof.to_text(),
    }
