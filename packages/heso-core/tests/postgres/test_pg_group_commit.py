"""Group commit on the PostgreSQL store: the appends of one process that queue while its batch
leader waits for the chain's tip (held by another host's writer) are linked in the leader's
transaction, not in transactions of their own; and the batch looks for a due checkpoint once,
not once per thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from heso.errors import ChainError
from heso.keys import SigningKey
from heso.ledger import format as fmt
from heso.ledger import verify_ledger
from heso.ledger.format import Entry
from heso.ledger.postgres_store import PostgresLedger
from heso.ledger.postgres_tree import PostgresCheckpointStore
from heso.transparency.settings import TransparencySettings
from heso_testing.receipts import signed_receipt


def _until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _latest_checkpoint(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT max(size) FROM heso_checkpoints").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _batch_behind_a_held_tip(
    url: str, store: PostgresLedger, receipts: list[dict[str, Any]]
) -> list[Entry | Exception]:
    """Append ``receipts`` from a thread each while another host holds the tip: the first
    becomes the leader and waits for the tip, the others queue behind it; then the tip is
    released. Each one's entry, or the error its append raised."""
    out: list[Entry | Exception | None] = [None] * len(receipts)

    def append(i: int) -> None:
        try:
            out[i] = store.append(receipts[i])
        except Exception as exc:
            out[i] = exc

    with psycopg.connect(url, autocommit=True) as watcher:

        def waiting_for_the_tip() -> bool:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            return bool(row and row[0] == 1)

        with psycopg.connect(url) as other_host:
            other_host.execute("SELECT 1 FROM heso_tip FOR UPDATE")  # another writer's batch
            leader = threading.Thread(target=append, args=(0,))
            leader.start()
            _until(waiting_for_the_tip, "the leader to wait for the tip row")
            followers = [threading.Thread(target=append, args=(i,)) for i in range(1, len(out))]
            for t in followers:
                t.start()
            _until(lambda: len(store._queue) == len(followers), "the followers to queue")
            other_host.rollback()
            for t in (leader, *followers):
                t.join(30)
    assert all(r is not None for r in out)
    return [r for r in out if r is not None]


def test_appends_queued_while_the_tip_is_locked_join_the_leaders_transaction(
    postgres_store_url: str,
) -> None:
    key = SigningKey.generate()
    store = PostgresLedger(postgres_store_url, key=key)
    store.append(signed_receipt(key, 0))
    entries = _batch_behind_a_held_tip(
        postgres_store_url, store, [signed_receipt(key, i) for i in range(1, 7)]
    )
    with psycopg.connect(postgres_store_url) as conn:
        xmins = conn.execute(
            "SELECT DISTINCT xmin::text FROM heso_entries WHERE seq >= 1"
        ).fetchall()
    store.close()
    assert sorted(e.seq for e in entries if isinstance(e, Entry)) == [1, 2, 3, 4, 5, 6]
    assert len(xmins) == 1  # one transaction linked the leader's entry and the five queued
    reader = PostgresLedger(postgres_store_url)
    assert verify_ledger(reader).ok
    assert reader.length == 7


def test_a_batch_looks_for_a_due_checkpoint_once(
    postgres_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six appends committed together cross the checkpoint interval: the database is asked
    about checkpoints as often as when one append crosses it alone, and the checkpoint is
    issued."""
    key = SigningKey.generate()
    store = PostgresLedger(
        postgres_store_url,
        key=key,
        transparency=TransparencySettings(checkpoint_every=4, checkpoint_interval=0),
    )
    store.append(signed_receipt(key, 0))  # the first checkpoint (size 1) is issued
    reads: list[Any] = []
    real = PostgresCheckpointStore.sizes

    def counting(self: PostgresCheckpointStore) -> list[int]:
        reads.append(self)
        return real(self)

    monkeypatch.setattr(PostgresCheckpointStore, "sizes", counting)
    for i in range(1, 5):  # one thread: the append of entry 4 makes the tree 5 long, due
        store.append(signed_receipt(key, i))
    alone = len(reads)
    assert alone > 0
    assert _latest_checkpoint(postgres_store_url) == 5
    reads.clear()
    # 11 long, due at 9:
    _batch_behind_a_held_tip(
        postgres_store_url, store, [signed_receipt(key, i) for i in range(5, 11)]
    )
    assert len(reads) == alone
    assert _latest_checkpoint(postgres_store_url) == 11
    store.close()


def test_a_receipt_too_long_for_an_entry_fails_alone_in_its_batch(
    postgres_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = SigningKey.generate()
    store = PostgresLedger(postgres_store_url, key=key)
    store.append(signed_receipt(key, 0))
    monkeypatch.setattr(fmt, "MAX_ENTRY_BYTES", 2048)
    receipts = [signed_receipt(key, i) for i in range(1, 6)]
    receipts[2] = signed_receipt(key, 3, tool="send_" + "x" * 2048)
    results = _batch_behind_a_held_tip(postgres_store_url, store, receipts)
    store.close()
    refused = results[2]
    assert isinstance(refused, ChainError) and "byte entry: the limit is 2048" in str(refused)
    linked = [r for r in results if isinstance(r, Entry)]
    assert sorted(e.seq for e in linked) == [1, 2, 3, 4]
    reader = PostgresLedger(postgres_store_url)
    assert verify_ledger(reader).ok
    assert reader.length == 5
