"""Proofs from a ledger, and their checks, for the CLI, the console and Python callers.

:func:`inclusion_proof` proves an entry is in a signed checkpoint (a C2SP ``tlog-proof`` whose
``extra`` line is the entry's ``prev``, so a receipt file plus the proof rebuild the leaf);
:func:`consistency_proof` proves a newer checkpoint extends an older one. Both read O(log n)
stored hashes. :func:`verify_receipt_inclusion` and :func:`verify_consistency_files` check them
with nothing but the files and the trusted keys, by the rules of
:mod:`heso.transparency.proof` and :mod:`heso.transparency.checkpoint`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from heso.canonical import loads_strict
from heso.errors import ChainError, TransparencyError
from heso.keys import PublicKey
from heso.ledger.store import LedgerReader
from heso.transparency.checkpoint import Checkpoint, VerifiedCheckpoint, open_checkpoint
from heso.transparency.cosignature import CosignatureVerifier
from heso.transparency.note import Ed25519Verifier, Verifier, parse_note
from heso.transparency.proof import ConsistencyProof, InclusionProof, entry_leaf

__all__ = [
    "checkpoint_of",
    "consistency_proof",
    "covering_checkpoint",
    "inclusion_proof",
    "log_keys_for",
    "verify_consistency_files",
    "verify_receipt_inclusion",
]


def checkpoint_of(note: bytes) -> Checkpoint:
    """The checkpoint body of a signed note (not verified: for choosing, never trusting)."""
    return Checkpoint.from_text(parse_note(note).text)


def log_keys_for(note: bytes | str, operators: Collection[PublicKey]) -> list[Verifier]:
    """Note verifiers for a heso log's checkpoint: each trusted operator key under the
    checkpoint's origin (heso signs checkpoints with the operator key, named by the origin)."""
    data = note.encode() if isinstance(note, str) else note
    origin = checkpoint_of(data).origin
    return [Ed25519Verifier(origin, key) for key in operators]


def covering_checkpoint(ledger: LedgerReader, seq: int) -> bytes:
    """The latest kept checkpoint (the one witnesses cosigned last), if it holds entry
    ``seq``."""
    store = ledger.checkpoint_store()
    sizes = store.sizes()
    note = store.get(sizes[-1]) if sizes and sizes[-1] > seq else None
    if note is None:
        raise ChainError(
            f"no checkpoint covers entry {seq} yet: run `heso checkpoint` to issue one"
        )
    return note


def inclusion_proof(
    ledger: LedgerReader, seq: int, checkpoint: bytes | None = None
) -> InclusionProof:
    """The ``tlog-proof`` of entry ``seq`` in ``checkpoint`` (default: the latest kept
    checkpoint). The proof is checked against the checkpoint's root before it
    is returned, so a damaged tree never yields a proof that would not verify."""
    note = checkpoint if checkpoint is not None else covering_checkpoint(ledger, seq)
    cp = checkpoint_of(note)
    if not 0 <= seq < cp.size:
        raise TransparencyError(f"entry {seq} is not in the checkpoint of size {cp.size}")
    tree = ledger.merkle_tree()
    if tree.size < cp.size:
        raise TransparencyError(
            f"the stored tree has {tree.size} leaves, fewer than the checkpoint's {cp.size}"
        )
    line = ledger.line(seq)
    prev = loads_strict(line)["prev"]
    proof = InclusionProof(
        seq, tuple(tree.inclusion_proof(seq, cp.size)), note, bytes.fromhex(prev)
    )
    from heso.transparency.merkle import leaf_hash, verify_inclusion

    verify_inclusion(leaf_hash(line), seq, cp.size, proof.path, cp.root)
    return proof


def consistency_proof(ledger: LedgerReader, old: int, new: bytes) -> ConsistencyProof:
    """Proof that checkpoint ``new`` (a signed note) extends the log's tree at ``old``."""
    size = checkpoint_of(new).size
    if old > size:
        raise TransparencyError(
            f"the newer checkpoint has {size} entries, fewer than the older {old}: "
            "the log was rolled back"
        )
    path = ledger.merkle_tree().consistency_proof(old, size)
    return ConsistencyProof(old, tuple(path), new)


def verify_receipt_inclusion(
    receipt: Mapping[str, Any],
    proof: InclusionProof,
    log_keys: Sequence[Verifier],
    *,
    origin: str | None = None,
    witnesses: Sequence[CosignatureVerifier] = (),
    threshold: int = 0,
) -> VerifiedCheckpoint:
    """Check that ``receipt`` is entry ``proof.index`` of the log under the proof's signed
    checkpoint (log key, ``threshold`` cosignatures, Merkle path); raises
    :class:`TransparencyError`. The receipt's own signature is checked separately."""
    return proof.verify(
        entry_leaf(receipt, proof),
        log_keys,
        origin=origin,
        witnesses=witnesses,
        threshold=threshold,
    )


def verify_consistency_files(
    old: bytes,
    new: bytes,
    log_keys: Sequence[Verifier],
    *,
    witnesses: Sequence[CosignatureVerifier] = (),
    threshold: int = 0,
) -> tuple[VerifiedCheckpoint, VerifiedCheckpoint]:
    """Check that ``new`` (a consistency proof file) extends ``old`` (a signed checkpoint);
    both carry the log's signature, and the newer one ``threshold`` cosignatures."""
    older = open_checkpoint(old, log_keys)
    proof = ConsistencyProof.from_bytes(new)
    newer = proof.verify(older.checkpoint, log_keys, witnesses=witnesses, threshold=threshold)
    return older, newer
