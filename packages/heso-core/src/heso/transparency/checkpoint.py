"""C2SP ``tlog-checkpoint``: a log's signed tree head, and its verification with witnesses.

A checkpoint is a signed note whose text is exactly

    <origin>
    <tree size, decimal, no leading zeros>
    <root hash, base64>
    [extension lines]

each line ending in a newline. The log signs it (an Ed25519 note signature); witnesses add
cosignatures. :func:`open_checkpoint` accepts it only if a trusted log key signed it and at
least ``threshold`` distinct trusted witnesses cosigned it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from heso.errors import TransparencyError
from heso.keys import PublicKey
from heso.transparency.cosignature import CosignatureVerifier
from heso.transparency.merkle import EMPTY_ROOT, HASH_SIZE, verify_consistency
from heso.transparency.note import (
    Note,
    OpenedNote,
    Signature,
    Signer,
    VerifiedSignature,
    Verifier,
    open_note,
    sign_note,
)
from heso.transparency.tree import MerkleTree

__all__ = [
    "Checkpoint",
    "Cosignature",
    "VerifiedCheckpoint",
    "default_origin",
    "issue_checkpoint",
    "open_checkpoint",
    "sign_checkpoint",
    "verify_checkpoint_consistency",
]

MAX_SIZE: Final = (1 << 64) - 1
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


def parse_decimal(text: str, what: str) -> int:
    """A size or index line: a decimal with no leading zeros, below 2**64."""
    if _DECIMAL.fullmatch(text) is None or int(text) > MAX_SIZE:
        raise TransparencyError(f"invalid {what} {text[:30]!r}: a decimal with no leading zeros")
    return int(text)


def parse_hash(text: str, what: str) -> bytes:
    """A hash line: the canonical base64 of 32 bytes."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != HASH_SIZE or base64.b64encode(raw).decode() != text:
        raise TransparencyError(f"invalid {what} {text[:60]!r}: base64 of 32 bytes")
    return raw


def default_origin(operator: PublicKey) -> str:
    """An origin line naming one heso log by its operator key, for projects that set none:
    ``heso/<first 16 hex digits of SHA-256(operator public key)>``."""
    return "heso/" + hashlib.sha256(operator.raw).hexdigest()[:16]


@dataclass(frozen=True)
class Checkpoint:
    """The body of a checkpoint: origin, tree size, root hash and optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin or "\n" in self.origin:
            raise TransparencyError("a checkpoint origin is one non-empty line")
        if any(c < " " for c in self.origin):
            raise TransparencyError("a checkpoint origin may not contain control characters")
        if type(self.size) is not int or not 0 <= self.size <= MAX_SIZE:
            raise TransparencyError(f"invalid checkpoint tree size {self.size!r}")
        if type(self.root) is not bytes or len(self.root) != HASH_SIZE:
            raise TransparencyError(f"a checkpoint root hash is {HASH_SIZE} bytes")
        for line in self.extensions:
            if not line or "\n" in line or any(c < " " for c in line):
                raise TransparencyError("a checkpoint extension is one non-empty line")

    def text(self) -> str:
        """The note text of this checkpoint."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "".join(line + "\n" for line in (*lines, *self.extensions))

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse a checkpoint's note text (exactly the form :meth:`text` writes)."""
        if not text.endswith("\n"):
            raise TransparencyError("a checkpoint's text ends with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise TransparencyError("a checkpoint has an origin, a tree size and a root hash line")
        origin, size, root = lines[:3]
        return cls(
            origin,
            parse_decimal(size, "checkpoint tree size line"),
            parse_hash(root, "checkpoint root hash line"),
            tuple(lines[3:]),
        )


@dataclass(frozen=True)
class Cosignature:
    """A verified witness cosignature: who, and the time it claims."""

    witness: CosignatureVerifier
    timestamp: int


@dataclass(frozen=True)
class VerifiedCheckpoint:
    """A checkpoint whose log signature (and the cosignatures counted) verified."""

    checkpoint: Checkpoint
    note: OpenedNote
    log_keys: tuple[Verifier, ...]
    """The trusted log keys that signed it."""
    cosignatures: tuple[Cosignature, ...]
    """One per distinct trusted witness that cosigned it."""


def sign_checkpoint(
    checkpoint: Checkpoint, signer: Signer, *, cosignatures: Sequence[Signature] = ()
) -> bytes:
    """The signed note of ``checkpoint``, carrying ``cosignatures`` along."""
    return sign_note(checkpoint.text(), [signer], keep=cosignatures)


def open_checkpoint(
    data: bytes | str | Note,
    log_keys: Sequence[Verifier],
    *,
    origin: str | None = None,
    witnesses: Sequence[CosignatureVerifier] = (),
    threshold: int = 0,
) -> VerifiedCheckpoint:
    """Verify a signed checkpoint.

    It must be signed by one of ``log_keys`` (a checkpoint signed by witnesses alone is not a
    log's statement), name ``origin`` if given, and carry valid cosignatures from at least
    ``threshold`` distinct ``witnesses``. A signature by any trusted key that fails to verify
    rejects the checkpoint. Raises :class:`TransparencyError`.
    """
    if not log_keys:
        raise TransparencyError("no log key given to verify the checkpoint with")
    if any(isinstance(k, CosignatureVerifier) for k in log_keys):
        raise TransparencyError(
            "a witness cosignature key (type 0x04) was given as a log key: list it as a witness"
        )
    if threshold > len(witnesses):
        raise TransparencyError(
            f"a threshold of {threshold} cosignatures needs at least {threshold} witness keys"
        )
    opened = open_note(data, [*log_keys, *witnesses])
    logs = {id(k) for k in log_keys}
    by_log = tuple(v.verifier for v in opened.verified if id(v.verifier) in logs)
    if not by_log:
        raise TransparencyError(
            "the checkpoint is not signed by a trusted log key (only by witnesses)"
        )
    checkpoint = Checkpoint.from_text(opened.text)
    if checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
        raise TransparencyError("a checkpoint of size 0 must carry the empty tree's root hash")
    if origin is not None and checkpoint.origin != origin:
        raise TransparencyError(f"the checkpoint is for log {checkpoint.origin!r}, not {origin!r}")
    cosigs = _cosignatures(opened.verified, witnesses)
    if len(cosigs) < threshold:
        raise TransparencyError(
            f"the checkpoint carries {len(cosigs)} valid witness cosignature(s); "
            f"{threshold} required"
        )
    return VerifiedCheckpoint(checkpoint, opened, by_log, cosigs)


def _cosignatures(
    verified: Sequence[VerifiedSignature], witnesses: Sequence[CosignatureVerifier]
) -> tuple[Cosignature, ...]:
    trusted = {id(w) for w in witnesses}
    out: dict[bytes, Cosignature] = {}
    for v in verified:
        w = v.verifier
        if id(w) in trusted and isinstance(w, CosignatureVerifier):
            # One witness key counts once, however many names it is listed under.
            out.setdefault(w.public_key.raw, Cosignature(w, w.timestamp(v.signature.signature)))
    return tuple(out.values())


def verify_checkpoint_consistency(old: Checkpoint, new: Checkpoint, path: Sequence[bytes]) -> None:
    """Check that checkpoint ``new`` extends checkpoint ``old`` of the same log (both already
    verified); raises :class:`TransparencyError` on a rewrite, rollback or fork."""
    if old.origin != new.origin:
        raise TransparencyError(f"checkpoints of two logs: {old.origin!r} and {new.origin!r}")
    if new.size < old.size:
        raise TransparencyError(
            f"the newer checkpoint has {new.size} entries, fewer than the older {old.size}: "
            "the log was rolled back"
        )
    if old.size == 0:
        if path:
            raise TransparencyError("a consistency proof from the empty tree must be empty")
        return
    try:
        verify_consistency(old.size, new.size, old.root, new.root, path)
    except TransparencyError as exc:
        raise TransparencyError(
            f"the checkpoint at size {new.size} does not extend the one at size {old.size} "
            f"(the log was rewritten or forked): {exc}"
        ) from None


def issue_checkpoint(
    tree: MerkleTree,
    signer: Signer,
    *,
    origin: str | None = None,
    previous: Checkpoint | None = None,
) -> bytes:
    """Sign a checkpoint of ``tree`` as it is now (origin: the signer's key name).

    With ``previous`` (the log's last checkpoint) it first proves, from the tree's own stored
    hashes, that the new tree extends it, and refuses to sign otherwise: a log never signs two
    inconsistent checkpoints, even when its hash store was altered behind its back.
    """
    checkpoint = Checkpoint(origin or signer.name, tree.size, tree.root())
    if previous is not None:
        if previous.size > tree.size:
            raise TransparencyError(
                f"refusing to sign size {tree.size}: the last checkpoint has {previous.size} "
                "entries (the log lost entries)"
            )
        try:
            proof = tree.consistency_proof(previous.size)
            verify_checkpoint_consistency(previous, checkpoint, proof)
        except TransparencyError as exc:
            raise TransparencyError(f"refusing to sign a checkpoint: {exc}") from None
    return sign_checkpoint(checkpoint, signer)
