"""The stored-hash layout and its stores: append-only, O(log n) reads per proof, crash and
tamper behaviour of the file store, and the one-row-per-leaf form a database can use."""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from heso.errors import TransparencyError
from heso.transparency.hash_store import (
    FileHashStore,
    MemoryHashStore,
    group_of,
    group_size,
    group_start,
    node_index,
    size_for_hash_count,
)
from heso.transparency.merkle import leaf_hash, node_hash, verify_consistency, verify_inclusion
from heso.transparency.tree import MerkleTree


def entries(n: int, start: int = 0) -> list[bytes]:
    return [b'{"seq":%d}' % i for i in range(start, start + n)]


class CountingStore(MemoryHashStore):
    """Counts what the tree asks of its store."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.read_calls = 0
        self.appended: list[int] = []

    def read_hashes(self, positions: Sequence[int]) -> list[bytes]:
        self.reads += len(positions)
        self.read_calls += 1
        return super().read_hashes(positions)

    def append_hashes(self, start: int, hashes: Sequence[bytes]) -> None:
        self.appended.append(len(hashes))
        super().append_hashes(start, hashes)


class LeafRowStore:
    """A database-shaped store: one row per leaf holding that leaf's group of hashes."""

    def __init__(self) -> None:
        self.rows: dict[int, bytes] = {}

    def hash_count(self) -> int:
        n = len(self.rows)
        return group_start(n)

    def read_hashes(self, positions: Sequence[int]) -> list[bytes]:
        out = []
        for p in positions:
            leaf, offset = group_of(p)
            row = self.rows.get(leaf)
            if row is None or len(row) < 32 * (offset + 1):
                raise TransparencyError(f"hash {p} not stored")
            out.append(row[32 * offset : 32 * offset + 32])
        return out

    def append_hashes(self, start: int, hashes: Sequence[bytes]) -> None:
        leaf, offset = group_of(start)
        assert offset == 0, "whole groups: one row per entry"
        i = 0
        while i < len(hashes):  # a batch holds the groups of consecutive entries
            size = group_size(leaf)
            assert i + size <= len(hashes), "whole groups: one row per entry"
            self.rows[leaf] = b"".join(hashes[i : i + size])
            i, leaf = i + size, leaf + 1

    def truncate(self, count: int) -> None:
        for leaf in [k for k in self.rows if group_start(k) >= count]:
            del self.rows[leaf]


# -- the layout -----------------------------------------------------------------------------


def test_layout_arithmetic_is_consistent() -> None:
    assert [group_start(n) for n in range(9)] == [0, 1, 3, 4, 7, 8, 10, 11, 15]
    assert [group_size(n) for n in range(8)] == [1, 2, 1, 3, 1, 2, 1, 4]
    for n in range(2000):
        assert group_start(n + 1) == group_start(n) + group_size(n)
        assert size_for_hash_count(group_start(n)) == n
        # A partial group (a torn write) never counts as a leaf.
        for extra in range(1, group_size(n)):
            assert size_for_hash_count(group_start(n) + extra) == n
        for offset in range(group_size(n)):
            assert group_of(group_start(n) + offset) == (n, offset)
    big = (1 << 40) + 12345
    assert size_for_hash_count(group_start(big)) == big


def test_the_store_holds_each_node_where_node_index_says() -> None:
    d = entries(300)
    store = MemoryHashStore()
    tree = MerkleTree(store)
    tree.extend(d)
    assert store.hash_count() == group_start(300) == 2 * 300 - bin(300).count("1")
    level_hashes = [leaf_hash(x) for x in d]
    level = 0
    while len(level_hashes) > 1:
        for k, h in enumerate(level_hashes):
            assert store.read_hashes([node_index(level, k)]) == [h], (level, k)
        level_hashes = [
            node_hash(level_hashes[i], level_hashes[i + 1])
            for i in range(0, len(level_hashes) - 1, 2)
        ]
        level += 1


def test_appends_only_write_and_proofs_read_a_logarithmic_number_of_hashes() -> None:
    store = CountingStore()
    tree = MerkleTree(store)
    n = 1 << 17
    for i, e in enumerate(entries(n + 1234)):
        tree.append(e)
        assert store.appended[-1] == group_size(i)
    assert store.reads == 0, "an append must never read back (no recompute)"
    size = tree.size
    rng = random.Random(5)
    bound = 2 * size.bit_length() + 2
    for _ in range(50):
        s = rng.randrange(2, size + 1)
        i, old = rng.randrange(s), rng.randrange(1, s)
        for method, args in (
            (tree.inclusion_proof, (i, s)),
            (tree.consistency_proof, (old, s)),
            (tree.root, (s,)),
        ):
            store.reads = store.read_calls = 0
            method(*args)  # type: ignore[operator]
            assert store.reads <= bound and store.read_calls <= 1, (s, i, old, store.reads)


def test_a_reopened_tree_resumes_from_its_right_edge(tmp_path: Path) -> None:
    d = entries(1000)
    with FileHashStore(tmp_path / "tree") as store:
        tree = MerkleTree(store)
        tree.extend(d[:777])
        root_777 = tree.root()
    with FileHashStore(tmp_path / "tree") as store:
        store_reads = CountingReads(store)
        tree = MerkleTree(store_reads)
        assert tree.size == 777 and tree.root() == root_777
        assert store_reads.reads == bin(777).count("1"), "reopening reads only the right edge"
        tree.extend(d[777:])
    reference = MerkleTree(MemoryHashStore())
    reference.extend(d)
    assert tree.root() == reference.root()
    assert (tmp_path / "tree").read_bytes() == b"".join(
        reference.store.read_hashes(range(reference.store.hash_count()))
    )


class CountingReads:
    def __init__(self, inner: FileHashStore) -> None:
        self.inner = inner
        self.reads = 0

    def hash_count(self) -> int:
        return self.inner.hash_count()

    def read_hashes(self, positions: Sequence[int]) -> list[bytes]:
        self.reads += len(positions)
        return self.inner.read_hashes(positions)

    def append_hashes(self, start: int, hashes: Sequence[bytes]) -> None:
        self.inner.append_hashes(start, hashes)

    def truncate(self, count: int) -> None:
        self.inner.truncate(count)


# -- crashes, tampering, several writers ----------------------------------------------------


def test_a_torn_write_is_ignored_and_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "tree"
    d = entries(16)
    with FileHashStore(path) as store:
        MerkleTree(store).extend(d[:15])
    good = path.read_bytes()
    # Leaf 15 completes four subtrees: a crash wrote its leaf hash, one node and half a hash.
    reference = MerkleTree(MemoryHashStore())
    reference.extend(d)
    group = reference.store.read_hashes(range(group_start(15), group_start(16)))
    path.write_bytes(good + group[0] + group[1] + group[2][:13])
    with FileHashStore(path) as store:
        tree = MerkleTree(store)
        assert tree.size == 15, "a partial group is not a leaf"
        tree.append(d[15])
        assert tree.root() == reference.root()
    assert path.stat().st_size == 32 * group_start(16)


def test_a_store_longer_than_the_log_is_cut_back(tmp_path: Path) -> None:
    path = tmp_path / "tree"
    d = entries(40)
    with FileHashStore(path) as store:
        MerkleTree(store).extend(d)
    with FileHashStore(path) as store:
        tree = MerkleTree(store, size=25)  # the log holds 25 entries (its tail was cut)
        assert tree.size == 25
        assert store.hash_count() == group_start(25)
        tree.append(b"another 26th entry")
        assert tree.size == 26


def test_junk_past_the_end_never_becomes_leaves(tmp_path: Path) -> None:
    path = tmp_path / "tree"
    with FileHashStore(path) as store:
        tree = MerkleTree(store)
        tree.extend(entries(10))
        with open(path, "ab") as f:
            f.write(os.urandom(32 * 7))  # a local process appends "hashes"
    with FileHashStore(path) as store:
        tree = MerkleTree(store, size=10)  # the owner opens with the log's size: cut
        assert store.hash_count() == group_start(10)
        tree.append(b"eleventh")
        with open(path, "ab") as f:
            f.write(os.urandom(32 * 7))
        tree.reload(11)  # after another writer, the owner reloads to the log's size
        tree.append(b"twelfth")
        assert store.hash_count() == group_start(12)
    with FileHashStore(path) as store:
        assert MerkleTree(store).size == 12
    reference = MerkleTree(MemoryHashStore())
    reference.extend([*entries(10), b"eleventh", b"twelfth"])
    assert path.read_bytes() == b"".join(reference.store.read_hashes(range(group_start(12))))


def test_a_second_writer_reloads_what_the_first_appended(tmp_path: Path) -> None:
    path = tmp_path / "tree"
    d = entries(50)
    with FileHashStore(path) as s1, FileHashStore(path) as s2:
        a, b = MerkleTree(s1), MerkleTree(s2)
        a.extend(d[:20])
        b.reload()
        assert b.size == 20 and b.root() == a.root()
        b.extend(d[20:50])
        a.reload()
        assert a.root() == b.root()
        verify_inclusion(leaf_hash(d[33]), 33, 50, a.inclusion_proof(33), b.root())


def test_truncate_drops_leaves_and_proofs_of_old_sizes_survive_appends() -> None:
    tree = MerkleTree(MemoryHashStore())
    tree.extend(entries(64))
    root_64, proof = tree.root(), tree.inclusion_proof(5, 64)
    tree.truncate(30)
    assert tree.size == 30
    tree.extend(entries(34, start=30))
    assert tree.root() == root_64 and tree.inclusion_proof(5, 64) == proof
    tree.extend(entries(100, start=64))
    verify_consistency(64, tree.size, root_64, tree.root(), tree.consistency_proof(64))


def test_reading_past_the_store_or_a_closed_store_is_a_clear_error(tmp_path: Path) -> None:
    store = FileHashStore(tmp_path / "tree")
    MerkleTree(store).extend(entries(3))
    with pytest.raises(TransparencyError, match="not stored"):
        store.read_hashes([group_start(3)])
    with pytest.raises(TransparencyError, match="not stored"):
        store.append_hashes(group_start(3) + 2, [b"\0" * 32])
    store.close()
    with pytest.raises(TransparencyError, match="closed"):
        store.hash_count()
    with pytest.raises(TransparencyError, match="not stored"):
        MemoryHashStore().read_hashes([0])


def test_a_one_row_per_leaf_store_serves_the_same_tree() -> None:
    """The layout a database table keyed by entry can hold: the group beside its entry."""
    d = entries(500)
    rows, memory = MerkleTree(LeafRowStore()), MerkleTree(MemoryHashStore())
    rows.extend(d)
    memory.extend(d)
    assert rows.root() == memory.root()
    for s in (1, 2, 255, 256, 257, 499, 500):
        assert rows.root(s) == memory.root(s)
        assert rows.inclusion_proof(s - 1, s) == memory.inclusion_proof(s - 1, s)
        assert rows.consistency_proof(s // 2 + 1, 500) == memory.consistency_proof(s // 2 + 1)
    reopened = MerkleTree(rows.store)
    assert reopened.size == 500 and reopened.root() == memory.root()
    reopened.truncate(300)
    assert reopened.root() == memory.root(300)
