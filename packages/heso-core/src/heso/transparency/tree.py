"""The log's Merkle tree, kept incrementally: O(log n) work per append, O(log n) reads per proof.

:class:`MerkleTree` keeps the *right edge* of the tree in memory (the roots of the perfect
subtrees a tree of ``n`` leaves splits into, one per 1 bit of ``n``) and writes every new hash
to a :class:`~heso.transparency.hash_store.HashStore`. An append hashes the leaf and merges it
with the edge (one node hash on average, ``log n`` at most); a proof for any entry and any
earlier size reads the O(log n) stored hashes it needs in one batch. Nothing is ever
recomputed from the leaves.

Proof ranges follow RFC 6962 section 2.1.1 (``PATH``) and 2.1.2 (``SUBPROOF``): every hash in a
proof is the root of a range of leaves; a range is a perfect subtree (one stored node) or the
ragged right end of the tree (its perfect subtrees, folded right to left).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Final

from heso.errors import TransparencyError
from heso.transparency.hash_store import (
    MAX_TREE_SIZE,
    HashStore,
    group_start,
    node_index,
    size_for_hash_count,
)
from heso.transparency.merkle import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash, split_point

__all__ = [
    "CompactRange",
    "MerkleTree",
    "consistency_ranges",
    "inclusion_ranges",
    "perfect_subtrees",
]

EXTEND_CHUNK: Final = 4096
"""Leaves :meth:`MerkleTree.extend` hashes per store write (bounds its memory)."""

Range = tuple[int, int]
"""Leaves ``[start, end)``."""


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect subtrees ``(level, index)`` that make up leaves ``[start, end)``, left to
    right, for a range RFC 6962 hashes as one node (``start`` aligned to the range's width)."""
    out = []
    while start < end:
        level = (end - start).bit_length() - 1
        out.append((level, start >> level))
        start += 1 << level
    return out


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The leaf ranges whose roots form the inclusion proof of leaf ``index`` in a tree of
    ``size`` leaves, from the leaf's sibling up (RFC 6962 ``PATH``)."""
    ranges = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index - lo < k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def consistency_ranges(old: int, new: int) -> list[Range]:
    """The leaf ranges whose roots form the consistency proof from ``old`` to ``new`` leaves
    (``0 < old < new``), in proof order (RFC 6962 ``SUBPROOF``)."""
    ranges = []
    lo, hi, whole = 0, new, True
    while True:
        if old - lo == hi - lo:
            if not whole:
                ranges.append((lo, hi))
            break
        k = split_point(hi - lo)
        if old - lo <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            whole = False
    ranges.reverse()
    return ranges


def _fold(hashes: Sequence[bytes]) -> bytes:
    """The root over perfect-subtree roots listed left to right (largest first)."""
    r = hashes[-1]
    for h in reversed(hashes[:-1]):
        r = node_hash(h, r)
    return r


class CompactRange:
    """The right edge of a tree: the roots of the perfect subtrees ``size`` leaves split into
    (largest first). O(log n) memory; one pass over a log's entries gives its root at any
    size, with nothing stored (how a verifier recomputes the tree from the entries)."""

    __slots__ = ("edge", "size")

    def __init__(self, edge: Sequence[bytes] = (), size: int = 0) -> None:
        if len(edge) != size.bit_count():
            raise TransparencyError(f"a tree of size {size} has {size.bit_count()} edge hashes")
        self.edge = list(edge)
        self.size = size

    def append_hash(self, hashed_leaf: bytes) -> list[bytes]:
        """Add a leaf by its hash; returns the hashes this creates: the leaf hash, then the
        root of each perfect subtree it completes (one per trailing 1 bit of the old size)."""
        edge, h, m = self.edge, hashed_leaf, self.size
        group = [h]
        while m & 1:
            h = node_hash(edge.pop(), h)
            group.append(h)
            m >>= 1
        edge.append(h)
        self.size += 1
        return group

    def append(self, leaf: bytes) -> list[bytes]:
        """Add a leaf (an entry's bytes); see :meth:`append_hash`."""
        return self.append_hash(leaf_hash(leaf))

    def root(self) -> bytes:
        """The root hash at the current size."""
        return _fold(self.edge) if self.edge else EMPTY_ROOT


class MerkleTree:
    """An append-only RFC 6962 tree over a :class:`HashStore`.

    ``size``, when given, is the number of entries the log holds: a longer store is cut back to
    it (hashes of entries the log no longer has), a shorter one leaves :attr:`size` behind for
    the owner to catch up with :meth:`append`. Not thread-safe: the log's write lock
    serializes appends; proofs only read final hashes and may run alongside.
    """

    def __init__(self, store: HashStore, *, size: int | None = None) -> None:
        self._store = store
        self._range = CompactRange()
        self.reload(size)

    # -- state --------------------------------------------------------------------------------

    @property
    def store(self) -> HashStore:
        """Where the hashes live."""
        return self._store

    @property
    def size(self) -> int:
        """The number of leaves."""
        return self._range.size

    def reload(self, size: int | None = None) -> None:
        """Re-read the size and right edge from the store (another writer appended, or the
        store was repaired); with ``size``, cut a longer store back to ``size`` leaves."""
        stored = size_for_hash_count(self._store.hash_count())
        if size is not None:
            if size < 0 or size > MAX_TREE_SIZE:
                raise TransparencyError(f"invalid tree size {size}")
            if stored > size:
                self._store.truncate(group_start(size))
                stored = size
        self._range = CompactRange(self._read_nodes(perfect_subtrees(0, stored)), stored)

    def truncate(self, size: int) -> None:
        """Drop every leaf from ``size`` on (the log was cut back to ``size`` entries)."""
        if not 0 <= size <= self.size:
            raise TransparencyError(f"cannot truncate a tree of size {self.size} to {size}")
        self._store.truncate(group_start(size))
        self.reload(size)

    # -- appending -----------------------------------------------------------------------------

    def append(self, leaf: bytes) -> int:
        """Append one leaf (an entry's bytes); returns its index."""
        return self._append(leaf_hash(leaf))

    def append_hash(self, hashed_leaf: bytes) -> int:
        """Append a leaf by its leaf hash; returns its index."""
        if type(hashed_leaf) is not bytes or len(hashed_leaf) != HASH_SIZE:
            raise TransparencyError(f"a leaf hash is {HASH_SIZE} bytes")
        return self._append(hashed_leaf)

    def _append(self, hashed_leaf: bytes) -> int:
        n = self._range.size
        group = self._range.append_hash(hashed_leaf)
        try:
            self._store.append_hashes(group_start(n), group)
        except BaseException:
            self.reload()  # not stored: rebuild the edge from what the store holds
            raise
        return n

    def extend(self, leaves: Iterable[bytes]) -> int:
        """Append many leaves, storing the hashes of each ``EXTEND_CHUNK`` of them in one
        write; returns the new size."""
        it = iter(leaves)
        while chunk := list(itertools.islice(it, EXTEND_CHUNK)):
            start = self._range.size
            add = self._range.append_hash
            hashes: list[bytes] = []
            for leaf in chunk:
                hashes += add(leaf_hash(leaf))
            try:
                self._store.append_hashes(group_start(start), hashes)
            except BaseException:
                self.reload()  # not stored: rebuild the edge from what the store holds
                raise
        return self.size

    # -- reading -------------------------------------------------------------------------------

    def root(self, size: int | None = None) -> bytes:
        """The root hash of the tree at ``size`` leaves (default: now)."""
        if size is None or size == self.size:
            return self._range.root()
        self._check_size(size)
        if size == 0:
            return EMPTY_ROOT
        return _fold(self._read_nodes(perfect_subtrees(0, size)))

    def leaf_hash(self, index: int) -> bytes:
        """The stored leaf hash of entry ``index``."""
        if not 0 <= index < self.size:
            raise TransparencyError(f"no leaf {index} in a tree of size {self.size}")
        return self._store.read_hashes([node_index(0, index)])[0]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The inclusion proof of leaf ``index`` in the tree at ``size`` leaves (default: now),
        sibling first (RFC 6962 section 2.1.1)."""
        size = self.size if size is None else self._check_size(size)
        if not 0 <= index < size:
            raise TransparencyError(f"no leaf {index} in a tree of size {size}")
        return self._range_roots(inclusion_ranges(index, size))

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """The consistency proof from ``old`` to ``new`` leaves (default: now); empty when
        ``old`` is 0 or equals ``new`` (RFC 6962 section 2.1.2)."""
        new = self.size if new is None else self._check_size(new)
        if not 0 <= old <= new:
            raise TransparencyError(f"no consistency proof from size {old} to {new}")
        if old == 0 or old == new:
            return []
        return self._range_roots(consistency_ranges(old, new))

    # -- internals -----------------------------------------------------------------------------

    def _check_size(self, size: int) -> int:
        if type(size) is not int or not 0 <= size <= self.size:
            raise TransparencyError(f"tree size {size!r} is not between 0 and {self.size}")
        return size

    def _read_nodes(self, nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        if not nodes:
            return []
        return self._store.read_hashes([node_index(level, k) for level, k in nodes])

    def _range_roots(self, ranges: Sequence[Range]) -> list[bytes]:
        """The root of each range, reading every node they need in one batch."""
        parts = [perfect_subtrees(lo, hi) for lo, hi in ranges]
        flat = [node for part in parts for node in part]
        hashes = self._read_nodes(flat)
        out, i = [], 0
        for part in parts:
            out.append(_fold(hashes[i : i + len(part)]))
            i += len(part)
        return out
