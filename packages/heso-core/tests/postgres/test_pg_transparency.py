"""The Merkle tree and checkpoints on the PostgreSQL store: tree rows written with the entries
(by many writers, caught up after a migration), checkpoints every N entries and on demand,
proofs that verify, a DBA's tree edits caught, and
evidence moved between the stores with its tree and checkpoints. The CLI verbs and the
whole-database rewrite run in ``tests/transparency/test_cli_transparency.py`` on both stores."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from heso.database import SCHEMA_VERSION, Database, migrate
from heso.errors import ChainError, TransparencyError
from heso.keys import SigningKey
from heso.ledger import FileLedger, verify_ledger
from heso.ledger.postgres_store import PostgresLedger
from heso.ledger.transfer import copy_to_database, export_files
from heso.transparency import prove
from heso.transparency.checkpoint import open_checkpoint
from heso.transparency.note import Ed25519Verifier
from heso.transparency.settings import TransparencySettings
from heso.transparency.tree import CompactRange
from heso_testing.receipts import signed_receipt

EVERY_4 = TransparencySettings(checkpoint_every=4, checkpoint_interval=0)


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


def _root(lines: list[bytes], size: int | None = None) -> bytes:
    tree = CompactRange()
    for line in lines[:size]:
        tree.append(line)
    return tree.root()


def _lines(url: str) -> list[bytes]:
    return [line for _, line in PostgresLedger(url).entries()]


def _keys(note: bytes, key: SigningKey) -> list[Any]:
    return [Ed25519Verifier(prove.checkpoint_of(note).origin, key.public_key())]


def _as_dba(url: str, *statements: tuple[str, tuple[Any, ...]]) -> None:
    with psycopg.connect(url, autocommit=False) as conn:
        conn.execute("SET session_replication_role = replica")
        for sql, params in statements:
            conn.execute(sql, params)


def _append(url: str, key: SigningKey, start: int, n: int) -> None:
    store = PostgresLedger(url, key=key, transparency=EVERY_4)
    for i in range(start, start + n):
        store.append(signed_receipt(key, i))
    store.close()


def test_tree_rows_and_checkpoints_follow_the_entries(
    postgres_store_url: str, key: SigningKey
) -> None:
    _append(postgres_store_url, key, 0, 10)
    reader = PostgresLedger(postgres_store_url)
    lines = _lines(postgres_store_url)
    tree = reader.merkle_tree()
    assert tree.size == 10 and tree.root() == _root(lines)
    # Due at the first entry, then every 4; the writer's close covers the rest.
    store = reader.checkpoint_store()
    assert store.sizes() == [1, 5, 9, 10]
    for size in store.sizes():
        note = store.get(size)
        assert note is not None
        cp = open_checkpoint(note, _keys(note, key)).checkpoint
        assert cp.size == size and cp.root == _root(lines, size) == tree.root(size)
    proof = prove.inclusion_proof(reader, 3)  # checked against the checkpoint's root inside
    assert proof.index == 3 and prove.checkpoint_of(proof.checkpoint).size == 10
    old, new = store.get(5), store.get(10)
    assert old is not None and new is not None
    consistency = prove.consistency_proof(reader, 5, new)
    older, newer = prove.verify_consistency_files(old, consistency.to_bytes(), _keys(old, key))
    assert (older.checkpoint.size, newer.checkpoint.size) == (5, 10)
    # On demand: the latest again when nothing was appended, a new one after an append.
    writer = PostgresLedger(postgres_store_url, key=key, transparency=EVERY_4)
    assert writer.checkpoint() == new
    writer.append(signed_receipt(key, 10))
    assert prove.checkpoint_of(writer.checkpoint()).size == 11
    writer.close()
    assert verify_ledger(PostgresLedger(postgres_store_url)).ok


def test_many_writers_keep_one_tree(postgres_store_url: str, key: SigningKey) -> None:
    writers = [PostgresLedger(postgres_store_url, key=key, transparency=EVERY_4) for _ in range(3)]

    def work(w: int) -> None:
        for i in range(12):
            writers[w].append(signed_receipt(key, 100 * w + i))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in writers:
        w.close()
    lines = _lines(postgres_store_url)
    reader = PostgresLedger(postgres_store_url)
    tree = reader.merkle_tree()
    assert len(lines) == 36 and tree.size == 36 and tree.root() == _root(lines)
    for size in reader.checkpoint_store().sizes():
        note = reader.checkpoint_store().get(size)
        assert note is not None and prove.checkpoint_of(note).root == _root(lines, size)
    assert reader.checkpoint_store().sizes()[-1] == 36


def test_a_chain_from_before_the_tree_is_caught_up_after_migrating(
    postgres_store_url: str, key: SigningKey
) -> None:
    _append(postgres_store_url, key, 0, 6)
    # What a schema-1 database holding a chain looks like: no tree, no checkpoints.
    _as_dba(
        postgres_store_url,
        ("DROP TABLE heso_tree, heso_checkpoints", ()),
        ("ALTER TABLE heso_entries DROP COLUMN host", ()),
        ("UPDATE heso_schema SET version = 1", ()),
    )
    db = Database(postgres_store_url)
    assert migrate(db) == (1, SCHEMA_VERSION)
    db.close()
    _append(postgres_store_url, key, 6, 3)
    lines = _lines(postgres_store_url)
    tree = PostgresLedger(postgres_store_url).merkle_tree()
    assert tree.size == 9 and tree.root() == _root(lines)
    assert PostgresLedger(postgres_store_url).checkpoint_store().sizes()[-1] == 9


def test_a_dba_editing_the_tree_gets_no_proof_and_no_checkpoint(
    postgres_store_url: str, key: SigningKey
) -> None:
    _append(postgres_store_url, key, 0, 9)
    # Leaf 7's row holds node (2, 1) (leaves 4..7) and (3, 0) (leaves 0..7): both on paths.
    _as_dba(
        postgres_store_url,
        ("UPDATE heso_tree SET hashes = %s WHERE seq = 7", (bytes(32 * 4),)),
    )
    reader = PostgresLedger(postgres_store_url)
    with pytest.raises(TransparencyError):
        prove.inclusion_proof(reader, 3)
    writer = PostgresLedger(postgres_store_url, key=key, transparency=EVERY_4)
    writer.append(signed_receipt(key, 9))  # the tree's edge at 9 misses leaf 7's nodes …
    with pytest.raises(ChainError, match="checkpoint"):
        writer.checkpoint()  # … but the tree no longer extends checkpoint 9: refused
    writer.db.close()


def test_copy_builds_the_tree_and_export_carries_it(
    postgres_store_url: str, key: SigningKey, tmp_path: Path
) -> None:
    source = FileLedger(tmp_path / "src", key=key, transparency=EVERY_4)
    for i in range(7):
        source.append(signed_receipt(key, i))
    source.close()
    file_sizes = FileLedger(tmp_path / "src").checkpoint_store().sizes()
    assert file_sizes and file_sizes[-1] == 7
    copy_to_database(FileLedger(tmp_path / "src"), postgres_store_url, verify_ledger)
    db = PostgresLedger(postgres_store_url)
    assert db.checkpoint_store().sizes() == file_sizes
    assert db.merkle_tree().root() == _root(_lines(postgres_store_url))
    # The fleet goes on: its checkpoints extend the ones signed on files.
    _append(postgres_store_url, key, 7, 3)
    old, new = db.checkpoint_store().get(7), db.checkpoint_store().latest()
    assert old is not None and new is not None and prove.checkpoint_of(new).size == 10
    proof = prove.consistency_proof(db, 7, new)
    prove.verify_consistency_files(old, proof.to_bytes(), _keys(old, key))
    # An export answers proofs offline: the tree and checkpoints travel with the entries.
    export_files(db, tmp_path / "out", verify_ledger)
    exported = FileLedger(tmp_path / "out")
    assert exported.checkpoint_store().sizes() == db.checkpoint_store().sizes()
    assert exported.merkle_tree().root() == db.merkle_tree().root()
    inclusion = prove.inclusion_proof(exported, 8)
    assert prove.checkpoint_of(inclusion.checkpoint).size == 10


def test_a_checkpoint_that_does_not_match_the_chain_is_not_carried(
    postgres_store_url: str, key: SigningKey, tmp_path: Path
) -> None:
    _append(postgres_store_url, key, 0, 6)
    note = PostgresLedger(postgres_store_url).checkpoint_store().get(5)
    assert note is not None
    forged = note.replace(b"\n5\n", b"\n3\n")
    _as_dba(
        postgres_store_url, ("INSERT INTO heso_checkpoints (size, note) VALUES (3, %s)", (forged,))
    )
    with pytest.raises(ChainError, match="checkpoint at size 3 does not match"):
        export_files(PostgresLedger(postgres_store_url), tmp_path / "out", verify_ledger)


def test_checkpoints_are_also_issued_by_time(postgres_store_url: str, key: SigningKey) -> None:
    timed = TransparencySettings(checkpoint_every=1000, checkpoint_interval=1.0)
    store = PostgresLedger(postgres_store_url, key=key, transparency=timed)
    store.append(signed_receipt(key, 0))  # the first entry is always covered
    store.append(signed_receipt(key, 1))  # neither 1000 entries nor 1 s since
    sizes = PostgresLedger(postgres_store_url).checkpoint_store().sizes()
    assert sizes == [1]
    time.sleep(1.1)
    store.append(signed_receipt(key, 2))
    assert PostgresLedger(postgres_store_url).checkpoint_store().sizes() == [1, 3]
    store.close()
