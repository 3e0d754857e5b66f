"""Group commit on the PostgreSQL store: the appends of one process that queue while its batch
leader waits for the chain's tip (held by another host's writer) are linked in the leader's
transaction, not in transactions of their own."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg

from heso.keys import SigningKey
from heso.ledger import verify_ledger
from heso.ledger.format import Entry
from heso.ledger.postgres_store import PostgresLedger
from heso_testing.receipts import signed_receipt


def _until(condition: Any, what: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_appends_queued_while_the_tip_is_locked_join_the_leaders_transaction(
    postgres_store_url: str,
) -> None:
    key = SigningKey.generate()
    store = PostgresLedger(postgres_store_url, key=key)
    store.append(signed_receipt(key, 0))
    entries: list[Entry] = []

    def append(i: int) -> None:
        entries.append(store.append(signed_receipt(key, i)))

    with psycopg.connect(postgres_store_url, autocommit=True) as watcher:

        def waiting_for_the_tip() -> bool:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            return bool(row and row[0] == 1)

        with psycopg.connect(postgres_store_url) as other_host:
            other_host.execute("SELECT 1 FROM heso_tip FOR UPDATE")  # another writer's batch
            leader = threading.Thread(target=append, args=(1,))
            leader.start()
            _until(waiting_for_the_tip, "the leader to wait for the tip row")
            followers = [threading.Thread(target=append, args=(i,)) for i in range(2, 7)]
            for t in followers:
                t.start()
            _until(lambda: len(store._queue) == len(followers), "the followers to queue")
            other_host.rollback()
            for t in (leader, *followers):
                t.join(30)
        xmins = watcher.execute(
            "SELECT DISTINCT xmin::text FROM heso_entries WHERE seq >= 1"
        ).fetchall()
    store.close()
    assert sorted(e.seq for e in entries) == [1, 2, 3, 4, 5, 6]
    assert len(xmins) == 1  # one transaction linked the leader's entry and the five queued
    reader = PostgresLedger(postgres_store_url)
    assert verify_ledger(reader).ok
    assert reader.length == 7
