"""RFC 6962 Merkle tree hashing with SHA-256, and the proof verifiers of RFC 9162.

This is C2SP ``merkle-tree`` / RFC 6962 section 2.1: a leaf hashes as
``SHA-256(0x00 || leaf)``, an interior node as ``SHA-256(0x01 || left || right)``, the empty
tree as ``SHA-256("")``. For heso a leaf is one audit-chain line without its newline
(``docs/spec/transparency.md``).

The verifiers follow RFC 9162 section 2.1.3.2 (inclusion) and 2.1.4.2 (consistency) step by
step. They return ``None`` or raise :class:`~heso.errors.TransparencyError`; they need no store
and run in O(log n) hashes, so the CLI, the console and the page check proofs by the same rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

from heso.errors import TransparencyError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "leaf_hash",
    "node_hash",
    "split_point",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32
"""Bytes in every tree hash (SHA-256)."""
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
"""The root hash of the empty tree: SHA-256 of the empty string."""

_sha256 = hashlib.sha256


def leaf_hash(leaf: bytes) -> bytes:
    """``SHA-256(0x00 || leaf)``: the hash of one leaf."""
    return _sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an interior node."""
    return _sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n >= 2``): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash(value: object, what: str) -> None:
    if type(value) is not bytes or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, (bytes, bytearray)) else type(value).__name__
        raise TransparencyError(f"{what} must be {HASH_SIZE} bytes, got {size}")


def _check_size(value: object, what: str) -> int:
    if type(value) is not int or value < 0:
        raise TransparencyError(f"{what} must be a non-negative integer, got {value!r}")
    return value


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that the leaf hash ``leaf`` is entry ``index`` of the tree of ``size`` leaves
    whose root hash is ``root``; raise :class:`TransparencyError` if not.

    RFC 9162 section 2.1.3.2; ``proof`` lists the sibling hashes from the leaf up.
    """
    _check_size(index, "leaf index")
    _check_size(size, "tree size")
    _check_hash(leaf, "the leaf hash")
    _check_hash(root, "the root hash")
    for p in proof:
        _check_hash(p, "an inclusion proof hash")
    # (1) The index must lie inside the tree.
    if index >= size:
        raise TransparencyError(f"leaf index {index} is not in a tree of size {size}")
    # (2, 3) fn walks the leaf's path, sn the path of the tree's last leaf.
    fn, sn, r = index, size - 1, leaf
    # (4) Fold in each proof hash, on the side the paths say.
    for p in proof:
        if sn == 0:
            raise TransparencyError(
                f"inclusion proof has {len(proof)} hashes, more than a tree of size {size} needs"
            )
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    # (5) The whole path must be used and end at the root.
    if sn != 0:
        raise TransparencyError(
            f"inclusion proof has {len(proof)} hashes, fewer than a tree of size {size} needs"
        )
    if r != root:
        raise TransparencyError(
            f"inclusion proof for leaf {index} does not lead to the root hash of size {size}"
        )


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``size2`` leaves with root ``root2`` extends the tree of
    ``size1`` leaves with root ``root1``; raise :class:`TransparencyError` if not.

    RFC 9162 section 2.1.4.2. Equal sizes need an empty proof and equal roots. A proof from
    the empty tree proves nothing and is refused here: every tree extends the empty tree, so a
    caller handles size 0 itself (the witness protocol does, with an empty proof).
    """
    _check_size(size1, "the first tree size")
    _check_size(size2, "the second tree size")
    for p in proof:
        _check_hash(p, "a consistency proof hash")
    if size2 < size1:
        raise TransparencyError(f"tree size {size2} is smaller than {size1}: not an extension")
    if size1 == 0:
        raise TransparencyError("a consistency proof from the empty tree proves nothing")
    _check_hash(root1, "the first root hash")
    _check_hash(root2, "the second root hash")
    if size1 == size2:
        if proof:
            raise TransparencyError("equal tree sizes need an empty consistency proof")
        if root1 != root2:
            raise TransparencyError(f"two different root hashes for tree size {size1}")
        return
    # (1) A proof between different sizes is never empty.
    if not proof:
        raise TransparencyError(f"empty consistency proof from size {size1} to {size2}")
    # (2) When the first tree is a perfect subtree, its root is the proof's starting point.
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    # (3, 4) fn walks the first tree's last leaf, sn the second's; skip the levels where the
    # first tree's right edge is a left child that the proof does not repeat.
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # (5, 6) fr rebuilds the first root, sr the second.
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise TransparencyError(
                f"consistency proof from size {size1} to {size2} has too many hashes"
            )
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # (7) Both roots must come out, with the whole path used.
    if sn != 0:
        raise TransparencyError(f"consistency proof from size {size1} to {size2} is too short")
    if fr != root1:
        raise TransparencyError(f"consistency proof does not lead to the root hash of size {size1}")
    if sr != root2:
        raise TransparencyError(f"consistency proof does not lead to the root hash of size {size2}")
