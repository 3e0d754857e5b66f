"""The ledger store contract (:class:`heso.ledger.store.LedgerStore`): what every store must
do, whatever keeps the entries. Each test runs against every store in ``STORES``; a new store
(PostgreSQL, issue 18) joins by adding its opener."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from heso import verdict as v
from heso.errors import AmbiguousPrefixError, ChainError, ReceiptNotFoundError
from heso.keys import SigningKey
from heso.ledger import FileLedger, LedgerStore, verify_entries, verify_ledger
from heso.ledger import format as fmt
from heso_testing.receipts import signed_receipt as _receipt

Opener = Callable[[SigningKey | None], LedgerStore]


def _file_store(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    return lambda key: FileLedger(tmp_path / "heso-local-data", key=key)


def _postgres_store(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    from heso.ledger.postgres_store import PostgresLedger

    url = request.getfixturevalue("postgres_store_url")
    return lambda key: PostgresLedger(url, key=key)


STORES = {"file": _file_store, "postgresql": _postgres_store}


@pytest.fixture(params=sorted(STORES))
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    opened: list[LedgerStore] = []
    make = STORES[request.param](request, tmp_path)

    def opener(key: SigningKey | None) -> LedgerStore:
        store = make(key)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


def test_appends_are_numbered_linked_and_read_back(open_store: Opener, key: SigningKey) -> None:
    store = open_store(key)
    receipts = [_receipt(key, i) for i in range(5)]
    entries = [store.append(r) for r in receipts]
    assert [e.seq for e in entries] == list(range(5)) and store.length == 5
    offset, prev = 0, fmt.GENESIS
    for e, r in zip(entries, receipts, strict=True):
        line = store.line(e.seq)
        assert line == fmt.encode_entry(e.seq, prev, r)
        assert e.entry_hash == fmt.entry_hash(line) and e.offset == offset
        offset, prev = offset + len(line) + 1, e.entry_hash
    assert [seq for seq, _ in store.entries()] == list(range(5))
    assert list(store.entries(3)) == [(3, store.line(3)), (4, store.line(4))]
    assert list(store.entries(9)) == []
    assert store.first_line() == store.line(0)
    with pytest.raises(ChainError):
        store.line(5)


def test_a_reader_sees_what_the_writer_appended(open_store: Opener, key: SigningKey) -> None:
    writer = open_store(key)
    first = writer.append(_receipt(key, 0))
    reader = open_store(None)
    assert list(reader.entries()) == [(0, writer.line(0))]
    with pytest.raises(ChainError, match="opened to read"):
        reader.append(_receipt(key, 1))
    stamp = reader.stamp()
    writer.append(_receipt(key, 1))
    assert reader.stamp() != stamp and len(list(reader.entries())) == 2
    assert reader.find(json.loads(reader.line(0))["receipt"]["content"]["action_hash"]) == [
        (json.loads(writer.line(first.seq))["receipt"]["content"]["action_hash"], 0)
    ]


def test_prefix_lookups(open_store: Opener, key: SigningKey) -> None:
    store = open_store(key)
    with pytest.raises(ReceiptNotFoundError, match="empty"):
        store.receipt("ab")
    receipts = [_receipt(key, i) for i in range(40)]
    for r in receipts:
        store.append(r)
    store.append(receipts[7])  # the same action chained again (a firing)
    h = receipts[7]["content"]["action_hash"]
    assert store.find(h[:10]) == [(h, 7), (h, 40)]
    assert store.receipt(h[:10].upper())["content"]["action_hash"] == h
    with pytest.raises(ValueError, match="not a hex"):
        store.find("xyz")
    with pytest.raises(ReceiptNotFoundError):
        store.receipt("xyz")
    hashes = sorted(r["content"]["action_hash"] for r in receipts)
    common = next(a[:1] for a, b in itertools.pairwise(hashes) if a[0] == b[0])
    with pytest.raises(AmbiguousPrefixError):
        store.receipt(common)
    missing = next(
        p for p in (f"{i:02x}" for i in range(256)) if not any(x.startswith(p) for x in hashes)
    )
    with pytest.raises(ReceiptNotFoundError, match="matches"):
        store.receipt(missing)


def test_scan_reads_the_entries_themselves_from_a_position(
    open_store: Opener, key: SigningKey
) -> None:
    store = open_store(key)
    target = _receipt(key, 1)
    for r in (_receipt(key, 0), target, _receipt(key, 2), target, _receipt(key, 3)):
        store.append(r)
    h = target["content"]["action_hash"]
    assert [seq for seq, _ in store.scan(h)] == [1, 3]
    assert [seq for seq, _ in store.scan(h, 2)] == [3]
    assert store.scan(h, 4) == [] and store.scan("0" * 64) == []
    assert all(line == store.line(seq) for seq, line in store.scan(h))


def test_sealing_and_verifying_any_store(open_store: Opener, key: SigningKey) -> None:
    store = open_store(key)
    for i in range(6):
        store.append(_receipt(key, i))
    store.seal()
    head = store.signed_head()
    assert isinstance(head, fmt.Head) and head.length == 6 and head.operator == key.public_key()
    assert store.head_line(head) == store.line(5)
    assert store.quarantined() == 0
    verdict = verify_ledger(store, trusted_operators={key.public_key()}, require_sealed=True)
    assert verdict.ok and verdict.details["entries"] == verdict.details["sealed"] == 6
    lines = [line for _, line in store.entries()]
    doc = fmt.sign_head(key, head.length, head.head, head.size)  # signed anew: its own time
    in_memory = verify_entries(lines, fmt.head_bytes(doc)).to_dict()
    in_store = verify_ledger(store).to_dict()
    assert in_memory.pop("sealed_at") >= in_store.pop("sealed_at")
    assert in_memory == in_store


def test_the_verifier_reads_only_what_a_store_hands_it(key: SigningKey) -> None:
    """verify_entries holds the lines in memory: the same verdicts as a file store, for a
    store that keeps no file at all."""
    lines, prev, size = [], fmt.GENESIS, 0
    for i in range(4):
        line = fmt.encode_entry(i, prev, _receipt(key, i))
        lines.append(line)
        prev, size = fmt.entry_hash(line), size + len(line) + 1
    head = fmt.head_bytes(fmt.sign_head(key, 3, fmt.entry_hash(lines[2]), size - len(lines[3]) - 1))
    assert verify_entries(lines, head).details["unsealed"] == 1
    assert verify_entries(lines, head, require_sealed=True).code == v.UNSEALED
    assert verify_entries(lines[:2], head).code == v.CHAIN_TRUNCATED
    assert verify_entries([lines[0], lines[2]], head).code == v.SEQUENCE_MISMATCH
    assert verify_entries(lines, None).code == v.HEAD_MISSING
    other = SigningKey.generate()
    assert verify_entries(lines, head, trusted_operators={other.public_key()}).code == (
        v.HEAD_INVALID
    )
