"""The PostgreSQL store's Merkle tree and checkpoints, in tables (:mod:`heso.database`).

``heso_tree`` keeps one row per leaf: ``seq`` and the leaf's *group* of hashes (its leaf hash
and the perfect-subtree roots it completes, :mod:`heso.transparency.hash_store`), inserted in
the transaction that inserts the entry, so the tree never lags or leads the chain. Hash
``i`` of the sequence is row ``seq`` at offset ``i - group_start(seq)``
(:func:`~heso.transparency.hash_store.group_of`). ``heso_checkpoints`` keeps every signed
checkpoint note by size; a cosigned copy is a newer row of the same size.

Both tables are insert-only, as entries are: a stored hash is final, so :meth:`truncate`
refuses (a tree that disagrees with its entries means they were rewritten, and the log must
stop, not rebuild over the evidence).

Each store reads and writes over a connection bound with :meth:`bound` (the writer's
transaction, holding the chain's tip lock), or else in a transaction of its own per call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from heso.errors import TransparencyError
from heso.transparency.hash_store import group_of, group_size, group_start, node_index
from heso.transparency.merkle import HASH_SIZE
from heso.transparency.note import MAX_NOTE_BYTES
from heso.transparency.tree import perfect_subtrees

if TYPE_CHECKING:
    import psycopg

    from heso.database import Database

__all__ = ["PostgresCheckpointStore", "PostgresHashStore"]

T = TypeVar("T")


class _Bound:
    """Runs its queries over a bound connection, or in a transaction of their own."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: psycopg.Connection[Any] | None = None

    @contextmanager
    def bound(self, conn: psycopg.Connection[Any]) -> Iterator[None]:
        """Run every query over ``conn`` (in its transaction) inside the block."""
        before, self._conn = self._conn, conn
        try:
            yield
        finally:
            self._conn = before

    @property
    def connection(self) -> psycopg.Connection[Any] | None:
        """The bound connection, if any."""
        return self._conn

    def _run(self, doing: str, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        if self._conn is not None:
            return work(self._conn)
        return self.db.run(doing, work)


class PostgresHashStore(_Bound):
    """A :class:`~heso.transparency.hash_store.HashStore` in ``heso_tree`` (one row per leaf)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._pending: list[tuple[int, bytes]] | None = None
        self._edge: tuple[int, dict[int, bytes]] | None = None
        self._next: tuple[int, int] | None = None  # (hash position, leaf) after the last append

    @contextmanager
    def edge(self, size: int, edge: Sequence[bytes]) -> Iterator[None]:
        """Inside the block the store holds a tree of ``size`` leaves whose right edge is
        ``edge`` (the perfect-subtree roots, largest first, as read with the chain's tip):
        :meth:`~heso.transparency.tree.MerkleTree.reload` reads it without a query."""
        nodes = perfect_subtrees(0, size)
        if len(edge) != len(nodes):
            raise TransparencyError(f"a tree of size {size} has {len(nodes)} edge hashes")
        before = self._edge
        self._edge = (size, {node_index(*n): h for n, h in zip(nodes, edge, strict=True)})
        try:
            yield
        finally:
            self._edge = before

    @contextmanager
    def deferred(self) -> Iterator[list[tuple[int, bytes]]]:
        """Inside the block, appended groups are collected as ``(seq, hashes)`` rows in the
        list it yields, for the caller to insert with the entries (one statement)."""
        rows: list[tuple[int, bytes]] = []
        self._pending = rows
        try:
            yield rows
        finally:
            self._pending = None

    def hash_count(self) -> int:
        if self._edge is not None:
            return group_start(self._edge[0])
        row = self._run(
            "read the Merkle tree",
            lambda conn: conn.execute("SELECT max(seq) FROM heso_tree").fetchone(),
        )
        return 0 if row is None or row[0] is None else group_start(int(row[0]) + 1)

    def read_hashes(self, positions: Sequence[int]) -> list[bytes]:
        if self._edge is not None and all(p in self._edge[1] for p in positions):
            return [self._edge[1][p] for p in positions]
        where = [group_of(p) if p >= 0 else (-1, 0) for p in positions]
        leaves = sorted({leaf for leaf, _ in where})
        rows = self._run(
            "read the Merkle tree",
            lambda conn: conn.execute(
                "SELECT seq, hashes FROM heso_tree WHERE seq = ANY(%s)", (leaves,)
            ).fetchall(),
        )
        groups = {int(seq): bytes(hashes) for seq, hashes in rows}
        out = []
        for p, (leaf, offset) in zip(positions, where, strict=True):
            group = groups.get(leaf, b"")
            h = group[offset * HASH_SIZE : (offset + 1) * HASH_SIZE]
            if len(h) != HASH_SIZE or len(group) != group_size(leaf) * HASH_SIZE:
                raise TransparencyError(
                    f"tree hash {p} is not stored in heso_tree (leaf {leaf}): the tree is "
                    "behind its log"
                )
            out.append(h)
        return out

    def append_hashes(self, start: int, hashes: Sequence[bytes]) -> None:
        """Insert the groups ``hashes`` make up, from the one starting at hash ``start``
        (which must be the end of what is stored: rows are never replaced)."""
        if self._next is not None and self._next[0] == start:
            leaf = self._next[1]  # the group after the last appended: no search for it
        else:
            leaf, offset = group_of(start)
            if offset:
                raise TransparencyError(f"tree hash {start} does not begin a leaf's group")
        rows, i = [], 0
        while i < len(hashes):
            n = group_size(leaf)
            group = hashes[i : i + n]
            if len(group) != n or any(len(h) != HASH_SIZE for h in group):
                raise TransparencyError(f"leaf {leaf} needs a group of {n} 32-byte hashes")
            rows.append((leaf, b"".join(group)))
            leaf, i = leaf + 1, i + n
        self._next = (start + len(hashes), leaf)
        if self._pending is not None:
            if self._pending and self._pending[-1][0] + 1 != rows[0][0]:
                raise TransparencyError(f"tree hash {start} does not follow the last appended")
            self._pending.extend(rows)
            return

        def insert(conn: psycopg.Connection[Any]) -> None:
            have = self._count_over(conn)
            if have != start:
                raise TransparencyError(
                    f"cannot store tree hashes from {start}: heso_tree holds {have} and its rows "
                    "are insert-only"
                )
            conn.execute(  # not COPY: this may run in the writer's pipeline
                "INSERT INTO heso_tree (seq, hashes) "
                "SELECT * FROM unnest(%b::bigint[], %b::bytea[])",
                ([r[0] for r in rows], [r[1] for r in rows]),
            )

        self._run("store the Merkle tree", insert)

    @staticmethod
    def _count_over(conn: psycopg.Connection[Any]) -> int:
        row = conn.execute("SELECT max(seq) FROM heso_tree").fetchone()
        return 0 if row is None or row[0] is None else group_start(int(row[0]) + 1)

    def truncate(self, count: int) -> None:
        """Refused unless nothing would be dropped: stored hashes are final."""
        have = self.hash_count()
        if count < have:
            raise TransparencyError(
                f"heso_tree holds {have} hashes and its rows are insert-only, so it cannot be "
                f"cut back to {count}: the tree disagrees with the log's entries, which were "
                "rewritten or removed (run `heso verify --chain`)"
            )


class PostgresCheckpointStore(_Bound):
    """A :class:`~heso.transparency.checkpoint_store.CheckpointStore` in ``heso_checkpoints``."""

    def sizes(self) -> list[int]:
        rows = self._run(
            "read the checkpoints",
            lambda conn: conn.execute(
                "SELECT DISTINCT size FROM heso_checkpoints ORDER BY size"
            ).fetchall(),
        )
        return [int(r[0]) for r in rows]

    def get(self, size: int) -> bytes | None:
        row = self._run(
            "read the checkpoints",
            lambda conn: conn.execute(
                "SELECT note FROM heso_checkpoints WHERE size = %s ORDER BY id DESC LIMIT 1",
                (size,),
            ).fetchone(),
        )
        if row is None:
            return None
        note = bytes(row[0])
        if len(note) > MAX_NOTE_BYTES:
            raise TransparencyError(f"the checkpoint at size {size} is larger than one can be")
        return note

    def put(self, size: int, note: bytes) -> None:
        if type(size) is not int or size < 0:
            raise TransparencyError(f"invalid checkpoint size {size!r}")
        self._run(
            "store the checkpoint",
            lambda conn: conn.execute(
                "INSERT INTO heso_checkpoints (size, note) VALUES (%s, %s)", (size, note)
            ),
        )

    def latest(self) -> bytes | None:
        """The newest copy of the largest checkpoint, or ``None``."""
        row = self._run(
            "read the checkpoints",
            lambda conn: conn.execute(
                "SELECT note FROM heso_checkpoints ORDER BY size DESC, id DESC LIMIT 1"
            ).fetchone(),
        )
        return None if row is None else bytes(row[0])
