"""The audit chain: ``receipts.jsonl``, one hash-linked entry per line, with a signed head.

Each line is the RFC 8785 form of ``{"prev": <hex>, "receipt": <signed receipt>, "seq": <n>}``.
An entry's hash is BLAKE3 of its line without the newline; ``prev`` is the previous entry's hash
(64 zeros for the first). ``chain.head.json`` holds the operator's signature over the length,
last hash and byte size, so truncating the tail or rewriting history is detectable.

Appends hold a thread lock and an inter-process ``flock``; each line goes out in one ``write``
on an ``O_APPEND`` descriptor. A line left torn by a killed writer is moved to
``receipts.torn`` (reported, never silently dropped) by the next writer. Durability
``"buffered"`` survives a killed process; ``"fsync"`` also survives power loss, with group
commit (appends that wait together share one ``fsync``).
"""

from __future__ import annotations

import base64
import fcntl
import itertools
import json
import logging
import mmap
import os
import re
import threading
import time
from collections.abc import Collection, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Literal

import blake3

from heso import index as idx
from heso import verdict as v
from heso.canonical import MAX_PARSE_DEPTH, canonical_bytes, loads_canonical, loads_strict
from heso.errors import (
    AmbiguousPrefixError,
    CanonicalizationError,
    ChainError,
    ReceiptNotFoundError,
)
from heso.keys import PublicKey, SigningKey
from heso.receipt import (
    ALG,
    ApproverGroup,
    RegisteredGroup,
    format_timestamp,
    verify_receipt,
)
from heso.verdict import Verdict

log = logging.getLogger("heso.chain")

_forks = 0
"""How many forks separate this process from the one that imported heso: a writer's
descriptors and commit queue belong to one generation, and a forked child opens its own. (A
counter bumped after each fork costs nothing per append; ``os.getpid()`` is a system call.)"""


def _forked() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_forked)

CHAIN_FILE = "receipts.jsonl"
INDEX_FILE = "receipts.idx"
HEAD_FILE = "chain.head.json"
LOCK_FILE = "receipts.lock"
TORN_FILE = "receipts.torn"
GENESIS = "0" * 64
HEAD_ALG = "heso-chain-head/v1+ed25519"
HEAD_DOMAIN = b"heso-chain-head/v1\n"
ENTRY_KEYS = frozenset({"prev", "receipt", "seq"})
MAX_ENTRY_BYTES = 16 * 1024 * 1024
"""The longest line (without its newline) the writer appends and the verifier reads; the
verifier reports a longer line as ``MalformedEntry`` without holding it in memory."""
MAX_HEAD_BYTES = 64 * 1024
"""A ``chain.head.json`` larger than this is ``HeadInvalid``."""
_CHUNK = 1 << 20
_HEX128 = re.compile(r"[0-9a-f]{128}").fullmatch

Durability = Literal["buffered", "fsync"]
DURABILITY_MODES: tuple[str, ...] = ("buffered", "fsync")


@dataclass(frozen=True)
class Entry:
    """Where an appended receipt landed."""

    seq: int
    entry_hash: str
    offset: int


def _entry(seq: int, entry_hash: str, offset: int) -> Entry:
    """``Entry(seq, entry_hash, offset)`` without the frozen ``__init__``'s per-field
    ``object.__setattr__`` (the same object, a third of the cost; once per append)."""
    e = object.__new__(Entry)
    e.__dict__.update(seq=seq, entry_hash=entry_hash, offset=offset)
    return e


@dataclass(frozen=True)
class Head:
    """A verified signed head."""

    length: int
    head: str
    size: int
    operator: PublicKey
    sealed_at: str


def entry_hash(line: bytes) -> str:
    """Hash of one chain line (without its newline)."""
    return blake3.blake3(line).hexdigest()


def encode_entry(seq: int, prev: str, receipt: Mapping[str, Any]) -> bytes:
    """The canonical line (without newline) of one entry.

    A freshly minted receipt carries its canonical bytes, so the line is spliced, not
    re-serialized; the result equals ``JCS({"prev", "receipt", "seq"})``.
    """
    encoded = getattr(receipt, "canonical", None)
    if encoded is None:
        encoded = canonical_bytes(receipt)
    return b'{"prev":"%s","receipt":%s,"seq":%d}' % (prev.encode("ascii"), encoded, seq)


class _Pending:
    """One receipt in the ``fsync`` commit queue, and what became of it."""

    __slots__ = ("done", "entry", "error", "receipt")

    def __init__(self, receipt: Mapping[str, Any]) -> None:
        self.receipt = receipt
        self.entry: Entry | None = None
        self.error: BaseException | None = None
        self.done = False


# -- the signed head ------------------------------------------------------------------------


def head_message(content: Mapping[str, Any]) -> bytes:
    """The bytes the operator signs for a head."""
    return HEAD_DOMAIN + canonical_bytes(content)


def sign_head(key: SigningKey, length: int, head: str, size: int) -> dict[str, Any]:
    """A signed head document."""
    content = {
        "head": head,
        "length": length,
        "operator": key.public_key().to_str(),
        "sealed_at": format_timestamp(datetime.now(timezone.utc)),
        "size": size,
    }
    return {"alg": HEAD_ALG, "content": content, "signature": key.sign(head_message(content)).hex()}


def read_head(data_dir: Path) -> Head | Verdict | None:
    """The verified head, ``None`` when absent, or a ``HeadInvalid`` verdict."""
    path = Path(data_dir) / HEAD_FILE
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_HEAD_BYTES + 1)
    except FileNotFoundError:
        return None
    if len(raw) > MAX_HEAD_BYTES:
        return v.fail(v.HEAD_INVALID, f"{HEAD_FILE} is larger than {MAX_HEAD_BYTES} bytes")
    try:
        doc = loads_strict(raw)
        content = doc["content"]
        if doc["alg"] != HEAD_ALG or set(doc) != {"alg", "content", "signature"}:
            raise ValueError("unexpected head shape")
        operator = PublicKey.from_str(content["operator"])
        length, head, size = content["length"], content["head"], content["size"]
        if not (isinstance(length, int) and isinstance(size, int) and isinstance(head, str)):
            raise ValueError("bad head field types")
        if not isinstance(doc["signature"], str) or not _HEX128(doc["signature"]):
            raise ValueError("signature must be 128 lowercase hex digits")
        sig = bytes.fromhex(doc["signature"])
        sealed_at = content["sealed_at"]
    except (CanonicalizationError, ValueError, KeyError, TypeError) as exc:
        return v.fail(v.HEAD_INVALID, f"{HEAD_FILE} is malformed: {exc}")
    if not operator.verify(sig, head_message(content)):
        return v.fail(v.HEAD_INVALID, f"{HEAD_FILE} signature does not verify")
    return Head(length, head, size, operator, sealed_at)


def _write_atomic(path: Path, data: bytes, *, sync: bool) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _last_line_before(f: Any, end: int) -> bytes | None:
    """The complete line that ends at byte ``end`` (which must follow a newline), without its
    newline; ``None`` when it is longer than :data:`MAX_ENTRY_BYTES`."""
    if end <= 0:
        return b""
    pos = end - 1  # the newline itself
    parts: list[bytes] = []
    length = 0
    while pos > 0:
        start = max(0, pos - 65536)
        f.seek(start)
        chunk = f.read(pos - start)
        nl = chunk.rfind(b"\n")
        if nl != -1:
            parts.append(chunk[nl + 1 :])
            length += len(chunk) - nl - 1
            break
        parts.append(chunk)
        length += len(chunk)
        if length > MAX_ENTRY_BYTES:
            return None
        pos = start
    if length > MAX_ENTRY_BYTES:
        return None
    return b"".join(reversed(parts))


def _read_line(f: Any) -> tuple[bytes | None, int, bool]:
    """Read one line: ``(line without its newline, bytes consumed, whether it ended in a newline)``.

    A line longer than :data:`MAX_ENTRY_BYTES` comes back as ``None``; it is skipped in
    chunks, so memory stays bounded however long it is.
    """
    raw = f.readline(MAX_ENTRY_BYTES + 1)
    if raw.endswith(b"\n"):
        return raw[:-1], len(raw), True
    if len(raw) <= MAX_ENTRY_BYTES:
        return raw, len(raw), False
    consumed = len(raw)
    while True:
        chunk = f.readline(_CHUNK)
        consumed += len(chunk)
        if not chunk:
            return None, consumed, False
        if chunk.endswith(b"\n"):
            return None, consumed, True


# -- the writer -----------------------------------------------------------------------------


class Chain:
    """Appends signed receipts to a project's chain. Safe across threads and processes."""

    def __init__(
        self,
        data_dir: str | Path,
        *,
        key: SigningKey,
        durability: str = "buffered",
        seal_every: int = 256,
        seal_interval: float = 1.0,
        lock_timeout: float = 10.0,
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

    # The descriptors are per process: a forked child reopens them.
    def _ensure_open(self) -> None:
        if self._gen == _forks and self._fd is not None:
            return
        self._fd = self._lock_fd = self._idx_fd = None
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._fd = os.open(
                self.data_dir / CHAIN_FILE, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600
            )
            self._lock_fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
            self._idx_fd = os.open(
                self.data_dir / INDEX_FILE, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600
            )
        except OSError as exc:
            self._discard()
            raise ChainError(f"cannot open the audit chain in {self.data_dir}: {exc}") from exc
        self._size, self._seq, self._prev = 0, 0, GENESIS
        self._synced = 0
        self._index_stale = False
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
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
            if not _head_matches(self.data_dir / CHAIN_FILE, head):
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

    def _quarantine(self, offset: int, torn: bytes) -> None:
        record = {
            "offset": offset,
            "length": len(torn),
            "recovered_at": format_timestamp(datetime.now(timezone.utc)),
            "bytes_b64": base64.b64encode(torn).decode("ascii"),
        }
        fd = os.open(self.data_dir / TORN_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, json.dumps(record, sort_keys=True).encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
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
                start = last + _read_line(f)[1]
        out = bytearray()
        with open(self.data_dir / CHAIN_FILE, "rb") as f:
            f.seek(start)
            offset = start
            while offset < self._size:
                line, n, complete = _read_line(f)
                if not complete:
                    break
                try:
                    if line is None:
                        raise ValueError("too long")
                    out += idx.record(_receipt_hash_of_line(line), offset)
                except (CanonicalizationError, ValueError, KeyError, TypeError) as exc:
                    raise ChainError(
                        f"refusing to append: the chain entry at byte {offset} of {CHAIN_FILE} "
                        "is not one heso wrote (run `heso verify --chain`)"
                    ) from exc
                offset += n
        if out:
            self._write_index(bytes(out))

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
        if self.durability == "fsync":
            return self._append_durable(receipt)
        # The hot path of every gated action: the common case is inlined (one flock, one fstat,
        # one write per file); anything unusual goes through the helpers.
        with self._lock:
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
                if len(line) > MAX_ENTRY_BYTES:
                    raise ChainError(
                        f"refusing to append a {len(line)}-byte entry: the limit is "
                        f"{MAX_ENTRY_BYTES} bytes; redact large fields (strategy destroy) or "
                        "pass a digest of the payload instead"
                    )
                self._write_line(line + b"\n")
                h = blake3.blake3(line).hexdigest()  # entry_hash(line)
                self._seq, self._prev, self._size = seq + 1, h, offset + len(line) + 1
                if not self._index_stale:
                    try:
                        self._write_index(idx.record(receipt["content"]["action_hash"], offset))
                    except OSError as exc:
                        self._index_stale = True
                        log.warning("cannot update %s (%s); it is rebuilt later", INDEX_FILE, exc)
                end = self._size
                self._unsealed += 1
                now = time.monotonic()
                if (
                    seq == 0
                    or self._unsealed >= self.seal_every
                    or now - self._last_seal >= self.seal_interval
                ):
                    self._seal_locked()
                    self._last_seal = now
            finally:
                fcntl.flock(lock_fd, fcntl.LOCK_UN)
        if self.durability == "fsync":
            self._sync_through(end)
        return _entry(seq, h, offset)

    def _append_durable(self, receipt: Mapping[str, Any]) -> Entry:
        """``fsync`` durability through a commit queue. The first waiting thread leads: it
        writes every queued line in one ``write`` (one lock round-trip, one index write) and
        covers them with one ``fsync``; the others sleep until their entry is durable. N
        threads gating at once share one ``fsync`` instead of paying N, and the interpreter
        lock changes hands twice per action instead of at every system call."""
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
            if end is not None:
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
                    if len(line) > MAX_ENTRY_BYTES:
                        raise ChainError(
                            f"refusing to append a {len(line)}-byte entry: the limit is "
                            f"{MAX_ENTRY_BYTES} bytes; redact large fields (strategy destroy) "
                            "or pass a digest of the payload instead"
                        )
                    record = idx.record(p.receipt["content"]["action_hash"], offset)
                except Exception as exc:
                    p.error = exc
                    continue
                h = blake3.blake3(line).hexdigest()
                p.entry = _entry(seq, h, offset)
                lines.append(line)
                records.append(record)
                seq, offset, prev = seq + 1, offset + len(line) + 1, h
            if not lines:
                return None
            lines.append(b"")
            self._write_line(b"\n".join(lines))
            self._seq, self._prev, self._size = seq, prev, offset
            if not self._index_stale:
                try:
                    self._write_index(b"".join(records))
                except OSError as exc:
                    self._index_stale = True
                    log.warning("cannot update %s (%s); it is rebuilt later", INDEX_FILE, exc)
            self._unsealed += len(records)
            now = time.monotonic()
            if (
                first == 0
                or self._unsealed >= self.seal_every
                or now - self._last_seal >= self.seal_interval
            ):
                # The lines first, then the head that covers them: a power cut in between
                # leaves an older head, never one past the durable end of the chain.
                try:
                    os.fsync(fd)
                except OSError as exc:
                    raise ChainError(f"cannot fsync the audit chain: {exc}") from exc
                self._synced = max(self._synced, offset)
                self._seal_locked()
                self._last_seal = now
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
                view = memoryview(data)[written:]
                while view:
                    view = view[os.write(self._fd, view) :]
        except OSError as exc:
            try:
                os.ftruncate(self._fd, before)
            except OSError:
                pass
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
        doc = sign_head(self.key, self._seq, self._prev, self._size)
        try:
            _write_atomic(
                self.data_dir / HEAD_FILE,
                json.dumps(doc, sort_keys=True).encode() + b"\n",
                sync=self.durability == "fsync",
            )
        except OSError as exc:
            raise ChainError(f"cannot write the signed chain head: {exc}") from exc
        self._unsealed = 0

    def seal(self) -> None:
        """Sign the current head now (also done periodically and on :meth:`close`)."""
        with self._lock:
            self._ensure_open()
            assert self._lock_fd is not None
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                self._catch_up()
                if self._seq:
                    self._seal_locked()
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

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
                    self._seal_locked()
                if self.durability == "fsync":
                    os.fsync(self._fd)
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                self._discard()

    @property
    def length(self) -> int:
        """Entries known to this writer."""
        with self._lock:
            self._ensure_open()
            return self._seq


def _receipt_hash_of_line(line: bytes) -> str:
    entry = loads_strict(line.rstrip(b"\n"))
    return str(entry["receipt"]["content"]["action_hash"])


# -- reading --------------------------------------------------------------------------------


def iter_entries(data_dir: str | Path) -> Iterator[tuple[int, bytes]]:
    """Every complete line with its byte offset (a torn tail is not yielded)."""
    path = Path(data_dir) / CHAIN_FILE
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    with f:
        offset = 0
        for line in f:
            if not line.endswith(b"\n"):
                return
            yield offset, line[:-1]
            offset += len(line)


def read_entry_at(data_dir: str | Path, offset: int) -> dict[str, Any]:
    """The parsed entry at ``offset``."""
    with open(Path(data_dir) / CHAIN_FILE, "rb") as f:
        f.seek(offset)
        line, _, complete = _read_line(f)
    if not complete or line is None:
        raise ChainError(f"no complete chain entry of at most {MAX_ENTRY_BYTES} bytes at {offset}")
    entry: dict[str, Any] = loads_strict(line)
    return entry


def find(data_dir: str | Path, prefix: str, *, use_index: bool = True) -> list[tuple[str, int]]:
    """``(action_hash, offset)`` of entries whose hash starts with ``prefix``.

    Uses the index; entries the index lacks (a writer died between the two writes, or the
    index is missing) are found by scanning only the part of the chain past it. An index
    whose last record does not match the chain is ignored (the whole chain is scanned).
    """
    data_dir = Path(data_dir)
    p = idx.validate_prefix(prefix)
    ipath = data_dir / INDEX_FILE
    chain_path = data_dir / CHAIN_FILE
    try:
        size = chain_path.stat().st_size
    except FileNotFoundError:
        return idx.lookup(ipath, p) if use_index else []
    hits: list[tuple[str, int]] = []
    start = 0
    last = idx.last_record(ipath) if use_index else None
    if last is not None:
        with open(chain_path, "rb") as f:
            f.seek(last[1])
            line, n, complete = _read_line(f)
        try:
            consistent = complete and line is not None and _receipt_hash_of_line(line) == last[0]
        except (CanonicalizationError, KeyError, TypeError):
            consistent = False
        if consistent:
            hits = idx.lookup(ipath, p)
            start = last[1] + n
    if start < size:
        with open(chain_path, "rb") as f:
            f.seek(start)
            offset = start
            while True:
                line, n, complete = _read_line(f)
                if not complete:
                    break
                try:
                    h = _receipt_hash_of_line(line) if line is not None else ""
                except (CanonicalizationError, KeyError, TypeError):
                    h = ""
                if h.startswith(p):
                    hits.append((h, offset))
                offset += n
    return hits


def get_receipt(data_dir: str | Path, prefix: str) -> dict[str, Any]:
    """The receipt whose action_hash starts with ``prefix`` (the latest entry if repeated)."""
    try:
        hits = find(data_dir, prefix)
    except ValueError as exc:
        raise ReceiptNotFoundError(str(exc)) from exc
    hashes = sorted({h for h, _ in hits})
    if not hashes:
        chain_path = Path(data_dir) / CHAIN_FILE
        if not chain_path.exists() or chain_path.stat().st_size == 0:
            raise ReceiptNotFoundError(
                f"the store {chain_path} is empty: no receipt has been minted yet"
            )
        raise ReceiptNotFoundError(f"no receipt in {chain_path} matches {prefix!r}")
    if len(hashes) > 1:
        raise AmbiguousPrefixError(prefix, hashes)
    receipt = _receipt_at(data_dir, hits[-1][1], hashes[0])
    if receipt is None:
        # The index points elsewhere (damaged or stale): it is derived data, so ask the chain.
        hits = [hit for hit in find(data_dir, prefix, use_index=False) if hit[0] == hashes[0]]
        receipt = _receipt_at(data_dir, hits[-1][1], hashes[0]) if hits else None
        if receipt is None:
            raise ReceiptNotFoundError(
                f"no receipt in {Path(data_dir) / CHAIN_FILE} matches {prefix!r}"
            )
    return receipt


def _receipt_at(data_dir: str | Path, offset: int, action_hash: str) -> dict[str, Any] | None:
    """The receipt of the entry at ``offset`` if it is the one with ``action_hash``."""
    try:
        receipt: dict[str, Any] = read_entry_at(data_dir, offset)["receipt"]
        if receipt["content"]["action_hash"] == action_hash:
            return receipt
    except (ChainError, CanonicalizationError, KeyError, TypeError):
        pass
    return None


def scan(data_dir: str | Path, action_hash: str, start: int = 0) -> list[tuple[int, bytes]]:
    """``(offset, line)`` of every complete entry from byte ``start`` (a line start) whose
    receipt has ``action_hash``, read from the chain itself, never the index: for decisions
    that must hold when the derived index was tampered with. Lines that do not parse are
    skipped (verification reports them)."""
    path = Path(data_dir) / CHAIN_FILE
    needle = b'"action_hash":"' + action_hash.encode("ascii") + b'"'
    out: list[tuple[int, bytes]] = []
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return out
    with f:
        if os.fstat(f.fileno()).st_size <= start:
            return out
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            pos = m.find(needle, start)
            while pos != -1:
                begin = max(m.rfind(b"\n", start, pos) + 1, start)
                end = m.find(b"\n", pos)
                if end == -1:
                    break  # a torn tail
                line = m[begin:end]
                try:
                    if loads_strict(line)["receipt"]["content"]["action_hash"] == action_hash:
                        out.append((begin, line))
                except (CanonicalizationError, ValueError, KeyError, TypeError):
                    pass
                pos = m.find(needle, end)
    return out


# -- verification ---------------------------------------------------------------------------


@dataclass
class _Segment:
    lines: int = 0
    first_seq: Any = None
    first_prev: Any = None
    last_hash: str = GENESIS
    failure: Verdict | None = None
    failure_at: int = -1
    l1: int = 0


def _lines(f: Any, start: int, end: int) -> Iterator[tuple[bytes | None, bool]]:
    """Each line in bytes ``[start, end)`` of ``f``: ``(line without its newline, whether it
    ended in a newline)``, read in 1 MiB chunks.

    A line longer than :data:`MAX_ENTRY_BYTES` comes back as ``None`` and is skipped without
    being held, so memory stays bounded however long it is.
    """
    f.seek(start)
    left = end - start
    carry: list[bytes] = []  # the start of a line that continues in the next chunk
    carried = 0
    too_long = False
    while left > 0:
        chunk = f.read(min(_CHUNK, left))
        if not chunk:
            break
        left -= len(chunk)
        lines = chunk.split(b"\n")
        tail = lines.pop()  # after the chunk's last newline: an unfinished line (or b"")
        if lines:
            if carry or too_long:
                first = lines[0]
                if too_long or carried + len(first) > MAX_ENTRY_BYTES:
                    lines[0] = None  # type: ignore[call-overload]
                else:
                    carry.append(first)
                    lines[0] = b"".join(carry)
                carry, carried, too_long = [], 0, False
            for line in lines:
                if line is not None and len(line) > MAX_ENTRY_BYTES:
                    line = None
                yield line, True
        if tail and not too_long:
            carry.append(tail)
            carried += len(tail)
            if carried > MAX_ENTRY_BYTES:
                carry, carried, too_long = [], 0, True
    if carry or too_long:
        yield (None if too_long else b"".join(carry)), False


def _verify_segment(
    path: str,
    start: int,
    end: int,
    trusted: Collection[PublicKey] | None,
    approver_keys: Mapping[PublicKey, str] | None,
    approver_groups: Mapping[str, ApproverGroup] | None,
) -> _Segment:
    seg = _Segment()
    prev_hash: str | None = None
    prev_seq: int | None = None
    with open(path, "rb", buffering=0) as f:
        for line, complete in _lines(f, start, end):
            if not complete:
                break
            i = seg.lines
            seg.lines += 1
            if line is None:
                if seg.failure is None:
                    seg.failure = v.fail(
                        v.MALFORMED_ENTRY, f"the line is longer than {MAX_ENTRY_BYTES} bytes"
                    )
                    seg.failure_at = i
                prev_hash, seg.last_hash = None, ""
                continue
            h = entry_hash(line)
            if seg.failure is None:
                bad, prev_seq = _check_entry(
                    line, i, prev_hash, prev_seq, trusted, approver_keys, approver_groups, seg
                )
                if bad is not None:
                    seg.failure, seg.failure_at = bad, i
            prev_hash = h
            seg.last_hash = h
    return seg


_LONG_DIGITS = re.compile(r"-?[0-9]{16}").match


class _LongNumber(Exception):
    """A number token with 16 or more integer digits (see :data:`_ENTRY_DECODER`)."""


def _int_token(text: str) -> int:
    if len(text) > 15 and _LONG_DIGITS(text):
        raise _LongNumber
    return int(text)


def _float_token(text: str) -> float:
    if len(text) > 15 and _LONG_DIGITS(text):
        raise _LongNumber
    return float(text)


_ENTRY_DECODER = json.JSONDecoder(parse_int=_int_token, parse_float=_float_token)
"""``json.loads`` for chain lines that stops at a number of 16 or more integer digits: the
strict parser reads those as doubles (an integer beyond 2**53 is not the int json.loads
makes of it), so such a line goes to the strict parser, as does one nested too deeply."""


_RECEIPT_HEAD = b'","receipt":{"alg":"' + ALG.encode() + b'","content":'
_SIGNATURES = b',"signatures":'
_RECEIPT_KEYS = frozenset({"alg", "content", "signatures"})
_CONTENT_START = 9 + 64 + len(_RECEIPT_HEAD)


def _canonical_content_hash(
    line: bytes, entry: Mapping[str, Any], *, canonical: bool = False
) -> str | None:
    """The content hash from the line's own bytes, when the line is provably canonical.

    The line must be exactly ``{"prev":…,"receipt":{"alg":…,"content":C,"signatures":S},
    "seq":n}`` with the fixed prefix, ``S`` and the tail re-encoded to the same bytes (not
    needed when the caller proved the whole line ``canonical``), and ``C`` minus its
    ``action_hash`` member hashing to the claimed value — so ``C`` is the very text the
    operator hashed and the parse is unambiguous. Anything else returns ``None`` and is
    verified the generic way.
    """
    receipt = entry["receipt"]
    if type(receipt) is not dict or receipt.keys() != _RECEIPT_KEYS:
        return None
    content = receipt["content"]
    if type(content) is not dict:
        return None
    claimed = content.get("action_hash")
    prev = entry["prev"]
    if type(claimed) is not str or len(claimed) != 64 or len(prev) != 64:
        return None
    if canonical:
        # prev is 64 characters: in a canonical line, 64 bytes only if it needs no escapes.
        if not line.startswith(_RECEIPT_HEAD, 73):
            return None
    elif line[:_CONTENT_START] != b'{"prev":"' + prev.encode("ascii", "replace") + _RECEIPT_HEAD:
        return None
    # In a canonical line, the last ',"signatures":' is the receipt's own member: a nested one
    # could only sit in S, whose objects verify_receipt checks (and refuses) before any hash.
    end = line.rfind(_SIGNATURES)
    if end < _CONTENT_START:
        return None
    if not canonical:
        try:
            tail = b'%s%s},"seq":%d}' % (
                _SIGNATURES,
                canonical_bytes(receipt["signatures"]),
                entry["seq"],
            )
        except (CanonicalizationError, TypeError):
            return None
        if line[end:] != tail:
            return None
    member = b',"action_hash":"%s"' % claimed.encode("ascii", "replace")
    at = line.find(member, _CONTENT_START, end)
    if at < 0:
        return None
    view = memoryview(line)
    hasher = blake3.blake3(view[_CONTENT_START:at])
    hasher.update(view[at + len(member) : end])
    h = hasher.hexdigest()
    return h if h == claimed else None


def _check_entry_strictly(line: bytes) -> Verdict | tuple[dict[str, Any], int, str, str | None]:
    """Parse and canonical-check a line the fast path left undecided (or refused)."""
    long_number = False
    try:
        try:
            entry = _ENTRY_DECODER.decode(line.decode("utf-8"))
        except _LongNumber:
            entry, long_number = json.loads(line), True
    except ValueError as exc:
        return v.fail(v.MALFORMED_JSON, f"line is not valid JSON: {str(exc)[:160]}")
    except RecursionError:
        return v.fail(
            v.MALFORMED_JSON, f"line is not valid JSON: nested deeper than {MAX_PARSE_DEPTH} levels"
        )
    if not isinstance(entry, dict) or entry.keys() != ENTRY_KEYS:
        return v.fail(v.MALFORMED_ENTRY, "an entry must have exactly prev, receipt and seq")
    seq, prev = entry["seq"], entry["prev"]
    if type(seq) is not int or not isinstance(prev, str):
        return v.fail(v.MALFORMED_ENTRY, "seq must be an integer and prev a string")
    # The line must be byte for byte the RFC 8785 form heso writes: then no byte of it can
    # change without changing what it says, and its hash is the hash of its meaning.
    content_hash = _canonical_content_hash(line, entry)
    try:
        if content_hash is not None:
            # Its prefix and tail already match their canonical bytes: only the content is
            # left to re-encode (a third less work than the whole line).
            canonical = (
                canonical_bytes(entry["receipt"]["content"])
                == line[_CONTENT_START : line.rfind(_SIGNATURES)]
            )
        else:
            canonical = canonical_bytes(entry) == line
    except (CanonicalizationError, RecursionError):
        canonical = False
    if not canonical or long_number or line.count(b"[") + line.count(b"{") > MAX_PARSE_DEPTH:
        # The strict parser decides: it refuses what json.loads tolerates, and reads numbers
        # as doubles (an integer beyond 2**53 is not the int json.loads makes of it).
        try:
            entry = loads_strict(line)
        except (CanonicalizationError, ValueError, RecursionError) as exc:
            return v.fail(v.MALFORMED_JSON, f"line is not valid JSON: {str(exc)[:160]}")
        if canonical_bytes(entry) != line:
            return v.fail(
                v.MALFORMED_ENTRY,
                "the line is not in canonical (RFC 8785) form, so it is not the line heso wrote",
            )
        seq, prev = entry["seq"], entry["prev"]
        if type(seq) is not int:
            return v.fail(v.MALFORMED_ENTRY, "seq must be an integer and prev a string")
        content_hash = _canonical_content_hash(line, entry)
    return entry, seq, prev, content_hash


def _check_entry(
    line: bytes,
    i: int,
    prev_hash: str | None,
    prev_seq: int | None,
    trusted: Collection[PublicKey] | None,
    approver_keys: Mapping[PublicKey, str] | None,
    approver_groups: Mapping[str, ApproverGroup] | None,
    seg: _Segment,
) -> tuple[Verdict | None, int | None]:
    """Check one line; returns the first problem (if any) and the entry's seq."""
    entry = loads_canonical(line)
    if type(entry) is dict and entry.keys() == ENTRY_KEYS:
        # The common case, decided in one pass: the line is provably its own RFC 8785 form.
        seq, prev = entry["seq"], entry["prev"]
        if type(seq) is not int or type(prev) is not str:
            return v.fail(v.MALFORMED_ENTRY, "seq must be an integer and prev a string"), None
        content_hash = _canonical_content_hash(line, entry, canonical=True)
    else:
        found = _check_entry_strictly(line)
        if isinstance(found, Verdict):
            return found, None
        entry, seq, prev, content_hash = found
    if i == 0:
        seg.first_seq, seg.first_prev = seq, prev
    elif prev_seq is None or seq != prev_seq + 1:
        return v.fail(
            v.SEQUENCE_MISMATCH,
            f"entry says seq {seq} after seq {prev_seq}: an entry was deleted, inserted, "
            "duplicated or reordered here",
        ), seq
    elif prev != prev_hash:
        return v.fail(v.CHAIN_BROKEN, "prev does not match the hash of the entry before it"), seq
    verdict = verify_receipt(
        entry["receipt"],
        trusted_operators=trusted,
        approver_keys=approver_keys,
        approver_groups=approver_groups,
        content_hash=content_hash,
    )
    if not verdict.ok:
        if verdict.code == v.UNTRUSTED_KEY:
            verdict = v.fail(v.OPERATOR_MISMATCH, verdict.reason, action_hash=verdict.action_hash)
        return verdict, seq
    if verdict.trust_level == "L1":
        seg.l1 += 1
    return None, seq


def _split(path: Path, size: int, parts: int) -> list[tuple[int, int]]:
    bounds = [0]
    with open(path, "rb") as f:
        for k in range(1, parts):
            f.seek(size * k // parts)
            _read_line(f)
            pos = f.tell()
            if bounds[-1] < pos < size:
                bounds.append(pos)
    bounds.append(size)
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _anchor(data_dir: Path, head: Head | None) -> PublicKey | None:
    if head is not None:
        return head.operator
    try:
        f = open(data_dir / CHAIN_FILE, "rb")
    except FileNotFoundError:
        return None
    with f:
        line, _, complete = _read_line(f)
    if not complete or line is None:
        return None
    try:
        return PublicKey.from_str(loads_strict(line)["receipt"]["content"]["agent_identity"])
    except (CanonicalizationError, ValueError, KeyError, TypeError):
        return None


def verify_chain(
    data_dir: str | Path,
    *,
    trusted_operators: Collection[PublicKey] | None = None,
    approver_keys: Mapping[PublicKey, str] | None = None,
    approver_groups: Mapping[str, ApproverGroup] | None = None,
    workers: int | None = None,
    require_sealed: bool = False,
) -> Verdict:
    """Verify every entry, every link and the signed head; the verdict names the first failure.

    Each receipt is verified by :func:`heso.receipt.verify_receipt` with these trust inputs
    (:mod:`heso.trust` reads them from a project). Without ``trusted_operators`` the chain's own
    head (or first receipt) names the operator, and every entry must be signed by that one key.
    ``require_sealed`` (``heso verify --chain --sealed``, for a store at rest) also fails when
    entries follow the signed head: only the head proves that nothing was appended after it or
    cut off the end.
    """
    data_dir = Path(data_dir)
    path = data_dir / CHAIN_FILE
    head = read_head(data_dir)
    if isinstance(head, Verdict):
        return head
    if (
        head is not None
        and trusted_operators is not None
        and head.operator not in trusted_operators
    ):
        return v.fail(v.HEAD_INVALID, f"head signed by untrusted key {head.operator.to_str()}")
    anchor = _anchor(data_dir, head)
    trusted = (
        trusted_operators
        if trusted_operators is not None
        else ({anchor} if anchor is not None else None)
    )
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0
    parts = workers or (os.cpu_count() or 1)
    if workers is None and size < 4 * 1024 * 1024:
        parts = 1
    ranges = _split(path, size, parts) if size else []
    groups = None  # plain data: the workers receive it pickled
    if approver_groups is not None:
        groups = {
            n: RegisteredGroup(g.threshold, frozenset(g.keys)) for n, g in approver_groups.items()
        }
    if len(ranges) > 1:
        with ProcessPoolExecutor(len(ranges), mp_context=get_context("fork")) as pool:
            futures = [
                pool.submit(_verify_segment, str(path), a, b, trusted, approver_keys, groups)
                for a, b in ranges
            ]
            segments = [fut.result() for fut in futures]
    else:
        segments = [
            _verify_segment(str(path), a, b, trusted, approver_keys, groups) for a, b in ranges
        ]

    total = 0
    prev_hash = GENESIS
    l1 = 0
    for seg in segments:
        if seg.lines:
            boundary: Verdict | None = None
            if seg.first_seq is not None and seg.first_seq != total:
                boundary = v.fail(
                    v.SEQUENCE_MISMATCH,
                    f"entry says seq {seg.first_seq}, expected {total}: an entry was deleted, "
                    "inserted, duplicated or reordered here",
                )
            elif seg.first_prev is not None and seg.first_prev != prev_hash:
                boundary = v.fail(
                    v.CHAIN_BROKEN, "prev does not match the hash of the entry before it"
                )
            if boundary is not None and (seg.failure is None or seg.failure_at > 0):
                return boundary.at(total)
            if seg.failure is not None:
                return seg.failure.at(total + seg.failure_at)
        total += seg.lines
        prev_hash = seg.last_hash
        l1 += seg.l1
    if size and not _ends_with_newline(path, size):
        return v.fail(
            v.TORN_TAIL,
            "the last line is incomplete (a writer was killed mid-write); the next append "
            f"moves it to {TORN_FILE}",
        ).at(total)
    if head is not None:
        if head.length > total:
            return v.fail(
                v.CHAIN_TRUNCATED,
                f"the signed head covers {head.length} entries but only {total} remain",
            ).at(total)
        if not _head_matches(path, head):
            return v.fail(
                v.HEAD_MISMATCH, "the entry under the signed head differs from what was signed"
            ).at(max(head.length - 1, 0))
    elif total:
        return v.fail(
            v.HEAD_MISSING,
            f"{HEAD_FILE} is missing, so truncation cannot be ruled out",
        )
    sealed = head.length if head is not None else 0
    if require_sealed and total > sealed:
        return v.fail(
            v.HEAD_MISMATCH,
            f"{total - sealed} entries follow the signed head, which covers {sealed}; a store "
            "at rest must be sealed (entries appended after the seal cannot be told from "
            "forged ones, and cutting them off would go unnoticed)",
        ).at(sealed)
    details: dict[str, Any] = {
        "entries": total,
        "sealed": sealed,
        "unsealed": total - sealed,
        "l1_receipts": l1,
        "torn_tails_recovered": _torn_count(data_dir),
    }
    if head is not None:
        details["head"] = head.head
        details["sealed_at"] = head.sealed_at
    if anchor is not None:
        details["operator"] = anchor.to_str()
    level = "L0" if total else None
    return Verdict(v.VALID, level, details=details)


def _ends_with_newline(path: Path, size: int) -> bool:
    with open(path, "rb") as f:
        f.seek(size - 1)
        return f.read(1) == b"\n"


def _head_matches(path: Path, head: Head) -> bool:
    """Whether the line ending at the head's byte size hashes to the signed head.

    Each line carries its seq and the previous hash, so this one hash binds the whole prefix.
    """
    if head.length == 0:
        return head.head == GENESIS and head.size == 0
    with open(path, "rb") as f:
        if head.size > os.fstat(f.fileno()).st_size:
            return False
        f.seek(head.size - 1)
        if f.read(1) != b"\n":
            return False
        line = _last_line_before(f, head.size)
        return line is not None and entry_hash(line) == head.head


def _torn_count(data_dir: Path) -> int:
    """Records in ``receipts.torn`` (one per line); never fails on a damaged file."""
    try:
        f = open(data_dir / TORN_FILE, "rb")
    except OSError:
        return 0
    count, last = 0, b"\n"
    with f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")
