"""The console's index kept on disk between runs (``console-index`` in the data directory), so
a restarted console filters a large store at once instead of reading it all again.

The file is derived data and never trusted: it is written atomically (:mod:`heso.durable`) and
taken up only when it checks out against the store it describes: the same store
(``location``), an intact body (BLAKE3), arrays of the stated length with codes inside their
tables, its last entry still the store's entry at that position (entry hash), and a sample of
entries read again giving the same columns. Otherwise it is ignored and the index is built
afresh. It only ever chooses which entries a page lists; each row shown is parsed from the
entry itself and every verdict comes from the verifier.
"""

from __future__ import annotations

import json
import random
import struct
import sys
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import blake3

from heso import durable
from heso.errors import ChainError
from heso.ledger.format import entry_hash
from heso.ledger.store import LedgerReader

FILE_NAME = "console-index"
MAGIC = b"heso-console-index/1\n"
SAMPLE = 64
"""Entries read again from the store to check a file before it is taken up."""
_ARRAYS = (("when", "d"), ("approvers", "H"), ("outcome", "B"), ("flags", "B"))
_OUTCOMES = 5
_MAX_HEADER = 64 * 1024 * 1024


@dataclass
class State:
    """An index as read from its file."""

    length: int
    last_hash: str
    values: dict[str, list[str]]
    columns: dict[str, array[int]]
    when: array[float]
    approvers: array[int]
    outcome: array[int]
    flags: array[int]
    suspended: dict[str, int]


def dump(index: Any, location: str) -> bytes:
    """The file's bytes for ``index`` (a :class:`~heso.console.index.ChainIndex`, read under
    its lock) of the store at ``location``."""
    parts = [memoryview(index.columns[name]).cast("B") for name in index.columns]
    parts += [memoryview(getattr(index, name)).cast("B") for name, _ in _ARRAYS]
    hasher = blake3.blake3()
    for part in parts:
        hasher.update(part)
    header = {
        "location": location,
        "length": index.length,
        "last_hash": index._last_hash,
        "byteorder": sys.byteorder,
        "columns": list(index.columns),
        "values": index.values,
        "suspended": index.suspended,
        "body": hasher.hexdigest(),
    }
    head = json.dumps(header, ensure_ascii=True, separators=(",", ":")).encode()
    return b"".join([MAGIC, struct.pack(">Q", len(head)), head, *parts])


def write(path: Path, data: bytes) -> None:
    durable.remove_stale_temps(path)
    durable.atomic_write(path, data)


def load(
    path: Path,
    ledger: LedgerReader,
    columns: Sequence[str],
    read: Callable[[bytes], tuple[tuple[Any, ...], Any, int, float] | None],
) -> State | None:
    """The index in ``path`` when it describes ``ledger`` as it is now, else ``None``."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    state = _parse(data, ledger.location, columns)
    if state is None or not _still_there(state, ledger):
        return None
    return state if _sample_agrees(state, ledger, columns, read) else None


def _parse(data: bytes, location: str, columns: Sequence[str]) -> State | None:
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 8:
        return None
    (size,) = struct.unpack(">Q", data[len(MAGIC) : len(MAGIC) + 8])
    start = len(MAGIC) + 8
    if size > _MAX_HEADER or start + size > len(data):
        return None
    body = data[start + size :]
    try:
        header = json.loads(data[start : start + size])
        n = header["length"]
        ok = (
            header["location"] == location
            and header["byteorder"] == sys.byteorder
            and header["columns"] == list(columns)
            and type(n) is int
            and n >= 0
            and isinstance(header["last_hash"], str)
            and header["body"] == blake3.blake3(body).hexdigest()
        )
        values = header["values"]
        suspended = header["suspended"]
        if not ok or not isinstance(values, dict) or not isinstance(suspended, dict):
            return None
        arrays: dict[str, array[Any]] = {}
        at = 0
        for name, code in [(c, "I") for c in columns] + list(_ARRAYS):
            a = array(code)
            end = at + n * a.itemsize
            a.frombytes(body[at:end])
            if len(a) != n:
                return None
            arrays[name], at = a, end
        if at != len(body):
            return None
        for name in columns:
            table = values[name]
            if not isinstance(table, list) or not all(isinstance(v, str) for v in table):
                return None
            if not table or table[0] != "" or (n and max(arrays[name]) >= len(table)):
                return None
        if n and max(arrays["outcome"]) >= _OUTCOMES:
            return None
        if not all(
            isinstance(h, str) and type(s) is int and 0 <= s < n for h, s in suspended.items()
        ):
            return None
    except (ValueError, KeyError, TypeError):
        return None
    return State(
        n,
        header["last_hash"],
        {c: values[c] for c in columns},
        {c: arrays[c] for c in columns},
        arrays["when"],
        arrays["approvers"],
        arrays["outcome"],
        arrays["flags"],
        suspended,
    )


def _still_there(state: State, ledger: LedgerReader) -> bool:
    if state.length == 0:
        return False
    try:
        return entry_hash(ledger.line(state.length - 1)) == state.last_hash
    except ChainError:
        return False


def _sample_agrees(
    state: State,
    ledger: LedgerReader,
    columns: Sequence[str],
    read: Callable[[bytes], tuple[tuple[Any, ...], Any, int, float] | None],
) -> bool:
    """A sample of entries (the first, the last, random others) read again give the same
    columns, approvers and capture times as the file says."""
    n = state.length
    picks = {0, n - 1, *random.sample(range(n), min(SAMPLE, n))}
    for seq in sorted(picks):
        try:
            got = read(ledger.line(seq))
        except ChainError:
            return False
        if got is None:
            if state.values["decision"][state.columns["decision"][seq]] != "unreadable":
                return False
            continue
        values, _, approvers, when = got
        for k, value in enumerate(values):
            name = columns[k]
            shown = state.values[name][state.columns[name][seq]]
            if shown != (value if type(value) is str else ""):
                return False
        if state.approvers[seq] != min(approvers, 65535):
            return False
        kept = state.when[seq]
        if not (kept == when or (kept != kept and when != when)):
            return False
    return True
