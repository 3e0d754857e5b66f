"""The file store: a project's ledger in ``heso-local-data/``, one entry per line of
``receipts.jsonl``, with ``chain.head.json`` (the signed head), ``receipts.idx`` (the
hash-prefix index, :mod:`heso.ledger.index`), ``receipts.tree`` (the Merkle tree's hashes) and
``checkpoints/`` (the signed checkpoints, :mod:`heso.transparency.ledger_tree`).

Appends hold a thread lock and an inter-process ``flock`` on ``receipts.lock``; each line goes
out in one ``write`` on an ``O_APPEND`` descriptor. A writer alone on the chain writes its index
records at each seal (lookups scan the few entries past the index); once it sees another
writer's lines it writes them at every append until a seal finds the chain its own again.
A line left torn by a killed writer is moved to ``receipts.torn`` (reported, never silently
dropped) by the next writer. Durability ``"buffered"`` survives a killed process; ``"fsync"``
also survives power loss, with group commit (appends that wait together share one ``fsync``),
and the lines a head covers are synced before the head is written. Reading is
:mod:`heso.ledger.reader`'s.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Hashable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import blake3

from heso import durable
from heso.canonical import loads_strict
from heso.errors import (
    AmbiguousPrefixError,
    CanonicalizationError,
    ChainError,
    ReceiptNotFoundError,
    TransparencyError,
)
from heso.keys import SigningKey
from heso.ledger import format as fmt
from heso.ledger import index as idx
from heso.ledger import reader
from heso.ledger.format import (
    CHAIN_FILE,
    GENESIS,
    HEAD_FILE,
    TORN_FILE,
    Entry,
    Head,
    action_hash_of_line,
    encode_entry,
    entry_hash,
    head_bytes,
    parse_head,
    sign_head,
)
from heso.ledger.index import INDEX_FILE
from heso.ledger.store import DURABILITY_MODES
from heso.ledger.verify import Checked, Checker, head_matches
from heso.receipt import format_timestamp
from heso.transparency.checkpoint_store import CHECKPOINTS_DIR, FileCheckpointStore
from heso.transparency.hash_store import FileHashStore
from heso.transparency.ledger_tree import LedgerTree
from heso.transparency.settings import TransparencySettings
from heso.transparency.tree import MerkleTree
from heso.verdict import Verdict

log = logging.getLogger("heso.ledger")

LOCK_FILE = "receipts.lock"
TREE_FILE = "receipts.tree"

_forks = 0
"""How many forks separate this process from the one that imported heso: a writer's
descriptors and commit queue belong to one generation, and a forked child opens its own. (A
counter bumped after each fork costs nothing per append; ``os.getpid()`` is a system call.)"""


def _forked() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_forked)


class _Pending:
    """One receipt in the commit queue, and what became of it."""

    __slots__ = ("done", "entry", "error", "receipt")

    def __init__(self, receipt: Mapping[str, Any]) -> None:
        self.receipt = receipt
        self.entry: Entry | None = None
        self.error: BaseException | None = None
        self.done = False


def read_head(data_dir: str | Path) -> Head | Verdict | None:
    """The verified head in ``data_dir``, ``None`` when absent, or a ``HeadInvalid`` verdict."""
    try:
        with open(Path(data_dir) / HEAD_FILE, "rb") as f:
            raw = f.read(fmt.MAX_HEAD_BYTES + 1)
    except FileNotFoundError:
        return None
    return parse_head(raw)


def _too_long(line: bytes) -> ChainError:
    return ChainError(
        f"refusing to append a {len(line)}-byte entry: the limit is {fmt.MAX_ENTRY_BYTES} "
        "bytes; redact large fields (strategy destroy) or pass a digest of the payload instead"
    )


class FileLedger:
    """A project's ledger in ``heso-local-data/``: appends (with the operator ``key``; without
    one it only reads) and lookups. Safe across threads and processes."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        key: SigningKey | None = None,
        durability: str = "buffered",
        seal_every: int = 256,
        seal_interval: float = 1.0,
        lock_timeout: float = 10.0,
        transparency: TransparencySettings | None = None,
    ) -> None:
        if durability not in DURABILITY_MODES:
            raise ChainError(f"durability must be one of {DURABILITY_MODES}, not {durability!r}")
        self.data_dir = Path(data_dir)
        self.key = key
        self.durability = durability
        self.seal_every = seal_every
        self.seal_interval = seal_interval
        self.lock_timeout = lock_timeout
        self.recovered: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._synced = 0
        self._queue: list[_Pending] = []
        self._queue_cond = threading.Condition(threading.Lock())
        self._committing = False
        self._queue_gen = _forks
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._idx_fd: int | None = None
        self._gen = -1  # the fork generation these descriptors belong to
        self._size = 0
        self._seq = 0
        self._prev = GENESIS
        self._unsealed = 0
        self._last_seal = 0.0
        self._index_stale = False
        self._index_pending: list[bytes] = []
        self._shared = False
        self._foreign = False
        self.transparency = transparency or TransparencySettings()
        self._tree: LedgerTree | None = None
        self._tree_stale = False

    # The descriptors are per process: a forked child reopens them.
    def _ensure_open(self) -> None:
        if self._gen == _forks and self._fd is not None:
            return
        if self.key is None:
            raise ChainError(f"the ledger in {self.data_dir} was opened to read, not to append")
        self._fd = self._lock_fd = self._idx_fd = None
        try:
            durable.make_private_dir(self.data_dir)
            self._fd = os.open(
                self.data_dir / CHAIN_FILE, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600
            )
            self._lock_fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
            self._idx_fd = os.open(
                self.data_dir / INDEX_FILE, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600
            )
            self._tree = LedgerTree(
                FileHashStore(self.data_dir / TREE_FILE),
                FileCheckpointStore(
                    self.data_dir / CHECKPOINTS_DIR, sync=self.durability == "fsync"
                ),
                self.entries,
                settings=self.transparency,
                key=self.key,
            )
        except OSError as exc:
            self._discard()
            raise ChainError(f"cannot open the audit chain in {self.data_dir}: {exc}") from exc
        self._size, self._seq, self._prev = 0, 0, GENESIS
        self._synced = 0
        self._index_stale = False
        self._index_pending = []
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            # Under the lock no writer is between creating a head's temp file and renaming it:
            # any such file was left by a killed writer.
            durable.remove_stale_temps(self.data_dir / HEAD_FILE)
            self._load_state()
        except BaseException as exc:
            # Never keep a writer whose state did not load: the next call must check again
            # (and refuse again), not extend a chain it was refused.
            self._discard()
            if isinstance(exc, OSError):
                raise ChainError(f"cannot read the audit chain in {self.data_dir}: {exc}") from exc
            raise
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        self._gen = _forks

    def _discard(self) -> None:
        """Close this process's descriptors (which also drops the lock)."""
        for fd in (self._fd, self._idx_fd, self._lock_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._idx_fd = self._lock_fd = None
        if self._tree is not None:
            store = self._tree.tree.store
            if isinstance(store, FileHashStore):
                store.close()
            self._tree = None

    def _load_state(self) -> None:
        """Start from the signed head (fast) and catch up with whatever follows it."""
        head = read_head(self.data_dir)
        if isinstance(head, Verdict):
            raise ChainError(f"refusing to append: {head}")
        if head is not None:
            assert self._fd is not None
            actual = os.fstat(self._fd).st_size
            if actual < head.size:
                raise ChainError(
                    f"refusing to append: {CHAIN_FILE} is {actual} bytes but its signed head "
                    f"covers {head.size}; the chain was truncated (run `heso verify --chain`)"
                )
            if not head_matches(head, reader.line_ending_at(self.data_dir / CHAIN_FILE, head.size)):
                raise ChainError(
                    "refusing to append: the entry under the signed head was altered "
                    "(run `heso verify --chain`)"
                )
            self._size, self._seq, self._prev = head.size, head.length, head.head
        else:
            assert self._fd is not None
            if os.fstat(self._fd).st_size:
                # Every chain is sealed before its first line (below), so entries without a
                # head mean the head was deleted: extending the chain would launder that.
                raise ChainError(
                    f"refusing to append: {CHAIN_FILE} has entries but {HEAD_FILE} is missing, "
                    "so truncation could not be detected (run `heso verify --chain`; restore "
                    f"the head, or move {CHAIN_FILE} aside to start a new chain)"
                )
            self._seal_locked()  # the empty chain's head: length 0
        self._catch_up()
        self._index_stale = True
        self._try_sync_index()
        self._tree_stale = True
        self._sync_tree()

    def _catch_up(self) -> None:
        """Fold in entries other processes appended; recover a torn tail."""
        assert self._fd is not None
        st = os.fstat(self._fd)
        if st.st_nlink == 0:
            raise ChainError(
                f"refusing to append: {self.data_dir / CHAIN_FILE} was deleted while heso had it "
                "open, so new receipts would be lost; restore the data directory and restart"
            )
        size = st.st_size
        if size == self._size:
            return
        self._flush_index()  # this writer's records come before the other writer's lines
        if size < self._size:
            raise ChainError(
                f"refusing to append: {CHAIN_FILE} shrank from {self._size} to {size} bytes "
                "outside heso (run `heso verify --chain`)"
            )
        data = os.pread(self._fd, size - self._size, self._size)
        end = data.rfind(b"\n") + 1
        if end < len(data):
            self._quarantine(self._size + end, data[end:])
        lines = data[:end].split(b"\n")[:-1]
        for line in lines:
            self._prev = entry_hash(line)
        self._seq += len(lines)
        self._size += end
        self._tree_stale = True  # the other writer added their leaves; re-read them
        if lines:
            # Its index records may still be deferred in its memory: index them from the
            # chain, and write ours at once while writers share the chain (see _flush_index).
            self._index_stale = self._shared = self._foreign = True

    def _quarantine(self, offset: int, torn: bytes) -> None:
        record = {
            "offset": offset,
            "length": len(torn),
            "recovered_at": format_timestamp(datetime.now(timezone.utc)),
            "bytes_b64": base64.b64encode(torn).decode("ascii"),
        }
        with durable.locked_append(self.data_dir / TORN_FILE, torn="newline") as torn_file:
            torn_file.write(json.dumps(record, sort_keys=True).encode() + b"\n")
        assert self._fd is not None
        os.ftruncate(self._fd, offset)
        self.recovered.append(record)
        log.warning(
            "recovered a torn last line (%d bytes at offset %d) left by a killed writer; "
            "it was never acknowledged and is kept in %s",
            len(torn),
            offset,
            TORN_FILE,
        )

    def _sync_index(self) -> None:
        """Append index records for entries the index lacks (a writer died in between)."""
        assert self._idx_fd is not None
        ipath = self.data_dir / INDEX_FILE
        isize = os.fstat(self._idx_fd).st_size
        if isize % idx.RECORD_SIZE:
            os.ftruncate(self._idx_fd, isize - isize % idx.RECORD_SIZE)
        have = idx.count(ipath)
        if have == self._seq:
            return
        if have > self._seq:
            os.ftruncate(self._idx_fd, 0)
            have = 0
        start = 0
        if have:
            last = idx.last_offset(ipath) or 0
            with open(self.data_dir / CHAIN_FILE, "rb") as f:
                f.seek(last)
                start = last + reader.read_line(f)[1]
        out = bytearray()
        with open(self.data_dir / CHAIN_FILE, "rb") as f:
            f.seek(start)
            offset = start
            while offset < self._size:
                line, n, complete = reader.read_line(f)
                if not complete:
                    break
                try:
                    if line is None:
                        raise ValueError("too long")
                    out += idx.record(action_hash_of_line(line), offset)
                except (CanonicalizationError, ValueError, KeyError, TypeError) as exc:
                    raise ChainError(
                        f"refusing to append: the chain entry at byte {offset} of {CHAIN_FILE} "
                        "is not one heso wrote (run `heso verify --chain`)"
                    ) from exc
                offset += n
        if out:
            self._write_index(bytes(out))

    def _sync_tree(self) -> None:
        """Bring the Merkle tree up to the chain (after another writer, or a failed write):
        O(log n) reads, and hashing only the entries it lacks."""
        assert self._tree is not None
        try:
            self._tree.recover(self._seq)
        except (OSError, TransparencyError) as exc:
            raise ChainError(f"cannot update the Merkle tree in {TREE_FILE}: {exc}") from exc
        self._tree_stale = False

    def _add_leaves(self, lines: list[bytes]) -> None:
        """The tree's share of an append: one leaf per line written, hashed and stored in one
        write at the next seal or checkpoint (:meth:`_flush_tree`). A failure to store the
        hashes is caught up later (the chain holds the lines)."""
        assert self._tree is not None
        if self._tree_stale:
            self._sync_tree()
            return
        try:
            self._tree.defer(lines)
        except (OSError, TransparencyError) as exc:
            self._tree_stale = True
            log.warning("cannot update %s (%s); it is caught up later", TREE_FILE, exc)

    def _flush_tree(self) -> None:
        """Store the hashes of the leaves deferred so far (before a head covers them), or
        catch the tree up with the chain; a failure is caught up later."""
        if self._tree is None:
            return
        try:
            if self._tree_stale:
                self._tree.recover(self._seq)
                self._tree_stale = False
            else:
                self._tree.flush()
        except (OSError, TransparencyError) as exc:
            self._tree_stale = True
            log.warning("cannot update %s (%s); it is caught up later", TREE_FILE, exc)

    def _checkpoint_locked(self) -> bytes:
        """Sign, keep and return a checkpoint of the whole chain (hold the locks): entries
        other writers appended are folded in first, so it never covers less than the log (nor
        less than a checkpoint another writer issued)."""
        assert self._tree is not None and self._fd is not None
        self._catch_up()
        if self._tree.tree.size != self._seq:
            self._tree_stale = True
        if self._tree_stale:
            self._sync_tree()
        if self.durability == "fsync" and self._synced < self._size:
            # The lines first, then the checkpoint that covers them (as for the head).
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise ChainError(f"cannot fsync the audit chain: {exc}") from exc
            self._synced = max(self._synced, self._size)
        try:
            self._tree.flush()
            store = self._tree.tree.store
            if self.durability == "fsync" and isinstance(store, FileHashStore):
                store.sync()
            return self._tree.issue()
        except (OSError, TransparencyError) as exc:
            self._tree_stale = True  # deferred leaves may be lost: recompute from the chain
            raise ChainError(f"cannot issue a checkpoint: {exc}") from exc

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold this writer's thread lock and the chain's lock, caught up with other writers."""
        with self._lock:
            self._ensure_open()
            assert self._lock_fd is not None
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                self._catch_up()
                yield
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def checkpoint(self) -> bytes:
        """Issue a signed checkpoint of the whole chain now; returns the note (the latest
        one when nothing was appended since it)."""
        with self._writing():
            return self._checkpoint_locked()

    def keep_cosigned(self, note: bytes) -> None:
        """Keep ``note`` (a checkpoint this log issued, now with witness cosignatures) in
        place of the copy without them."""
        with self._writing():
            assert self._tree is not None
            try:
                self._tree.keep_cosigned(note)
            except (OSError, TransparencyError) as exc:
                raise ChainError(f"cannot keep the cosigned checkpoint: {exc}") from exc

    @property
    def origin(self) -> str | None:
        """The origin line of this log's checkpoints (known to a writer)."""
        if self.key is None:
            return None
        return self.transparency.origin_for(self.key.public_key())

    def _acquire(self) -> None:
        """Take the inter-process lock, waiting at most ``lock_timeout`` seconds."""
        assert self._lock_fd is not None
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.0005
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ChainError(
                        f"timed out after {self.lock_timeout}s waiting for the chain lock "
                        f"({self.data_dir / LOCK_FILE})"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.02)

    def append(self, receipt: Mapping[str, Any]) -> Entry:
        """Link ``receipt`` into the chain and write it; returns once durable per the mode."""
        if self.durability == "fsync" or not self._lock.acquire(blocking=False):
            return self._append_queued(receipt)
        # The hot path of every gated action when no other thread is appending: the common case
        # is inlined (one flock, one fstat, one write per file); anything unusual goes through
        # the helpers.
        try:
            if self._gen != _forks or self._fd is None:
                self._ensure_open()
            fd, lock_fd = self._fd, self._lock_fd
            assert fd is not None and lock_fd is not None
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._acquire()
            try:
                st = os.fstat(fd)
                if st.st_size != self._size or st.st_nlink == 0:
                    self._catch_up()  # another writer appended (or worse): fold it in
                if self._index_stale:
                    self._try_sync_index()
                seq, offset = self._seq, self._size
                line = encode_entry(seq, self._prev, receipt)
                if len(line) > fmt.MAX_ENTRY_BYTES:
                    raise _too_long(line)
                self._write_line(line + b"\n")
                h = blake3.blake3(line).hexdigest()  # entry_hash(line)
                self._seq, self._prev, self._size = seq + 1, h, offset + len(line) + 1
                if not self._index_stale:
                    self._index_pending.append(
                        idx.record(receipt["content"]["action_hash"], offset)
                    )
                    if self._shared:
                        self._flush_index()
                self._add_leaves([line])
                self._unsealed += 1
                now = time.monotonic()
                if (
                    seq == 0
                    or self._unsealed >= self.seal_every
                    or now - self._last_seal >= self.seal_interval
                ):
                    self._seal_locked()
                    self._last_seal = now
                if self._tree is not None and self._tree.due(now):
                    self._checkpoint_locked()
            finally:
                fcntl.flock(lock_fd, fcntl.LOCK_UN)
        finally:
            self._lock.release()
        return Entry(seq, h, offset)

    def _append_queued(self, receipt: Mapping[str, Any]) -> Entry:
        """Append through the commit queue: always in ``fsync`` durability, and in ``buffered``
        when another thread holds the chain. The first waiting thread leads: it writes every
        queued line in one ``write`` (one lock round-trip, one index write; lines queued while
        it waited for another process's hold on the chain join it) and, in ``fsync``
        durability, covers them with one ``fsync``; the others sleep until their entry is
        written (durable). N threads gating at once share one ``fsync`` instead of paying N,
        and the interpreter lock changes hands twice per action instead of at every system
        call: a thread holding the chain never waits for the interpreter lock while the others
        run. Signing and hashing the receipt happened before, outside every lock."""
        me = _Pending(receipt)
        cond = self._queue_cond
        with cond:
            if self._queue_gen != _forks:  # a forked child: the parent's queue is not its
                self._queue, self._committing, self._queue_gen = [], False, _forks
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
                    cond.notify_all()  # the batch is done; a thread still queued leads next
        if me.error is not None:
            if lead:
                raise me.error
            raise ChainError(str(me.error)) from me.error
        assert me.entry is not None
        return me.entry

    def _commit(self, batch: list[_Pending]) -> None:
        """Write ``batch`` in order and ``fsync`` it; record each one's entry or error."""
        try:
            with self._lock:
                end = self._write_batch(batch)
            if end is not None and self.durability == "fsync":
                self._sync_through(end)
        except BaseException as exc:  # nothing of the batch is acknowledged
            for p in batch:
                if p.error is None:
                    p.error, p.entry = exc, None
        finally:
            for p in batch:
                p.done = True

    def _write_batch(self, batch: list[_Pending]) -> int | None:
        """Append the lines of ``batch`` in one ``write`` (under the locks); the end offset, or
        ``None`` when no line was written. A receipt that cannot be encoded fails alone."""
        if self._gen != _forks or self._fd is None:
            self._ensure_open()
        fd, lock_fd = self._fd, self._lock_fd
        assert fd is not None and lock_fd is not None
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._acquire()
            with self._queue_cond:  # what queued while another process held the chain joins
                batch += self._queue
                self._queue = []
        try:
            st = os.fstat(fd)
            if st.st_size != self._size or st.st_nlink == 0:
                self._catch_up()
            if self._index_stale:
                self._try_sync_index()
            first = seq = self._seq
            offset, prev = self._size, self._prev
            lines: list[bytes] = []
            records: list[bytes] = []
            for p in batch:
                try:
                    line = encode_entry(seq, prev, p.receipt)
                    if len(line) > fmt.MAX_ENTRY_BYTES:
                        raise _too_long(line)
                    record = idx.record(p.receipt["content"]["action_hash"], offset)
                except Exception as exc:
                    p.error = exc
                    continue
                h = blake3.blake3(line).hexdigest()
                p.entry = Entry(seq, h, offset)
                lines.append(line)
                records.append(record)
                seq, offset, prev = seq + 1, offset + len(line) + 1, h
            if not lines:
                return None
            self._write_line(b"\n".join(lines) + b"\n")
            self._seq, self._prev, self._size = seq, prev, offset
            if not self._index_stale:
                self._index_pending += records
                if self._shared:
                    self._flush_index()
            self._add_leaves(lines)
            self._unsealed += len(records)
            now = time.monotonic()
            if (
                first == 0
                or self._unsealed >= self.seal_every
                or now - self._last_seal >= self.seal_interval
            ):
                self._seal_locked()
                self._last_seal = now
            if self._tree is not None and self._tree.due(now):
                self._checkpoint_locked()
            return offset
        finally:
            fcntl.flock(lock_fd, fcntl.LOCK_UN)

    def _write_index(self, data: bytes) -> None:
        """Append whole index records; a failed or short write leaves no partial record."""
        assert self._idx_fd is not None
        try:
            written = os.write(self._idx_fd, data)
            if written != len(data):
                raise OSError(f"short write ({written} of {len(data)} bytes)")
        except OSError:
            size = os.fstat(self._idx_fd).st_size
            os.ftruncate(self._idx_fd, size - size % idx.RECORD_SIZE)
            raise

    def _flush_index(self) -> None:
        """Write the index records deferred since the last flush, in one ``write`` (hold the
        locks). A lone writer defers them to its next seal; writers that share the chain
        flush at every append, so each one's records are in the index before the others
        read its lines. Records another writer already wrote (it indexed these entries from
        the chain) are dropped, as are all of them after a failure: the index is then caught
        up from the chain."""
        pending = self._index_pending
        if not pending:
            return
        self._index_pending = []
        if self._index_stale:
            return
        assert self._idx_fd is not None
        try:
            if os.fstat(self._idx_fd).st_size != (self._seq - len(pending)) * idx.RECORD_SIZE:
                self._index_stale = True
                return
            self._write_index(b"".join(pending))
        except OSError as exc:
            self._index_stale = True
            log.warning("cannot update %s (%s); it is rebuilt later", INDEX_FILE, exc)

    def _try_sync_index(self) -> None:
        """Catch the index up after a failed write (the chain itself is intact)."""
        try:
            self._sync_index()
        except OSError:
            return
        self._index_stale = False

    def _write_line(self, data: bytes) -> None:
        assert self._fd is not None
        before = self._size
        try:
            written = os.write(self._fd, data)
            if written != len(data):
                # A short write (a full disk): the next write says why, or finishes the line.
                durable.write_all(self._fd, data[written:])
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, before)
            raise ChainError(
                f"cannot write the audit chain in {self.data_dir}: {exc.strerror or exc}"
            ) from exc

    def _sync_through(self, end: int) -> None:
        """Group commit: one ``fsync`` covers every append written before it started."""
        if self._synced >= end:
            return
        with self._sync_lock:
            if self._synced >= end:
                return
            assert self._fd is not None
            target = os.fstat(self._fd).st_size
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise ChainError(f"cannot fsync the audit chain: {exc}") from exc
            self._synced = max(self._synced, target)

    def _seal_locked(self) -> None:
        """Sign and write the head over everything known (hold the locks)."""
        assert self.key is not None and self._fd is not None
        self._flush_index()
        # Writers share the chain until a seal finds no other writer's lines since the last.
        self._shared, self._foreign = self._foreign, False
        sync = self.durability == "fsync"
        if sync and self._synced < self._size:
            # The lines first, then the head that covers them: a power cut in between leaves
            # an older head, never one past the durable end of the chain.
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise ChainError(f"cannot fsync the audit chain: {exc}") from exc
            self._synced = max(self._synced, self._size)
        self._flush_tree()  # readers of the tree see at least what the head covers
        doc = sign_head(self.key, self._seq, self._prev, self._size)
        try:
            durable.atomic_write(self.data_dir / HEAD_FILE, head_bytes(doc), sync=sync)
        except OSError as exc:
            raise ChainError(f"cannot write the signed chain head: {exc}") from exc
        self._unsealed = 0

    def seal(self) -> None:
        """Sign the current head now (also done periodically and on :meth:`close`)."""
        with self._writing():
            if self._seq:
                self._seal_locked()

    def close(self) -> None:
        """Seal unsealed entries and release descriptors."""
        with self._lock:
            if self._fd is None or self._gen != _forks:
                return
            assert self._lock_fd is not None
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                if self._unsealed:
                    self._catch_up()
                    self._seal_locked()  # in fsync durability, the lines are synced first
                elif self.durability == "fsync":
                    os.fsync(self._fd)
                self._flush_tree()
                if self._tree is not None and self._tree.size > self._tree.latest_size():
                    self._checkpoint_locked()
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                self._discard()

    @property
    def length(self) -> int:
        """Entries known to this writer."""
        with self._lock:
            self._ensure_open()
            return self._seq

    # -- reading ---------------------------------------------------------------------------

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def path(self) -> Path:
        """``receipts.jsonl``."""
        return self.data_dir / CHAIN_FILE

    def signed_head(self) -> Head | Verdict | None:
        return read_head(self.data_dir)

    def first_line(self) -> bytes | None:
        return reader.first_line(self.path)

    def check(self, checker: Checker, *, workers: int | None = None) -> Checked:
        """Check ``receipts.jsonl`` split into byte ranges, one worker process per range
        (one range below 4 MiB unless ``workers`` is given)."""
        path = self.path
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = 0
        parts = workers or (os.cpu_count() or 1)
        if workers is None and size < 4 * 1024 * 1024:
            parts = 1
        ranges = reader.split(path, size, parts) if size else []
        if len(ranges) > 1:
            from concurrent.futures import ProcessPoolExecutor
            from multiprocessing import get_context

            with ProcessPoolExecutor(len(ranges), mp_context=get_context("fork")) as pool:
                futures = [
                    pool.submit(reader.check_range, str(path), a, b, checker) for a, b in ranges
                ]
                segments = [fut.result() for fut in futures]
        else:
            segments = [reader.check_range(str(path), a, b, checker) for a, b in ranges]
        return Checked(segments, bool(size) and not reader.ends_with_newline(path, size))

    def head_line(self, head: Head) -> bytes | None:
        return reader.line_ending_at(self.path, head.size)

    def merkle_tree(self) -> MerkleTree:
        """The Merkle tree as stored, opened to read proofs: a writer keeps it current up to
        its signed head and latest checkpoint (it stores newer leaves at its next seal)."""
        try:
            return MerkleTree(FileHashStore(self.data_dir / TREE_FILE, writable=False))
        except FileNotFoundError:
            raise ChainError(
                f"no Merkle tree in {self.data_dir} ({TREE_FILE}): append with this version "
                "of heso, or run `heso checkpoint`, to build it"
            ) from None

    def checkpoint_store(self) -> FileCheckpointStore:
        """The signed checkpoints kept with the chain."""
        return FileCheckpointStore(self.data_dir / CHECKPOINTS_DIR)

    def torn_tail(self) -> bool:
        """Whether an incomplete (newline-less) line ends ``receipts.jsonl``."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return False
        return bool(size) and not reader.ends_with_newline(self.path, size)

    def quarantined(self) -> int:
        return reader.torn_count(self.data_dir)

    def entries(self, start: int = 0) -> Iterator[tuple[int, bytes]]:
        offset = 0 if start <= 0 else reader.offset_of(self.data_dir, start)
        if offset is None:
            return
        for seq, _, line in reader.lines(self.path, offset, max(start, 0)):
            yield seq, line

    def line(self, seq: int) -> bytes:
        offset = reader.offset_of(self.data_dir, seq) if seq >= 0 else None
        if offset is None:
            raise ChainError(f"no chain entry {seq} in {self.path}")
        return reader.line_at(self.path, offset)

    def find(self, prefix: str) -> list[tuple[str, int]]:
        return [(h, seq) for h, seq, _ in reader.find(self.data_dir, prefix)]

    def receipt(self, prefix: str) -> dict[str, Any]:
        try:
            hits = reader.find(self.data_dir, prefix)
        except ValueError as exc:
            raise ReceiptNotFoundError(str(exc)) from exc
        hashes = sorted({h for h, _, _ in hits})
        if not hashes:
            path = self.path
            if not path.exists() or path.stat().st_size == 0:
                raise ReceiptNotFoundError(
                    f"the store {path} is empty: no receipt has been minted yet"
                )
            raise ReceiptNotFoundError(f"no receipt in {path} matches {prefix!r}")
        if len(hashes) > 1:
            raise AmbiguousPrefixError(prefix, hashes)
        receipt = self._receipt_at(hits[-1][2], hashes[0])
        if receipt is None:
            # The index points elsewhere (damaged or stale): it is derived data, so ask the
            # chain.
            hits = [h for h in reader.find(self.data_dir, prefix, use_index=False)]
            hits = [h for h in hits if h[0] == hashes[0]]
            receipt = self._receipt_at(hits[-1][2], hashes[0]) if hits else None
            if receipt is None:
                raise ReceiptNotFoundError(f"no receipt in {self.path} matches {prefix!r}")
        return receipt

    def _receipt_at(self, offset: int, action_hash: str) -> dict[str, Any] | None:
        """The receipt of the entry at ``offset`` if it is the one with ``action_hash``."""
        try:
            receipt: dict[str, Any] = loads_strict(reader.line_at(self.path, offset))["receipt"]
            if receipt["content"]["action_hash"] == action_hash:
                return receipt
        except (ChainError, CanonicalizationError, KeyError, TypeError):
            pass
        return None

    def scan(self, action_hash: str, start: int = 0) -> list[tuple[int, bytes]]:
        offset = (reader.offset_of(self.data_dir, start) or 0) if start > 0 else 0
        return reader.scan(self.path, action_hash, offset)

    def stamp(self) -> Hashable:
        out = []
        for name in (CHAIN_FILE, HEAD_FILE, TORN_FILE):
            try:
                info = (self.data_dir / name).stat()
            except FileNotFoundError:
                out.append((-1, -1))
            else:
                out.append((info.st_size, info.st_mtime_ns))
        return tuple(out)
