"""The PostgreSQL store: one chain for a fleet, appended to by many processes on many hosts.

Tables (:mod:`heso.database`): ``heso_entries`` keeps each entry's exact line (so the file form
exports byte for byte) with its ``seq``, its receipt's ``action_hash`` (a lookup aid), its
byte offset in the file form and the ``host`` that appended it (unsigned metadata, never
read by verification); ``heso_tip`` is the chain's tip (length, last hash, file-form size);
``heso_heads`` keeps every signed head; ``heso_tree`` and ``heso_checkpoints`` keep the log's
Merkle tree and signed checkpoints (:mod:`heso.ledger.postgres_tree`).

Appending: receipts arrive signed; concurrent appends of one process queue up and the first
waiting thread leads a batch (group commit). The batch's one transaction locks the tip row,
links the lines to it, inserts them with their Merkle tree hashes (O(log n) per append) and
moves the tip (:meth:`PostgresLedger._link`, the one place entries are written), so writers on
any host get one total order with no fork and no gap. Heads are signed after the commit, outside
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


class _Pending:
    """One receipt in the commit queue, and what became of it."""

    __slots__ = ("action_hash", "done", "encoded", "entry", "error", "receipt")

    def __init__(self, receipt: Mapping[str, Any]) -> None:
        self.receipt = receipt
        self.encoded = b""
        self.action_hash = ""
        self.entry: Entry | None = None
        self.error: BaseException | None = None
        self.done = False


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
        self._cond = threading.Condition(threading.Lock())
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
        with self._cond:
            if not self._ready:
                self._ensure_ready()
        me = _Pending(receipt)
        cond = self._cond
        with cond:
            self._queue.append(me)
            while self._committing and not me.done:
                cond.wait()
            lead = not me.done
            if lead:
                self._committing = True
                batch, self._queue = self._queue, []
        if lead:
            try:
                self._commit(batch)
            finally:
                with cond:
                    self._committing = False
                    cond.notify_all()
        if me.error is not None:
            if lead or isinstance(me.error, ChainError):
                raise me.error
            raise ChainError(str(me.error)) from me.error
        assert me.entry is not None
        self._maybe_seal()
        self._maybe_checkpoint()
        return me.entry

    def _commit(self, batch: list[_Pending]) -> None:
        """Link ``batch`` in one transaction; record each one's entry or error."""
        ready: list[_Pending] = []
        for p in batch:  # encoding happens before any lock is taken
            try:
                encoded = getattr(p.receipt, "canonical", None)
                p.encoded = encoded if encoded is not None else canonical_bytes(p.receipt)
                p.action_hash = str(p.receipt["content"]["action_hash"])
                ready.append(p)
            except Exception as exc:
                p.error = exc
        try:
            if ready:
                attempt: list[tuple[int, bytes]] = []
                self.db.run(
                    "record the receipt (the action was not run)",
                    lambda conn: self._link(conn, ready, attempt),
                    deadline=self.lock_timeout,
                )
        except BaseException as exc:
            for p in ready:
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
        if attempt:
            seq0, line0 = attempt[0]
            row = conn.execute("SELECT line FROM heso_entries WHERE seq = %s", (seq0,)).fetchone()
            if row is not None and bytes(row[0]) == line0:
                # The lost commit happened: the entries are set, but it ran without waiting
                # for the WAL flush; the barrier below waits for it before any body runs.
                self._durable(conn)
                with self._seal_lock:
                    self._unsealed += len(batch)
                return
        # The tip row is held only while linking: this transaction commits without waiting for
        # the WAL flush, and the durability barrier below waits for it outside the lock.
        conn.execute("SET LOCAL synchronous_commit = off")
        length, prev, size = conn.execute(
            "SELECT length, prev, size FROM heso_tip FOR UPDATE"
        ).fetchone()  # type: ignore[misc]
        seq, offset = int(length), int(size)
        rows = []
        for p in batch:
            line = b'{"prev":"%s","receipt":%s,"seq":%d}' % (prev.encode(), p.encoded, seq)
            if len(line) > fmt.MAX_ENTRY_BYTES:
                raise ChainError(
                    f"refusing to append a {len(line)}-byte entry: the limit is "
                    f"{fmt.MAX_ENTRY_BYTES} bytes"
                )
            h = blake3.blake3(line).hexdigest()
            p.entry = Entry(seq, h, offset)
            rows.append((seq, p.action_hash, offset, line, self.host))
            seq, offset, prev = seq + 1, offset + len(line) + 1, h
        attempt[:] = [(rows[0][0], rows[0][3])]
        tree_rows = self._tree_rows(conn, int(length), [row[3] for row in rows])
        with conn.cursor() as cur:
            with cur.copy(
                "COPY heso_entries (seq, action_hash, byte_offset, line, host) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
            # The tree rows ride on the tip's update: no round trip of their own.
            cur.execute(
                "WITH tree AS (INSERT INTO heso_tree (seq, hashes) "
                "SELECT * FROM unnest(%s::bigint[], %s::bytea[])) "
                "UPDATE heso_tip SET length = %s, prev = %s, size = %s",
                ([r[0] for r in tree_rows], [r[1] for r in tree_rows], seq, prev, offset),
            )
        conn.commit()
        self._tree_stale = False
        self._durable(conn)
        self._tip = (seq, prev, offset)
        with self._seal_lock:
            self._unsealed += len(rows)

    @staticmethod
    def _durable(conn: psycopg.Connection[Any]) -> None:
        """Durability barrier: a transaction that wrote WAL commits synchronously (the server's
        synchronous_commit), and its flush covers every earlier WAL record, ours included.
        (One that only took an id writes none and commits without flushing: a crash then loses
        the entries.) The message is one WAL record, ignored unless decoded. Writers of other
        processes share these flushes (PostgreSQL's group commit)."""
        conn.execute("SELECT pg_logical_emit_message(true, 'heso', 'durable')")
        conn.commit()

    def _tree_rows(
        self, conn: psycopg.Connection[Any], length: int, lines: list[bytes]
    ) -> list[tuple[int, bytes]]:
        """The ``heso_tree`` rows of ``lines`` (entries ``length`` on), from the tree's right
        edge kept in memory (re-read, and caught up from the entries, when another writer
        appended or a try failed): O(log n) hashing per line."""
        ltree = self._tree
        assert ltree is not None
        tree = ltree.tree
        with self._hashes.bound(conn):
            try:
                stale, self._tree_stale = self._tree_stale, True  # until this commits
                if stale or tree.size != length:
                    tree.reload()  # another writer's rows: the edge is re-read, O(log n)
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
            self._tree_stale = True
            try:
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
