"""The file store's hash-prefix index, ``receipts.idx``: ``action_hash`` → byte offset.

Fixed-width records (``#<64 hex hash> <16 hex offset>\\n``) appended beside each chain entry,
one per entry in chain order (record *n* is entry *n*), so a prefix lookup is one scan of a
compact file in C (``mmap.find``) and never parses the chain. The index is derived data: it is
rebuilt from the chain whenever it lags or is missing.
"""

from __future__ import annotations

import mmap
import os
import re
from pathlib import Path

INDEX_FILE = "receipts.idx"
RECORD_SIZE = 83
_PREFIX = re.compile(r"[0-9a-f]{1,64}\Z")
_RECORD = re.compile(rb"#[0-9a-f]{64} [0-9a-f]{16}\n\Z")


def parse_record(rec: bytes) -> tuple[str, int] | None:
    """``(action_hash, offset)`` of one record, or ``None`` when it is not a well-formed one."""
    if _RECORD.match(rec) is None:
        return None
    return rec[1:65].decode("ascii"), int(rec[66:82], 16)


def record(action_hash: str, offset: int) -> bytes:
    """One index record."""
    return b"#%s %016x\n" % (action_hash.encode("ascii"), offset)


def validate_prefix(prefix: str) -> str:
    """Lowercase a hash prefix; a ``ValueError`` says what is wrong with it."""
    p = prefix.strip().lower()
    if not _PREFIX.match(p):
        raise ValueError(f"{prefix!r} is not a hex action_hash prefix")
    return p


def count(path: Path) -> int:
    """Complete records in the index (0 when it does not exist)."""
    try:
        return os.stat(path).st_size // RECORD_SIZE
    except FileNotFoundError:
        return 0


def last_record(path: Path) -> tuple[str, int] | None:
    """``(action_hash, offset)`` of the last record, or ``None`` (empty or damaged index)."""
    n = count(path)
    if n == 0:
        return None
    with open(path, "rb") as f:
        f.seek((n - 1) * RECORD_SIZE)
        rec = f.read(RECORD_SIZE)
    return parse_record(rec)


def last_offset(path: Path) -> int | None:
    """Offset of the last indexed entry, or ``None`` for an empty (or damaged) index."""
    last = last_record(path)
    return last[1] if last is not None else None


def record_at(path: Path, seq: int) -> tuple[str, int] | None:
    """``(action_hash, offset)`` of record ``seq`` (entry ``seq``), if the index has it."""
    if seq < 0 or seq >= count(path):
        return None
    with open(path, "rb") as f:
        f.seek(seq * RECORD_SIZE)
        return parse_record(f.read(RECORD_SIZE))


def lookup(path: Path, prefix: str) -> list[tuple[str, int, int]]:
    """Every ``(action_hash, seq, offset)`` whose hash starts with ``prefix``, in chain order."""
    p = validate_prefix(prefix).encode("ascii")
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return []
    with f:
        size = os.fstat(f.fileno()).st_size - os.fstat(f.fileno()).st_size % RECORD_SIZE
        if size == 0:
            return []
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            needle = b"#" + p
            hits: list[tuple[str, int, int]] = []
            pos = mm.find(needle, 0, size)
            while pos != -1:
                if pos % RECORD_SIZE == 0:
                    hit = parse_record(mm[pos : pos + RECORD_SIZE])
                    if hit is not None:
                        hits.append((hit[0], pos // RECORD_SIZE, hit[1]))
                pos = mm.find(needle, pos + 1, size)
    return hits
