"""Where the tree's hashes live: one append-only sequence of 32-byte hashes, and its layout.

Appending leaf ``n`` stores one *group* of hashes: the leaf hash, then the root of every perfect
subtree that leaf completes (one per trailing 1 bit of ``n``), lowest first. Groups follow each
other in leaf order, so the sequence only ever grows at its end and every stored hash is final:

    group_start(n) = 2n - popcount(n)          (hashes stored before leaf n's group)
    group_size(n)  = 1 + trailing_ones(n)
    node (level L, index k) = hash number group_start((k + 1) * 2**L - 1) + L

The node ``(L, k)`` is the root of the perfect subtree over leaves ``[k * 2**L, (k+1) * 2**L)``.
A tree of ``n`` leaves holds ``group_start(n)`` hashes (fewer than ``2n``). Any proof reads
O(log n) of them by index; nothing is ever recomputed from the leaves.

A store keeps this sequence: :class:`FileHashStore` as a flat file of hashes (hash ``i`` at byte
``32 * i``), :class:`MemoryHashStore` in memory. A database keeps it as rows keyed by index, or as
one row per leaf holding that leaf's group (:func:`group_of` maps an index to its leaf and
offset), written in the same transaction as the entry (``docs/spec/transparency.md``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Protocol

from heso.errors import TransparencyError
from heso.transparency.merkle import HASH_SIZE

__all__ = [
    "FileHashStore",
    "HashStore",
    "MemoryHashStore",
    "group_of",
    "group_size",
    "group_start",
    "node_index",
    "size_for_hash_count",
]

MAX_TREE_SIZE: Final = 1 << 62
"""Largest tree size handled (far beyond any log; keeps every index a 64-bit integer)."""


def group_start(n: int) -> int:
    """How many hashes a tree of ``n`` leaves stores: where leaf ``n``'s group begins."""
    return 2 * n - n.bit_count()


def group_size(n: int) -> int:
    """How many hashes appending leaf ``n`` stores: its leaf hash and the nodes it completes."""
    return 1 + ((n ^ (n + 1)).bit_length() - 1)


def node_index(level: int, index: int) -> int:
    """The position of node ``(level, index)`` (a perfect subtree root) in the sequence."""
    return group_start(((index + 1) << level) - 1) + level


def size_for_hash_count(count: int) -> int:
    """The largest tree size whose hashes fit in ``count`` stored hashes."""
    if count < 0:
        raise ValueError("a hash count is never negative")
    lo, hi = 0, count // 2 + 64  # group_start(n) >= 2n - 64, so n <= count/2 + 32
    while lo < hi:  # group_start is strictly increasing: find the last n with start <= count
        mid = (lo + hi + 1) // 2
        if group_start(mid) <= count:
            lo = mid
        else:
            hi = mid - 1
    return lo


def group_of(position: int) -> tuple[int, int]:
    """``(leaf, offset)``: the leaf whose group holds hash ``position``, and where in it."""
    leaf = size_for_hash_count(position)
    return leaf, position - group_start(leaf)


class HashStore(Protocol):
    """The append-only sequence of tree hashes one log keeps (see the module docstring)."""

    def hash_count(self) -> int:
        """How many complete hashes are stored."""
        ...

    def read_hashes(self, positions: Sequence[int]) -> list[bytes]:
        """The hashes at ``positions`` (in that order); one round trip for the whole batch.

        Raises :class:`TransparencyError` if a position is not stored.
        """
        ...

    def append_hashes(self, start: int, hashes: Sequence[bytes]) -> None:
        """Store ``hashes`` at ``start``, ``start + 1``, …, dropping anything stored at or
        beyond ``start`` first (a torn or stale tail).

        ``hashes`` are whole groups: one leaf's (``start`` is its :func:`group_start`), or
        those of consecutive leaves in one batch (:meth:`MerkleTree.extend
        <heso.transparency.tree.MerkleTree.extend>`); :func:`group_size` splits them.
        """
        ...

    def truncate(self, count: int) -> None:
        """Keep only the first ``count`` hashes."""
        ...


def _missing(position: int, count: int) -> TransparencyError:
    return TransparencyError(
        f"tree hash {position} is not stored (the store holds {count}); "
        "the tree is behind its log: catch it up from the log's entries"
    )


class MemoryHashStore:
    """A :class:`HashStore` in memory (tests, tools, and trees rebuilt on the fly)."""

    def __init__(self) -> None:
        self._data = bytearray()

    def hash_count(self) -> int:
        return len(self._data) // HASH_SIZE

    def read_hashes(self, positions: Sequence[int]) -> list[bytes]:
        data, count = self._data, len(self._data) // HASH_SIZE
        out = []
        for p in positions:
            if not 0 <= p < count:
                raise _missing(p, count)
            out.append(bytes(data[p * HASH_SIZE : (p + 1) * HASH_SIZE]))
        return out

    def append_hashes(self, start: int, hashes: Sequence[bytes]) -> None:
        if start > self.hash_count():
            raise _missing(start - 1, self.hash_count())
        del self._data[start * HASH_SIZE :]
        self._data += b"".join(hashes)

    def truncate(self, count: int) -> None:
        del self._data[count * HASH_SIZE :]


class FileHashStore:
    """A :class:`HashStore` in one flat file: hash ``i`` is bytes ``[32i, 32i + 32)``.

    The file is derived data (the log's entries rebuild it), so an append is one ``pwrite``
    (of one leaf's group, or of a batch) and :meth:`sync` is the owner's choice. A torn last
    write leaves a partial group, which :class:`~heso.transparency.tree.MerkleTree` ignores
    and the next append overwrites. The
    owner opens the tree with the log's size (``MerkleTree(store, size=n)``), which also cuts
    anything written past it. Thread-safe; several processes must serialize appends (the
    log's own write lock does) and :meth:`~heso.transparency.tree.MerkleTree.reload` after
    another process appended.
    """

    def __init__(self, path: str | os.PathLike[str], *, writable: bool = True) -> None:
        self.path = Path(path)
        flags = (os.O_RDWR | os.O_CREAT) if writable else os.O_RDONLY
        self._fd: int | None = os.open(self.path, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
        self._lock = threading.Lock()
        self._end = -1  # where this store's last append ended (-1: unknown, check the file)

    def _fileno(self) -> int:
        if self._fd is None:
            raise TransparencyError(f"the tree hash store {self.path} is closed")
        return self._fd

    def hash_count(self) -> int:
        return os.fstat(self._fileno()).st_size // HASH_SIZE

    def read_hashes(self, positions: Sequence[int]) -> list[bytes]:
        fd, pread, size = self._fileno(), os.pread, HASH_SIZE
        out = []
        for p in positions:
            data = pread(fd, size, p * size) if p >= 0 else b""
            if len(data) != size:
                raise _missing(p, self.hash_count())
            out.append(data)
        return out

    def append_hashes(self, start: int, hashes: Sequence[bytes]) -> None:
        data = hashes[0] if len(hashes) == 1 else b"".join(hashes)
        offset = start * HASH_SIZE
        with self._lock:
            fd = self._fileno()
            if offset != self._end:  # the first append here, or after another writer's
                end = os.fstat(fd).st_size
                if offset > end - end % HASH_SIZE:
                    raise _missing(start - 1, end // HASH_SIZE)
                if end > offset:
                    os.ftruncate(fd, offset)  # a torn or stale tail beyond what we write
            self._end = -1
            written = os.pwrite(fd, data, offset)
            if written != len(data):
                os.ftruncate(fd, offset)
                raise OSError(f"short write to {self.path}: {written} of {len(data)} bytes")
            self._end = offset + len(data)

    def truncate(self, count: int) -> None:
        with self._lock:
            os.ftruncate(self._fileno(), count * HASH_SIZE)
            self._end = count * HASH_SIZE

    def sync(self) -> None:
        """``fsync`` the file."""
        os.fsync(self._fileno())

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> FileHashStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
