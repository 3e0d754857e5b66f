"""Proof files: inclusion as C2SP ``tlog-proof``, consistency as a ``tlog-witness`` request.

An inclusion proof (``.tlog-proof``) carries everything to check offline that an entry is in
the log: the entry's index, the Merkle path, and the signed (and cosigned) checkpoint::

    c2sp.org/tlog-proof@v1
    extra <base64 of the entry's prev hash, 32 bytes>
    index <n>
    <one base64 hash per line, from the leaf's sibling up>

    <the checkpoint, verbatim>

For heso the ``extra`` line carries the entry's ``prev`` (the BLAKE3 hash that links it to the
entry before), so a receipt file plus this proof rebuild the exact chain line that is the leaf.

A consistency proof is the body of a ``tlog-witness`` add-checkpoint request: ``old <size>``,
one base64 hash per line, a blank line, then the newer checkpoint. It proves the newer
checkpoint's tree extends any checkpoint of the older size, and a witness accepts it as is.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from heso.errors import TransparencyError
from heso.ledger.format import encode_entry
from heso.transparency.checkpoint import (
    Checkpoint,
    VerifiedCheckpoint,
    open_checkpoint,
    parse_decimal,
    parse_hash,
    verify_checkpoint_consistency,
)
from heso.transparency.cosignature import CosignatureVerifier
from heso.transparency.merkle import leaf_hash, verify_inclusion
from heso.transparency.note import MAX_NOTE_BYTES, Verifier

__all__ = [
    "TLOG_PROOF_V1",
    "ConsistencyProof",
    "InclusionProof",
    "entry_leaf",
]

TLOG_PROOF_V1: Final = "c2sp.org/tlog-proof@v1"
MAX_PROOF_HASHES: Final = 63
"""Hashes in a consistency proof (the witness protocol's limit; 2**63 leaves need fewer)."""
_MAX_INCLUSION_HASHES: Final = 64


def _hash_lines(hashes: Sequence[bytes]) -> str:
    return "".join(base64.b64encode(h).decode() + "\n" for h in hashes)


def _as_text(data: bytes | str) -> str:
    if isinstance(data, bytes):
        if len(data) > 2 * MAX_NOTE_BYTES:
            raise TransparencyError("a proof file is at most 2 MiB")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise TransparencyError("a proof file must be UTF-8 text") from None
    return data


def _split_checkpoint(text: str) -> tuple[list[str], str]:
    """The header lines before the first blank line, and the checkpoint after it."""
    head, sep, checkpoint = text.partition("\n\n")
    if not sep or not checkpoint:
        raise TransparencyError("a proof needs a blank line and then the checkpoint")
    return head.split("\n"), checkpoint


@dataclass(frozen=True)
class InclusionProof:
    """A C2SP ``tlog-proof``: entry ``index`` is in the tree of the signed ``checkpoint``."""

    index: int
    path: tuple[bytes, ...]
    checkpoint: bytes
    """The signed checkpoint note, verbatim (with any witness cosignatures)."""
    extra: bytes | None = None
    """Unauthenticated data to rebuild the leaf (heso: the entry's ``prev`` hash)."""

    def to_text(self) -> str:
        lines = [TLOG_PROOF_V1]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode())
        lines.append(f"index {self.index}")
        head = "".join(line + "\n" for line in lines) + _hash_lines(self.path)
        return head + "\n" + self.checkpoint.decode("utf-8")

    @classmethod
    def from_text(cls, data: bytes | str) -> InclusionProof:
        head, checkpoint = _split_checkpoint(_as_text(data))
        if not head or head[0] != TLOG_PROOF_V1:
            raise TransparencyError(f"not a tlog proof: the first line must be {TLOG_PROOF_V1}")
        rest = head[1:]
        extra = None
        if rest and rest[0].startswith("extra "):
            try:
                extra = base64.b64decode(rest[0][len("extra ") :], validate=True)
            except (binascii.Error, ValueError):
                raise TransparencyError("the proof's extra line is not base64") from None
            rest = rest[1:]
        if not rest or not rest[0].startswith("index "):
            raise TransparencyError("the proof needs an 'index <n>' line")
        index = parse_decimal(rest[0][len("index ") :], "entry index")
        if len(rest) - 1 > _MAX_INCLUSION_HASHES:
            raise TransparencyError(
                f"an inclusion proof has at most {_MAX_INCLUSION_HASHES} hashes"
            )
        path = tuple(parse_hash(line, "proof hash line") for line in rest[1:])
        return cls(index, path, checkpoint.encode("utf-8"), extra)

    def verify(
        self,
        leaf: bytes,
        log_keys: Sequence[Verifier],
        *,
        origin: str | None = None,
        witnesses: Sequence[CosignatureVerifier] = (),
        threshold: int = 0,
    ) -> VerifiedCheckpoint:
        """Check that ``leaf`` (the entry's bytes) is entry :attr:`index` of the checkpointed
        tree; returns the verified checkpoint or raises :class:`TransparencyError`."""
        # (1) The leaf hash; (2, 3) the checkpoint, its log signature and the cosignatures.
        hashed = leaf_hash(leaf)
        verified = open_checkpoint(
            self.checkpoint, log_keys, origin=origin, witnesses=witnesses, threshold=threshold
        )
        # (4) The path binds the leaf to the checkpoint's root.
        cp = verified.checkpoint
        verify_inclusion(hashed, self.index, cp.size, self.path, cp.root)
        return verified


def entry_leaf(receipt: Mapping[str, Any], proof: InclusionProof) -> bytes:
    """The chain line (the leaf) of ``receipt`` at the proof's index, with the proof's
    ``prev``: what a receipt file plus a heso proof must hash to."""
    if proof.extra is None or len(proof.extra) != 32:
        raise TransparencyError(
            "this proof carries no entry prev hash (extra line): it is not a heso entry proof"
        )
    return encode_entry(proof.index, proof.extra.hex(), receipt)


@dataclass(frozen=True)
class ConsistencyProof:
    """Proof that the signed ``checkpoint`` extends the log's tree at ``old_size``; its text
    is a ``tlog-witness`` add-checkpoint request body."""

    old_size: int
    path: tuple[bytes, ...]
    checkpoint: bytes
    """The newer signed checkpoint note, verbatim."""

    def to_bytes(self) -> bytes:
        head = f"old {self.old_size}\n" + _hash_lines(self.path)
        return head.encode() + b"\n" + self.checkpoint

    @classmethod
    def from_bytes(cls, data: bytes | str) -> ConsistencyProof:
        head, checkpoint = _split_checkpoint(_as_text(data))
        if not head[0].startswith("old "):
            raise TransparencyError("a consistency proof starts with an 'old <size>' line")
        old = parse_decimal(head[0][len("old ") :], "old tree size")
        if len(head) - 1 > MAX_PROOF_HASHES:
            raise TransparencyError(f"a consistency proof has at most {MAX_PROOF_HASHES} hashes")
        path = tuple(parse_hash(line, "proof hash line") for line in head[1:])
        return cls(old, path, checkpoint.encode("utf-8"))

    def verify(
        self,
        old: Checkpoint,
        log_keys: Sequence[Verifier],
        *,
        witnesses: Sequence[CosignatureVerifier] = (),
        threshold: int = 0,
    ) -> VerifiedCheckpoint:
        """Check the newer checkpoint's signatures and that it extends ``old`` (a checkpoint
        the caller already trusts); returns the newer checkpoint, verified."""
        if old.size != self.old_size:
            raise TransparencyError(
                f"the proof starts at size {self.old_size}, the old checkpoint has {old.size}"
            )
        verified = open_checkpoint(
            self.checkpoint, log_keys, origin=old.origin, witnesses=witnesses, threshold=threshold
        )
        verify_checkpoint_consistency(old, verified.checkpoint, self.path)
        return verified
