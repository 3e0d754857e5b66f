"""The database is not trusted: a DBA who edits, deletes, reorders or inserts rows is caught by
the same verifier with the same verdicts as the file store; agents' role can only insert; and
evidence moves between the stores byte for byte, verified both ways."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from heso import verdict as v
from heso.errors import ChainError
from heso.keys import SigningKey
from heso.ledger import FileLedger, verify_ledger
from heso.ledger import format as fmt
from heso.ledger.postgres_store import PostgresLedger
from heso.ledger.transfer import copy_to_database, export_files
from heso_testing.receipts import signed_receipt

N = 8


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


def _chain(url: str, key: SigningKey) -> PostgresLedger:
    store = PostgresLedger(url, key=key)
    for i in range(N):
        store.append(signed_receipt(key, i))
    store.seal()
    store.close()
    return PostgresLedger(url)


def _as_dba(url: str, *statements: tuple[str, tuple[Any, ...]]) -> None:
    """What a DBA with full rights can do: switch the append-only triggers off and rewrite."""
    with psycopg.connect(url, autocommit=False) as conn:
        conn.execute("SET session_replication_role = replica")
        for sql, params in statements:
            conn.execute(sql, params)


def _lines(url: str) -> list[bytes]:
    return [line for _, line in PostgresLedger(url).entries()]


def _swap(lines: list[bytes]) -> list[bytes]:
    out = list(lines)
    out[3], out[4] = out[4], out[3]
    return out


TAMPERS: dict[
    str, tuple[Callable[[list[bytes]], list[Any]], Callable[[list[bytes]], list[bytes]]]
] = {
    "edit": (
        lambda ls: [
            (
                "UPDATE heso_entries SET line = %s WHERE seq = 3",
                (ls[3].replace(b'"i":3', b'"i":9'),),
            )
        ],
        lambda ls: [*ls[:3], ls[3].replace(b'"i":3', b'"i":9'), *ls[4:]],
    ),
    "delete": (
        lambda ls: [("DELETE FROM heso_entries WHERE seq = 3", ())],
        lambda ls: [*ls[:3], *ls[4:]],
    ),
    "reorder": (
        lambda ls: [
            ("UPDATE heso_entries SET line = %s WHERE seq = 3", (ls[4],)),
            ("UPDATE heso_entries SET line = %s WHERE seq = 4", (ls[3],)),
        ],
        _swap,
    ),
    "insert": (
        lambda ls: [
            ("UPDATE heso_entries SET seq = seq + 100 WHERE seq >= 3", ()),
            ("UPDATE heso_entries SET seq = seq - 99 WHERE seq >= 100", ()),
            (
                "INSERT INTO heso_entries (seq, action_hash, byte_offset, line) "
                "VALUES (3, 'x', 0, %s)",
                (ls[2],),
            ),
        ],
        lambda ls: [*ls[:3], ls[2], *ls[3:]],
    ),
    "truncate": (
        lambda ls: [("DELETE FROM heso_entries WHERE seq >= 6", ())],
        lambda ls: ls[:6],
    ),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_a_dba_rewriting_rows_gets_the_file_stores_verdict(
    postgres_store_url: str, key: SigningKey, tmp_path: Path, tamper: str
) -> None:
    store = _chain(postgres_store_url, key)
    assert verify_ledger(store).ok
    export_files(store, tmp_path / "clean", verify_ledger)
    original = _lines(postgres_store_url)
    head = (tmp_path / "clean" / fmt.HEAD_FILE).read_bytes()
    in_db, in_file = TAMPERS[tamper]
    _as_dba(postgres_store_url, *in_db(original))
    files = tmp_path / "tampered"
    files.mkdir()
    (files / fmt.CHAIN_FILE).write_bytes(b"".join(line + b"\n" for line in in_file(original)))
    (files / fmt.HEAD_FILE).write_bytes(head)
    from_db = verify_ledger(PostgresLedger(postgres_store_url)).to_dict()
    from_file = verify_ledger(FileLedger(files)).to_dict()
    assert not from_db["ok"]
    assert from_db == from_file
    with pytest.raises(ChainError, match="refusing"):
        export_files(PostgresLedger(postgres_store_url), tmp_path / "out", verify_ledger)


def test_heads_kept_in_the_database_are_checked(postgres_store_url: str, key: SigningKey) -> None:
    store = _chain(postgres_store_url, key)
    doc = json.loads(store.head_document() or b"")
    doc["content"]["length"] = N + 5  # a forged head claiming more than was signed
    _as_dba(
        postgres_store_url,
        ("INSERT INTO heso_heads (length, doc) VALUES (%s, %s)", (N + 5, json.dumps(doc).encode())),
    )
    assert verify_ledger(PostgresLedger(postgres_store_url)).code == v.HEAD_INVALID
    _as_dba(postgres_store_url, ("DELETE FROM heso_heads", ()))
    assert verify_ledger(PostgresLedger(postgres_store_url)).code == v.HEAD_MISSING
    with pytest.raises(ChainError, match="no signed head"):
        PostgresLedger(postgres_store_url, key=key).append(signed_receipt(key, 99))


def test_the_writer_role_inserts_and_never_rewrites(
    postgres_store_url: str, key: SigningKey, postgres_server: Any
) -> None:
    dbname = postgres_store_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_store_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS heso_agent_t")
        conn.execute("CREATE ROLE heso_agent_t LOGIN PASSWORD 'agentpw' IN ROLE heso_writer")
    agent_url = postgres_server.url_for(dbname, "heso_agent_t", "agentpw")
    writer = PostgresLedger(agent_url, key=key)
    for i in range(3):
        writer.append(signed_receipt(key, i))
    writer.close()
    assert verify_ledger(PostgresLedger(agent_url)).details["entries"] == 3
    # The role also inserted the entries' tree rows and the checkpoints (at 1, and on close).
    assert PostgresLedger(agent_url).merkle_tree().size == 3
    assert PostgresLedger(agent_url).checkpoint_store().sizes() == [1, 3]
    with psycopg.connect(agent_url, autocommit=True) as conn:
        for sql in (
            "UPDATE heso_entries SET line = line WHERE seq = 0",
            "DELETE FROM heso_entries WHERE seq = 2",
            "DELETE FROM heso_heads",
            "TRUNCATE heso_entries",
            "UPDATE heso_tree SET hashes = hashes WHERE seq = 0",
            "DELETE FROM heso_tree WHERE seq = 2",
            "TRUNCATE heso_tree",
            "UPDATE heso_checkpoints SET note = note",
            "DELETE FROM heso_checkpoints",
            "TRUNCATE heso_checkpoints",
            "SET session_replication_role = replica",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
    with psycopg.connect(
        postgres_store_url, autocommit=True
    ) as conn:  # even the owner, while triggers hold
        for table in ("heso_entries", "heso_tree", "heso_checkpoints"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(f"DELETE FROM {table}")
    reader = PostgresLedger(agent_url)
    assert len(list(reader.entries())) == 3


def test_hostile_text_is_stored_as_sent(postgres_store_url: str, key: SigningKey) -> None:
    """The writer sends values inside its statements' text: quotes, backslashes, semicolons
    and non-ASCII in a tool name (chosen by a model) and in the host are stored byte for
    byte and run nothing."""
    hostile = "it's\\'; DROP TABLE heso_entries; -- \u00e9\u2603 E'\\x00"
    store = PostgresLedger(postgres_store_url, key=key, host=hostile)
    sent = [signed_receipt(key, i, tool=hostile) for i in range(3)]
    for receipt in sent:
        store.append(receipt)
    store.close()
    reader = PostgresLedger(postgres_store_url)
    got = [json.loads(line)["receipt"] for _, line in reader.entries()]
    assert got == sent
    assert reader.hosts(0, 3) == {0: hostile, 1: hostile, 2: hostile}
    assert verify_ledger(reader).ok


def test_a_session_that_lost_the_writers_statements_prepares_them_again(
    postgres_store_url: str, key: SigningKey
) -> None:
    """A pooler that resets the session (``DISCARD ALL``) takes the writer's prepared
    statements with it: the next append prepares them again, nothing is lost."""
    store = PostgresLedger(postgres_store_url, key=key)
    store.append(signed_receipt(key, 0))
    own = store.db._own
    assert own is not None
    own.execute("DISCARD ALL")
    store.append(signed_receipt(key, 1))
    assert store.db._own is own  # the same session, its statements prepared again
    store.close()
    reader = PostgresLedger(postgres_store_url)
    assert [seq for seq, _ in reader.entries()] == [0, 1]
    assert verify_ledger(reader).ok


def test_a_commit_whose_answer_was_lost_is_not_linked_twice(
    postgres_store_url: str, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection drops after the server ran a batch's commit but before the writer read
    the answer: the retry finds the batch in the table (looked up under the tip lock) and
    links nothing again."""
    store = PostgresLedger(postgres_store_url, key=key)
    store.append(signed_receipt(key, 0))
    real = psycopg.Cursor.execute
    lost: list[str] = []

    def execute(cur: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        out = real(cur, query, *args, **kwargs)
        if isinstance(query, str) and query.startswith("EXECUTE heso_link") and not lost:
            lost.append(query)
            cur.connection.close()
            raise psycopg.OperationalError("the connection was lost")
        return out

    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    entry = store.append(signed_receipt(key, 1))
    monkeypatch.undo()
    assert lost and entry.seq == 1
    store.append(signed_receipt(key, 2))
    store.close()
    reader = PostgresLedger(postgres_store_url)
    seqs = [
        json.loads(line)["receipt"]["content"]["action"]["fields"]["i"]
        for _, line in reader.entries()
    ]
    assert seqs == [0, 1, 2]
    assert verify_ledger(reader).ok


def test_copy_files_into_the_database_and_export_back_byte_for_byte(
    postgres_server: Any,
    postgres_store_url: str,
    key: SigningKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HESO_HOST", "laptop-7")
    source = FileLedger(tmp_path / "src", key=key)
    for i in range(N):
        source.append(signed_receipt(key, i))
    source.close()
    verdict = copy_to_database(FileLedger(tmp_path / "src"), postgres_store_url, verify_ledger)
    assert verdict.ok and verdict.details["entries"] == N
    with pytest.raises(ChainError, match="already holds a chain"):
        copy_to_database(FileLedger(tmp_path / "src"), postgres_store_url, verify_ledger)
    db = PostgresLedger(postgres_store_url, key=key, host="worker-1")
    db.append(signed_receipt(key, N))  # the fleet goes on from where the files stopped
    db.close()
    # The files never said where their entries were appended: the copy says who copied them.
    hosts = PostgresLedger(postgres_store_url).hosts(0, N + 1)
    assert hosts == {**dict.fromkeys(range(N), "laptop-7 (copied from files)"), N: "worker-1"}
    export_files(PostgresLedger(postgres_store_url), tmp_path / "out", verify_ledger)
    src = (tmp_path / "src" / fmt.CHAIN_FILE).read_bytes()
    out = (tmp_path / "out" / fmt.CHAIN_FILE).read_bytes()
    assert out.startswith(src) and out.count(b"\n") == N + 1
    assert verify_ledger(FileLedger(tmp_path / "out"), require_sealed=True).ok
    with pytest.raises(ChainError, match="already holds a chain"):
        export_files(PostgresLedger(postgres_store_url), tmp_path / "out", verify_ledger)


def test_a_broken_file_store_is_not_copied(
    postgres_server: Any, postgres_store_url: str, key: SigningKey, tmp_path: Path
) -> None:
    source = FileLedger(tmp_path / "src", key=key)
    for i in range(4):
        source.append(signed_receipt(key, i))
    source.close()
    chain = tmp_path / "src" / fmt.CHAIN_FILE
    chain.write_bytes(chain.read_bytes().replace(b'"i":2', b'"i":7'))
    with pytest.raises(ChainError, match="does not verify"):
        copy_to_database(FileLedger(tmp_path / "src"), postgres_store_url, verify_ledger)
    assert PostgresLedger(postgres_store_url).length == 0
