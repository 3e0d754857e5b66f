"""Reading ``receipts.jsonl``, the file form of a ledger: lines, byte ranges, lookups.

Every function here reads; none needs the operator key or takes the writer's lock (an append
is one ``write`` of whole lines, so a reader sees complete lines and at most a torn tail, which
it leaves out). Memory stays bounded however long a line is: a line over
:data:`~heso.ledger.format.MAX_ENTRY_BYTES` is skipped in chunks.
"""

from __future__ import annotations

import itertools
import mmap
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TypeVar

from heso.canonical import loads_strict
from heso.errors import CanonicalizationError, ChainError
from heso.ledger import format as fmt
from heso.ledger import index as idx
from heso.ledger.format import CHAIN_FILE, TORN_FILE, action_hash_of_line
from heso.ledger.index import INDEX_FILE

_CHUNK = 1 << 20
T = TypeVar("T")


def read_line(f: IO[bytes]) -> tuple[bytes | None, int, bool]:
    """Read one line: ``(line without its newline, bytes consumed, whether it ended in a
    newline)``. A line longer than the limit comes back as ``None``, skipped in chunks."""
    limit = fmt.MAX_ENTRY_BYTES
    raw = f.readline(limit + 1)
    if raw.endswith(b"\n"):
        return raw[:-1], len(raw), True
    if len(raw) <= limit:
        return raw, len(raw), False
    consumed = len(raw)
    while True:
        chunk = f.readline(_CHUNK)
        consumed += len(chunk)
        if not chunk:
            return None, consumed, False
        if chunk.endswith(b"\n"):
            return None, consumed, True


def last_line_before(f: IO[bytes], end: int) -> bytes | None:
    """The complete line that ends at byte ``end`` (which must follow a newline), without its
    newline; ``None`` when it is longer than the limit."""
    if end <= 0:
        return b""
    limit = fmt.MAX_ENTRY_BYTES
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
        if length > limit:
            return None
        pos = start
    if length > limit:
        return None
    return b"".join(reversed(parts))


def chunked_lines(f: IO[bytes], start: int, end: int) -> Iterator[tuple[bytes | None, bool]]:
    """Each line in bytes ``[start, end)`` of ``f``: ``(line without its newline, whether it
    ended in a newline)``, read in 1 MiB chunks; a line over the limit comes back as ``None``
    and is skipped without being held."""
    limit = fmt.MAX_ENTRY_BYTES
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
            drop_first = False
            if carry or too_long:
                first = lines[0]
                if too_long or carried + len(first) > limit:
                    drop_first = True
                else:
                    carry.append(first)
                    lines[0] = b"".join(carry)
                carry, carried, too_long = [], 0, False
            for index, line in enumerate(lines):
                dropped = (drop_first and index == 0) or len(line) > limit
                yield (None if dropped else line), True
        if tail and not too_long:
            carry.append(tail)
            carried += len(tail)
            if carried > limit:
                carry, carried, too_long = [], 0, True
    if carry or too_long:
        yield (None if too_long else b"".join(carry)), False


def split(path: Path, size: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` byte ranges of ``path``'s first ``size`` bytes, each starting at a line."""
    bounds = [0]
    with open(path, "rb") as f:
        for k in range(1, parts):
            f.seek(size * k // parts)
            read_line(f)
            pos = f.tell()
            if bounds[-1] < pos < size:
                bounds.append(pos)
    bounds.append(size)
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def check_range(path: str, start: int, end: int, check: Callable[[Iterable[bytes | None]], T]) -> T:
    """``check`` applied to the complete lines in bytes ``[start, end)`` of ``path`` (a worker
    process's share of verification)."""
    with open(path, "rb", buffering=0) as f:
        return check(line for line, complete in chunked_lines(f, start, end) if complete)


def ends_with_newline(path: Path, size: int) -> bool:
    with open(path, "rb") as f:
        f.seek(size - 1)
        return f.read(1) == b"\n"


def line_ending_at(path: Path, size: int) -> bytes | None:
    """The complete line ending (with its newline) exactly at byte ``size``, if there is one."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return None
    with f:
        if size <= 0 or size > os.fstat(f.fileno()).st_size:
            return None
        f.seek(size - 1)
        if f.read(1) != b"\n":
            return None
        return last_line_before(f, size)


def first_line(path: Path) -> bytes | None:
    """The first line if it is complete and within the limit."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return None
    with f:
        line, _, complete = read_line(f)
    return line if complete else None


def lines(path: Path, start: int = 0, seq: int = 0) -> Iterator[tuple[int, int, bytes]]:
    """``(seq, offset, line)`` of every complete line from byte ``start`` (a line start, which
    is line number ``seq``); a torn tail is not yielded."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    with f:
        f.seek(start)
        offset = start
        for raw in f:
            if not raw.endswith(b"\n"):
                return
            yield seq, offset, raw[:-1]
            offset += len(raw)
            seq += 1


def line_at(path: Path, offset: int) -> bytes:
    """The complete line at byte ``offset`` (``ChainError`` when there is none)."""
    with open(path, "rb") as f:
        f.seek(offset)
        line, _, complete = read_line(f)
    if not complete or line is None:
        raise ChainError(
            f"no complete chain entry of at most {fmt.MAX_ENTRY_BYTES} bytes at {offset}"
        )
    return line


def offset_of(data_dir: Path, seq: int) -> int | None:
    """The byte offset of line ``seq``: from the index when its record there is confirmed by
    the line (which ends in its own ``seq``); for an entry past the last indexed one (a writer
    indexes in batches), by counting lines from that one when it is confirmed; else by
    counting lines from the start."""
    path = data_dir / CHAIN_FILE
    ipath = data_dir / INDEX_FILE
    found = idx.record_at(ipath, seq)
    start = known = 0
    if found is not None:
        try:
            if line_at(path, found[1]).endswith(b',"seq":%d}' % seq):
                return found[1]
        except (OSError, ChainError):
            pass
    elif seq > 0:
        last = idx.count(ipath) - 1
        before = idx.record_at(ipath, last) if 0 <= last < seq else None
        if before is not None:
            try:
                line = line_at(path, before[1])
                if line.endswith(b',"seq":%d}' % last):
                    start, known = before[1] + len(line) + 1, last + 1
            except (OSError, ChainError):
                pass
    for n, offset, _ in lines(path, start, known):
        if n == seq:
            return offset
    return None


def find(data_dir: Path, prefix: str, *, use_index: bool = True) -> list[tuple[str, int, int]]:
    """``(action_hash, seq, offset)`` of entries whose hash starts with ``prefix``.

    Uses the index; entries the index lacks (a writer died between the two writes, or the
    index is missing) are found by scanning only the part of the chain past it. An index
    whose last record does not match the chain is ignored (the whole chain is scanned).
    """
    p = idx.validate_prefix(prefix)
    ipath = data_dir / INDEX_FILE
    chain_path = data_dir / CHAIN_FILE
    try:
        size = chain_path.stat().st_size
    except FileNotFoundError:
        return idx.lookup(ipath, p) if use_index else []
    hits: list[tuple[str, int, int]] = []
    start = seq = 0
    last = idx.last_record(ipath) if use_index else None
    if last is not None:
        with open(chain_path, "rb") as f:
            f.seek(last[1])
            line, n, complete = read_line(f)
        try:
            consistent = complete and line is not None and action_hash_of_line(line) == last[0]
        except (CanonicalizationError, KeyError, TypeError):
            consistent = False
        if consistent:
            hits = idx.lookup(ipath, p)
            start, seq = last[1] + n, idx.count(ipath)
    if start < size:
        with open(chain_path, "rb") as f:
            f.seek(start)
            offset = start
            while True:
                line, n, complete = read_line(f)
                if not complete:
                    break
                try:
                    h = action_hash_of_line(line) if line is not None else ""
                except (CanonicalizationError, KeyError, TypeError):
                    h = ""
                if h.startswith(p):
                    hits.append((h, seq, offset))
                offset += n
                seq += 1
    return hits


def scan(path: Path, action_hash: str, start: int = 0) -> list[tuple[int, bytes]]:
    """``(seq, line)`` of every complete entry from byte ``start`` (a line start) whose receipt
    has ``action_hash``, read from the chain itself, never the index; ``seq`` is the one the
    entry states. Lines that do not parse are skipped (verification reports them)."""
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
                    entry = loads_strict(line)
                    if entry["receipt"]["content"]["action_hash"] == action_hash:
                        out.append((entry["seq"], line))
                except (CanonicalizationError, ValueError, KeyError, TypeError):
                    pass
                pos = m.find(needle, end)
    return out


def torn_count(data_dir: Path) -> int:
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
