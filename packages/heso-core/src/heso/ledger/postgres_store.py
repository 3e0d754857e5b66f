"""The PostgreSQL store: one chain for a fleet, appended to by many processes on many hosts.

Tables (:mod:`heso.database`): ``heso_entries`` keeps each entry's exact line (so the file form
exports byte for byte) with its ``seq``, its receipt's ``action_hash`` (a lookup aid), its
byte offset in the file form and the ``host`` that appended it (unsigned metadata, never
read by verification); ``heso_tip`` is the chain's tip (length, last hash, file-form size);
``heso_heads`` keeps every signed head; ``heso_tree`` and ``heso_checkpoints`` keep the log's
Merkle tree and signed checkpoints (:mod:`heso.ledger.postgres_tree`).

Appending: receipts arrive signed; concurrent appends of one process queue up and the first
waiting thread leads a batch (group commit). The batch's one transaction locks the tip row;
the appends queued while it waited for that lock join the batch then (under contention from
other hosts the batch grows instead of the queue). It links the lines to the tip, inserts
them with their Merkle tree hashes (O(log n) per append) and moves the tip
(:meth:`PostgresLedger._link`, the one place entries are written), so writers on any host get
one total order with no fork and no gap. Heads are signed after the commit, outside
any lock. An append returns only after its transaction committed (PostgreSQL's durability,
``synchronous_commit``): the gate then runs the body. A transaction whose outcome was lost with
its connection is looked up before it is retried, so a retry never duplicates an entry.
Checkpoints are issued after a commit when due (every N entries or T seconds,
``[heso.transparency]``) or on demand, holding the tip lock so each one covers a settled tree.

The database is not trusted: verification (:mod:`heso.ledger.verify`) reads the lines alone,
in ``seq`` order, and checks them against the signed head, exactly as for the file store.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Hashable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import blake3

from heso.canonical import canonical_bytes, loads_strict
from heso.database import Database
from heso.errors import (
    AmbiguousPrefixError,
    CanonicalizationError,
    ChainError,
    ReceiptNotFoundError,
    TransparencyError,
)
from heso.keys import SigningKey
from heso.ledger import format as fmt
from heso.ledger.format import GENESIS, Entry, Head, head_bytes, parse_head, sign_head
from heso.ledger.index import validate_prefix
from heso.ledger.postgres_tree import PostgresCheckpointStore, PostgresHashStore
from heso.ledger.verify import Checked, Checker, Segment, head_matches
from heso.transparency.ledger_tree import LedgerTree
from heso.transparency.settings import TransparencySettings
from heso.transparency.tree import MerkleTree
from heso.verdict import Verdict

if TYPE_CHECKING:
    import psycopg

HOST_ENV = "HESO_HOST"
MAX_HOST = 255
FETCH = 5000
"""Lines fetched per round trip when reading the chain."""

_BARRIER = "SELECT pg_logical_emit_message(true, 'heso', 'durable')"
"""The durability barrier, run in a transaction of its own: a transaction that wrote WAL commits
synchronously (the server's ``synchronous_commit``), and its flush covers every earlier WAL
record, those of a commit made with ``synchronous_commit`` off included. (A transaction that
only took an id writes none and commits without flushing: a crash would then lose the
entries.) The message is one WAL record, ignored unless decoded. Writers of other processes
share these flushes (PostgreSQL's group commit)."""

_PREPARE = (
    "PREPARE heso_tip AS SELECT length, prev, size FROM heso_tip FOR UPDATE; "
    "PREPARE heso_edge AS SELECT ARRAY(SELECT substring(h.hashes FROM b * 32 + 1 FOR 32) "
    "FROM generate_series(62, 0, -1) AS b JOIN heso_tree h ON h.seq = ((t.length >> b) << b) - 1 "
    "WHERE (t.length >> b) & 1 = 1 ORDER BY b DESC), "
    "set_config('synchronous_commit', 'off', true) FROM heso_tip t; "
    "PREPARE heso_link (bytea, bigint[], bytea[], bigint[], bytea[], bigint[], bytea[], bigint, "
    "bytea, bigint) AS "
    "WITH entries AS (INSERT INTO heso_entries (seq, action_hash, byte_offset, line, host) "
    "SELECT s, convert_from(a, 'UTF8'), o, l, convert_from($1, 'UTF8') "
    "FROM unnest($2, $3, $4, $5) AS u (s, a, o, l)), "
    "tree AS (INSERT INTO heso_tree (seq, hashes) SELECT * FROM unnest($6, $7)) "
    "UPDATE heso_tip SET length = $8, prev = convert_from($9, 'UTF8'), size = $10; "
)
"""The writer connection's prepared statements (planned once per connection):

``heso_tip``
    the chain's tip, locked;
``heso_edge``
    the right edge of its Merkle tree: the root of each perfect subtree, largest first (for
    each 1 bit ``b`` of the length, hash ``b`` of the group of the subtree's last leaf; see
    :mod:`heso.transparency.hash_store`). A statement of its own: its snapshot is taken once the
    lock is held, so it sees the rows of the writer that held it. It also turns
    ``synchronous_commit`` off for the linking transaction alone: the tip row is held only
    while linking, and :data:`_BARRIER` waits for the flush outside the lock;
``heso_link``
    a batch's entries, their tree rows and the tip's move, in one statement."""

_OPEN = "BEGIN; EXECUTE heso_tip; EXECUTE heso_edge"
"""A linking transaction's first round trip."""


def _link(
    host: bytes,
    rows: tuple[list[int], list[bytes], list[int], list[bytes]],
    tree_rows: list[tuple[int, bytes]],
    tip: tuple[int, bytes, int],
) -> str:
    """The second round trip's text: ``heso_link`` of a batch's entries (``seq``,
    ``action_hash``, byte offset, line), their tree rows and the tip, the commit, and
    :data:`_BARRIER`. Every value is an integer or hex digits (text travels as hex and is
    decoded by the server): nothing in it needs quoting, and it is built with no per-value
    adapter calls."""
    seqs, hashes, offsets, lines = rows
    length, prev, size = tip
    return (
        f"EXECUTE heso_link ({_hex(host)}, {_ints(seqs)}, {_hexes(hashes)}, {_ints(offsets)}, "
        f"{_hexes(lines)}, {_ints([r[0] for r in tree_rows])}, "
        f"{_hexes([r[1] for r in tree_rows])}, {int(length)}, {_hex(prev)}, {int(size)}); "
        f"COMMIT; {_BARRIER}"
    )


def _hex(value: bytes) -> str:
    return f"E'\\\\x{value.hex()}'::bytea"


def _hexes(values: list[bytes]) -> str:
    if not values:
        return "ARRAY[]::bytea[]"
    return "ARRAY[E'\\\\x" + "',E'\\\\x".join(v.hex() for v in values) + "']::bytea[]"


def _ints(values: list[int]) -> str:
    return "ARRAY[" + ",".join(str(int(v)) for v in values) + "]::bigint[]"


class _Pending:
    """One receipt in the commit queue (encoded by its own thread, before any lock), and what
    became of it. Its thread waits on ``signal`` (held until released): released when its batch
    is done, or to hand it the next batch to lead (``lead``)."""

    __slots__ = ("action_hash", "done", "encoded", "entry", "error", "lead", "signal")

    def __init__(self, receipt: Mapping[str, Any]) -> None:
        encoded = getattr(receipt, "canonical", None)
        self.encoded: bytes = encoded if encoded is not None else canonical_bytes(receipt)
        self.action_hash = str(receipt["content"]["action_hash"])
        self.entry: Entry | None = None
        self.error: BaseException | None = None
        self.done = False
        self.lead: list[_Pending] | None = None
        self.signal = threading.Lock()
        self.signal.acquire()


class PostgresLedger:
    """A ledger in a PostgreSQL database: appends (with the operator ``key``; without one it
    only reads) and lookups. Safe across threads, processes and hosts."""

    def __init__(
        self,
        url: str,
        *,
        key: SigningKey | None = None,
        seal_every: int = 256,
        seal_interval: float = 1.0,
        lock_timeout: float = 10.0,
        db: Database | None = None,
        transparency: TransparencySettings | None = None,
        host: str | None = None,
    ) -> None:
        self.db = db if db is not None else Database(url)
        self.key = key
        self.seal_every = seal_every
        self.seal_interval = seal_interval
        self.lock_timeout = lock_timeout
        self._queue: list[_Pending] = []
        self._lock = threading.Lock()
        self._committing = False
        self._ready = False
        self._seal_lock = threading.Lock()
        self._unsealed = 0
        self._last_seal = 0.0
        self._tip: tuple[int, str, int] = (0, GENESIS, 0)
        self.transparency = transparency or TransparencySettings()
        # The writer's tree and checkpoints; ``_tree_lock`` is taken before the tip row lock.
        self._hashes = PostgresHashStore(self.db)
        self._checkpoints = PostgresCheckpointStore(self.db)
        self._tree: LedgerTree | None = None
        self._tree_lock = threading.Lock()
        self._tree_stale = True
        self.host = host if host is not None else host_name()
        """The host recorded with each entry this process appends (unsigned metadata)."""
        self._host_bytes = self.host.encode()
        # The connection _PREPARE ran on, and the cursor the writer reuses on it.
        self._prepared: tuple[psycopg.Connection[Any], psycopg.Cursor[Any]] | None = None

    @property
    def location(self) -> str:
        return self.db.location

    # -- appending -------------------------------------------------------------------------

    def _ensure_ready(self) -> None:
        """Before this process's first append: refuse a chain whose signed head does not match
        its entries, and seal the empty chain so entries never exist without a head."""
        if self._ready:
            return
        if self.key is None:
            raise ChainError(f"the ledger in {self.location} was opened to read, not to append")
        head = self.signed_head()
        if isinstance(head, Verdict):
            raise ChainError(f"refusing to append: {head}")
        if head is None:
            if self._fetch_one("SELECT 1 FROM heso_entries LIMIT 1", ()):
                raise ChainError(
                    "refusing to append: the database has entries but no signed head, so "
                    "truncation could not be detected (run `heso verify --chain`)"
                )
            self._insert_head(0, GENESIS, 0)
        elif not head_matches(head, self.head_line(head) if head.length else None):
            raise ChainError(
                "refusing to append: the entry under the signed head was altered or removed "
                "(run `heso verify --chain`)"
            )
        self._tree = LedgerTree(
            self._hashes,
            self._checkpoints,
            self._tree_lines,
            settings=self.transparency,
            key=self.key,
        )
        self._ready = True

    def append(self, receipt: Mapping[str, Any]) -> Entry:
        """Link ``receipt`` into the chain; returns once its transaction committed."""
        with self._lock:
            if not self._ready:
                self._ensure_ready()
        me = _Pending(receipt)
        with self._lock:
            self._queue.append(me)
            batch: list[_Pending] | None = None
            if not self._committing:
                self._committing = True
                batch, self._queue = self._queue, []
        if batch is None:
            # Waits for the batch leader: woken once, when done or to lead the next batch.
            me.signal.acquire()
            batch = me.lead
        lead = batch is not None
        if batch is not None:
            try:
                self._commit(batch)
            finally:
                self._hand_over(batch, me)
        if me.error is not None:
            if lead or isinstance(me.error, ChainError):
                raise me.error
            raise ChainError(str(me.error)) from me.error
        assert me.entry is not None
        self._maybe_seal()
        if lead:  # once per batch: the others would only ask the database again
            self._maybe_checkpoint()
        return me.entry

    def _hand_over(self, batch: list[_Pending], leader: _Pending) -> None:
        """After ``batch`` is done: hand the queue to its first thread to lead (or stand
        down), then wake ``batch``'s threads."""
        with self._lock:
            if self._queue:
                first = self._queue[0]
                first.lead, self._queue = self._queue, []
                first.signal.release()
            else:
                self._committing = False
        for p in batch:
            if p is not leader:
                p.signal.release()

    def _commit(self, batch: list[_Pending]) -> None:
        """Link ``batch`` (and the appends queued by the time the tip is locked, which join
        it) in one transaction; record each one's entry or error."""
        try:
            attempt: list[tuple[int, bytes]] = []
            self.db.run(
                "record the receipt (the action was not run)",
                lambda conn: self._link(conn, batch, attempt),
                deadline=self.lock_timeout,
                own=True,
            )
        except BaseException as exc:
            for p in batch:
                p.error, p.entry = exc, None
        finally:
            for p in batch:
                p.done = True

    def _link(
        self, conn: psycopg.Connection[Any], batch: list[_Pending], attempt: list[tuple[int, bytes]]
    ) -> None:
        """The one place entries are written: lock the tip, link ``batch`` to it, insert the
        lines and move the tip, in ``conn``'s transaction. ``attempt`` remembers the first
        line a failed try sent: when it is in the table, that try committed after all."""
        with self._tree_lock:  # before the tip row lock, as :meth:`_issue` takes them
            self._link_locked(conn, batch, attempt)

    def _link_locked(
        self, conn: psycopg.Connection[Any], batch: list[_Pending], attempt: list[tuple[int, bytes]]
    ) -> None:
        # ``conn`` is in autocommit mode: the transaction is opened and committed in the text
        # of the two round trips below (simple protocol, several statements each).
        # First round trip: open the transaction, lock the tip row, read the tree's edge
        # (preparing the statements first on a new connection).
        cur = self._open(conn)
        cur.nextset()
        length, prev, size = cur.fetchone()  # type: ignore[misc]
        cur.nextset()
        edge, _ = cur.fetchone()  # type: ignore[misc]
        if attempt:
            # Looked up under the tip lock, which the failed try held: its transaction is over
            # (committed or not), so the answer is final.
            seq0, line0 = attempt[0]
            row = conn.execute("SELECT line FROM heso_entries WHERE seq = %s", (seq0,)).fetchone()
            if row is not None and bytes(row[0]) == line0:
                # The lost commit happened: the entries are set, but it ran without waiting
                # for the WAL flush; this barrier waits for it before any body runs.
                conn.execute("ROLLBACK")
                conn.execute(_BARRIER, prepare=False)
                with self._seal_lock:
                    self._unsealed += sum(p.entry is not None for p in batch)
                return
        with self._lock:  # the appends queued while the tip lock was awaited join the batch
            batch += self._queue
            self._queue = []
        seq, offset = int(length), int(size)
        seqs, hashes, offsets, lines = [], [], [], []
        for p in batch:
            line = b'{"prev":"%s","receipt":%s,"seq":%d}' % (prev.encode(), p.encoded, seq)
            if len(line) > fmt.MAX_ENTRY_BYTES:
                p.error, p.entry = fmt.too_long(line), None  # it fails alone
                continue
            h = blake3.blake3(line).hexdigest()
            p.error, p.entry = None, Entry(seq, h, offset)  # a failed try may have refused it
            seqs.append(seq)
            hashes.append(p.action_hash.encode())
            offsets.append(offset)
            lines.append(line)
            seq, offset, prev = seq + 1, offset + len(line) + 1, h
        if not lines:
            conn.execute("ROLLBACK")
            return
        attempt[:] = [(seqs[0], lines[0])]
        tree_rows = self._tree_rows(conn, int(length), [bytes(e) for e in edge], lines)
        # Second round trip: entries, tree rows and the tip in one statement, the commit,
        # and the durability barrier.
        cur.execute(
            _link(
                self._host_bytes,
                (seqs, hashes, offsets, lines),
                tree_rows,
                (seq, prev.encode(), offset),
            ),
            prepare=False,
        )
        self._tree_stale = False
        self._tip = (seq, prev, offset)
        with self._seal_lock:
            self._unsealed += len(lines)

    def _open(self, conn: psycopg.Connection[Any]) -> psycopg.Cursor[Any]:
        """Run :data:`_OPEN` on ``conn`` (after :data:`_PREPARE` on a connection new to this
        writer, or one whose session lost the statements: a pooler reset it); returns the
        cursor on its ``BEGIN``'s result."""
        import psycopg

        if self._prepared is not None and self._prepared[0] is conn:
            cur = self._prepared[1]
            try:
                cur.execute(_OPEN, prepare=False)
                return cur
            except psycopg.errors.InvalidSqlStatementName:
                conn.execute("ROLLBACK")
        cur = conn.cursor()
        cur.execute(_PREPARE + _OPEN, prepare=False)
        for _ in range(3):
            cur.nextset()
        self._prepared = (conn, cur)
        return cur

    def _tree_rows(
        self, conn: psycopg.Connection[Any], length: int, edge: list[bytes], lines: list[bytes]
    ) -> list[tuple[int, bytes]]:
        """The ``heso_tree`` rows of ``lines`` (entries ``length`` on), from the tree's right
        edge (read with the tip; re-read, and caught up from the entries, when it is not
        whole: a chain from before the tree): O(log n) hashing per line."""
        ltree = self._tree
        assert ltree is not None
        tree = ltree.tree
        with self._hashes.bound(conn):
            try:
                stale, self._tree_stale = self._tree_stale, True  # until this commits
                if not stale and tree.size == length:
                    pass  # the tip is where this process's last commit left it
                elif len(edge) == length.bit_count():
                    with self._hashes.edge(length, edge):
                        tree.reload()  # from the edge just read: no query
                else:
                    tree.reload()
                    if tree.size != length:
                        ltree.recover(length)  # behind (a chain from before the tree) or ahead
                with self._hashes.deferred() as tree_rows:
                    ltree.add(lines)
            except TransparencyError as exc:
                raise ChainError(f"refusing to append: {exc}") from None
        return tree_rows

    def _tree_lines(self, start: int) -> Iterator[tuple[int, bytes]]:
        """The log's lines for the writer's tree: over the bound transaction when there is
        one (the writer holds the tip lock), else as :meth:`entries`."""
        conn = self._hashes.connection
        if conn is None:
            yield from self._lines(start)
            return
        limit = 1  # recovery often reads one line only
        while True:
            rows = conn.execute(
                "SELECT seq, line FROM heso_entries WHERE seq >= %s ORDER BY seq LIMIT %s",
                (start, limit),
            ).fetchall()
            for s, line in rows:
                yield int(s), bytes(line)
            if len(rows) < limit:
                return
            start, limit = int(rows[-1][0]) + 1, FETCH

    # -- checkpoints -----------------------------------------------------------------------

    def _maybe_checkpoint(self) -> None:
        """Issue a checkpoint when one is due (every N entries or T seconds)."""
        ltree = self._tree
        if ltree is not None and not self._tree_stale and ltree.due():
            self._issue(force=False)

    def _issue(self, *, force: bool) -> bytes | None:
        """Sign and keep a checkpoint of the tree under the tip lock (``force``: even when
        another writer issued a recent one); returns the note, or ``None`` when not due."""
        self._ensure_ready()
        ltree = self._tree
        assert ltree is not None

        def issue(conn: psycopg.Connection[Any]) -> bytes | None:
            row = conn.execute("SELECT length FROM heso_tip FOR UPDATE").fetchone()
            length = int(row[0]) if row else 0
            with self._hashes.bound(conn), self._checkpoints.bound(conn):
                ltree.recover(length)
                ltree.latest()  # another writer may have issued one since
                if not force and not ltree.due():
                    return None
                return ltree.issue()

        with self._tree_lock:
            try:
                if not force:
                    ltree.latest()  # another writer may have issued one: look before locking
                    if not ltree.due():
                        return None
                self._tree_stale = True
                note = self.db.run("issue a checkpoint", issue, deadline=self.lock_timeout)
            except TransparencyError as exc:
                raise ChainError(f"cannot issue a checkpoint: {exc}") from None
            self._tree_stale = False
        return note

    def checkpoint(self) -> bytes:
        """Issue a signed checkpoint of the whole log now; returns the note (the latest one
        when nothing was appended since it)."""
        note = self._issue(force=True)
        assert note is not None
        return note

    def keep_cosigned(self, note: bytes) -> None:
        """Keep ``note`` (a checkpoint this log issued, now with witness cosignatures) as the
        newest copy of its size."""
        self._ensure_ready()
        assert self._tree is not None
        try:
            self._tree.keep_cosigned(note)
        except TransparencyError as exc:
            raise ChainError(f"cannot keep the cosigned checkpoint: {exc}") from None

    @property
    def origin(self) -> str | None:
        """The origin line of this log's checkpoints (known to a writer)."""
        if self.key is None:
            return None
        return self.transparency.origin_for(self.key.public_key())

    def merkle_tree(self) -> MerkleTree:
        """The Merkle tree as stored, to read roots and proofs."""
        return MerkleTree(PostgresHashStore(self.db))

    def checkpoint_store(self) -> PostgresCheckpointStore:
        """The signed checkpoints kept in the database."""
        return PostgresCheckpointStore(self.db)

    def _maybe_seal(self) -> None:
        now = time.monotonic()
        if self._unsealed and (
            self._unsealed >= self.seal_every
            or now - self._last_seal >= self.seal_interval
            or self._tip[0] == self._unsealed
        ):
            self._seal_tip()

    def _seal_tip(self, tip: tuple[int, str, int] | None = None) -> None:
        """Sign ``tip`` (default: the last this process committed) and store the head."""
        with self._seal_lock:
            length, head, size = tip if tip is not None else self._tip
            self._unsealed = 0
            self._last_seal = time.monotonic()
        if length:
            self._insert_head(length, head, size)

    def _insert_head(self, length: int, head: str, size: int) -> None:
        assert self.key is not None
        doc = head_bytes(sign_head(self.key, length, head, size))  # signed outside the DB
        self.db.run(
            "store the signed chain head",
            lambda conn: conn.execute(
                "INSERT INTO heso_heads (length, doc) VALUES (%s, %s)", (length, doc)
            ),
            deadline=self.lock_timeout,
        )

    def seal(self) -> None:
        """Sign the chain's current tip now (also done periodically and on :meth:`close`)."""
        self._ensure_ready()
        row = self._fetch_one("SELECT length, prev, size FROM heso_tip", ())
        if row is not None:
            self._seal_tip((int(row[0]), str(row[1]), int(row[2])))

    def close(self) -> None:
        """Seal what this process appended and release the connections."""
        try:
            if self._unsealed and self.key is not None:
                self._seal_tip()
            ltree = self._tree
            if ltree is not None and not self._tree_stale and ltree.tree.size > ltree.latest_size():
                self._issue(force=True)
        finally:
            self.db.close()

    @property
    def length(self) -> int:
        row = self._fetch_one("SELECT length FROM heso_tip", ())
        return int(row[0]) if row else 0

    # -- reading ---------------------------------------------------------------------------

    def _fetch_one(self, sql: str, params: tuple[Any, ...]) -> Any:
        return self.db.run(
            "read the audit chain", lambda conn: conn.execute(sql, params).fetchone()
        )

    def _fetch_all(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return self.db.run(
            "read the audit chain", lambda conn: conn.execute(sql, params).fetchall()
        )

    def head_document(self) -> bytes | None:
        """The latest signed head (the one covering the most entries) as stored."""
        row = self._fetch_one(
            "SELECT doc FROM heso_heads ORDER BY length DESC, id DESC LIMIT 1", ()
        )
        return None if row is None else bytes(row[0])

    def signed_head(self) -> Head | Verdict | None:
        doc = self.head_document()
        return None if doc is None else parse_head(doc[: fmt.MAX_HEAD_BYTES + 1])

    def first_line(self) -> bytes | None:
        row = self._fetch_one("SELECT line FROM heso_entries ORDER BY seq LIMIT 1", ())
        if row is None or len(row[0]) > fmt.MAX_ENTRY_BYTES:
            return None
        return bytes(row[0])

    def _lines(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """``(seq, line)`` in ``seq`` order from ``start`` (to ``end``), fetched in runs."""
        where = "seq >= %s" + ("" if end is None else " AND seq < %s")
        params: tuple[Any, ...] = (start,) if end is None else (start, end)
        while True:
            rows = self._fetch_all(
                f"SELECT seq, line FROM heso_entries WHERE {where} ORDER BY seq LIMIT {FETCH}",
                params,
            )
            for s, line in rows:
                yield int(s), bytes(line)
            if len(rows) < FETCH:
                return
            seq = int(rows[-1][0])
            where = "seq > %s" + ("" if end is None else " AND seq < %s")
            params = (seq,) if end is None else (seq, end)

    def check(self, checker: Checker, *, workers: int | None = None) -> Checked:
        """Check every line in ``seq`` order, split into runs of ``seq`` ranges across worker
        processes (each reads its range over a connection of its own)."""
        row = self._fetch_one("SELECT min(seq), max(seq), count(*) FROM heso_entries", ())
        if row is None or not row[2]:
            return Checked([])
        lo, hi, n = int(row[0]), int(row[1]), int(row[2])
        parts = workers or 2
        if workers is None and n < 20000:
            parts = 1
        step = (hi - lo) // parts + 1
        ranges = [(lo + i * step, min(lo + (i + 1) * step, hi + 1)) for i in range(parts)]
        ranges = [(a, b) for a, b in ranges if a < b]
        if len(ranges) > 1:
            from concurrent.futures import ProcessPoolExecutor
            from multiprocessing import get_context

            with ProcessPoolExecutor(len(ranges), mp_context=get_context("fork")) as pool:
                futures = [pool.submit(_check_range, self.db.url, a, b, checker) for a, b in ranges]
                segments = [f.result() for f in futures]
        else:
            segments = [_check_lines(self._lines(), checker)]
        return Checked(segments)

    def head_line(self, head: Head) -> bytes | None:
        if head.length <= 0:
            return None
        row = self._fetch_one(
            "SELECT (SELECT line FROM heso_entries WHERE seq = %s), "
            "(SELECT sum(octet_length(line) + 1) FROM heso_entries WHERE seq < %s)",
            (head.length - 1, head.length),
        )
        if row is None or row[0] is None or row[1] is None or int(row[1]) != head.size:
            return None
        return bytes(row[0])

    def quarantined(self) -> int:
        return 0  # a transaction is never torn

    def entries(self, start: int = 0) -> Iterator[tuple[int, bytes]]:
        yield from self._lines(max(start, 0))

    def line(self, seq: int) -> bytes:
        row = self._fetch_one("SELECT line FROM heso_entries WHERE seq = %s", (seq,))
        if row is None:
            raise ChainError(f"no chain entry {seq} in {self.location}")
        return bytes(row[0])

    def find(self, prefix: str) -> list[tuple[str, int]]:
        p = validate_prefix(prefix)
        rows = self._fetch_all(
            "SELECT action_hash, seq FROM heso_entries WHERE action_hash LIKE %s ORDER BY seq",
            (p + "%",),
        )
        return [(str(h), int(s)) for h, s in rows]

    def receipt(self, prefix: str) -> dict[str, Any]:
        try:
            hits = self.find(prefix)
        except ValueError as exc:
            raise ReceiptNotFoundError(str(exc)) from exc
        hashes = sorted({h for h, _ in hits})
        if not hashes:
            if self._fetch_one("SELECT 1 FROM heso_entries LIMIT 1", ()) is None:
                raise ReceiptNotFoundError(
                    f"the store {self.location} is empty: no receipt has been minted yet"
                )
            raise ReceiptNotFoundError(f"no receipt in {self.location} matches {prefix!r}")
        if len(hashes) > 1:
            raise AmbiguousPrefixError(prefix, hashes)
        for _, seq in reversed(hits):
            try:
                receipt: dict[str, Any] = loads_strict(self.line(seq))["receipt"]
                if receipt["content"]["action_hash"] == hashes[0]:
                    return receipt
            except (ChainError, CanonicalizationError, KeyError, TypeError):
                continue
        # The lookup column is derived data that disagrees with the lines: ask the lines.
        for _, line in reversed(self.scan(hashes[0])):
            return dict(loads_strict(line)["receipt"])
        raise ReceiptNotFoundError(f"no receipt in {self.location} matches {prefix!r}")

    def scan(self, action_hash: str, start: int = 0) -> list[tuple[int, bytes]]:
        needle = b'"action_hash":"%s"' % action_hash.encode("ascii", "replace")
        rows = self._fetch_all(
            "SELECT seq, line FROM heso_entries WHERE seq >= %s AND position(%s IN line) > 0 "
            "ORDER BY seq",
            (max(start, 0), needle),
        )
        out = []
        for seq, line in rows:
            try:
                if loads_strict(bytes(line))["receipt"]["content"]["action_hash"] == action_hash:
                    out.append((int(seq), bytes(line)))
            except (CanonicalizationError, ValueError, KeyError, TypeError):
                continue
        return out

    def hosts(self, start: int, end: int) -> dict[int, str]:
        """The host each entry with ``start <= seq < end`` was appended from (``HESO_HOST`` or
        the machine's name, recorded by the writer beside the line: unsigned metadata)."""
        rows = self._fetch_all(
            "SELECT seq, host FROM heso_entries WHERE seq >= %s AND seq < %s AND host IS NOT NULL",
            (start, end),
        )
        return {int(seq): str(host) for seq, host in rows}

    def stamp(self) -> Hashable:
        row = self._fetch_one(
            "SELECT (SELECT length FROM heso_tip), (SELECT count(*) FROM heso_entries), "
            "(SELECT coalesce(max(id), 0) FROM heso_heads)",
            (),
        )
        return tuple(row) if row else ()


def host_name() -> str:
    """This host's name as entries record it: ``HESO_HOST``, else the machine's name."""
    return os.environ.get(HOST_ENV, "").strip()[:MAX_HOST] or socket.gethostname()[:MAX_HOST]


COPIED = " (copied from files)"


def copied_host() -> str:
    """The host recorded with entries ``heso store copy`` brings from a file store, which
    records none: the copying host, marked as such (where they were appended is not known)."""
    return host_name()[: MAX_HOST - len(COPIED)] + COPIED


def _check_lines(lines: Iterator[tuple[int, bytes]], checker: Checker) -> Segment:
    return checker(None if len(line) > fmt.MAX_ENTRY_BYTES else line for _, line in lines)


def _check_range(url: str, start: int, end: int, checker: Checker) -> Segment:
    """One worker's run: the lines with ``start <= seq < end``, over its own connection."""
    store = PostgresLedger(url)
    try:
        return _check_lines(store._lines(start, end), checker)
    finally:
        store.db.close()
