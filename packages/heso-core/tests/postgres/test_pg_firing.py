"""The exactly-once claim on PostgreSQL: taken in the transaction that records ``fired``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

import heso
from heso.errors import HesoError
from heso_testing.project import Project

POLICY = """
[policy]
default = "allow"

[[rule]]
id = "refunds-wait"
verb = "tool_call"
scope = "refund"
decision = "require_approval"
approvers = ["oncall"]

[approvers.oncall]
members = {{ alice = "{alice}" }}
"""

REFUSE_FIRED = """
CREATE FUNCTION refuse_fired() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF convert_from(NEW.line, 'UTF8') LIKE '%"kind":"fired"%' THEN
    RAISE EXCEPTION 'the disk is full';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refuse_fired BEFORE INSERT ON heso_lifecycle
  FOR EACH ROW EXECUTE FUNCTION refuse_fired();
"""


def _rows(url: str, sql: str, *params: Any) -> list[Any]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _refunds(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Callable[..., Any], list[str]]:
    """The project initialised with alice as approver; its gated ``refund``, which waits for
    her approval, and the orders whose body ran."""
    from heso.approvals.identity import new_approver

    monkeypatch.setenv("HESO_APPROVER_HOME", str(tmp_path / "approver-device"))
    monkeypatch.setenv("HESO_APPROVER_PASSPHRASE", "a passphrase for alice")
    project.write_policy(POLICY.format(alice=new_approver("alice")[1]))
    heso.init(project_root=project.root)
    ran: list[str] = []

    @heso.gated
    def refund(order: str) -> str:
        ran.append(order)
        return "refunded"

    return refund, ran


def test_a_fired_record_that_cannot_be_written_takes_the_claim_back(
    pg_project: Project,
    postgres_store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refund, ran = _refunds(pg_project, tmp_path, monkeypatch)

    assert refund("o-1", _heso_session="s-1") is heso.SUSPENDED
    heso.append_decision("s-1", "approved")
    with psycopg.connect(postgres_store_url, autocommit=True) as conn:
        conn.execute(REFUSE_FIRED)
    with pytest.raises(HesoError):
        refund("o-1", _heso_session="s-1")
    assert ran == []
    # No claim without its `fired` record: both were one transaction, rolled back together.
    assert _rows(postgres_store_url, "SELECT session FROM heso_fired") == []
    kinds = [
        bytes(line).decode()
        for (line,) in _rows(postgres_store_url, "SELECT line FROM heso_lifecycle ORDER BY seq")
    ]
    assert not any('"kind":"fired"' in k for k in kinds)
    heso.shutdown()


SLOW_INSERTS = """
CREATE FUNCTION slow_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.session = 's-2' THEN
    PERFORM pg_sleep(0.3);
  ELSIF convert_from(NEW.line, 'UTF8') LIKE '%"kind":"fired"%' THEN
    PERFORM pg_sleep(1.0);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER slow_inserts BEFORE INSERT ON heso_lifecycle
  FOR EACH ROW EXECUTE FUNCTION slow_inserts();
"""


def test_a_serialization_failure_after_the_firing_is_chained_still_fires_once(
    pg_project: Project,
    postgres_store_url: str,
    postgres_server: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A database whose default isolation is serializable: while the claim's transaction for
    ``s-1`` records its firing (its receipt already chained), another host's approval of
    ``s-2`` reads and writes the same index page, and commits first. Write skew: the server
    fails the claim's transaction. The claim is retried with the same records: the body runs
    once, and both actions fire."""
    from heso import config
    from heso.approvals.registry import load_project_registry
    from heso.ledger import verify_ledger

    with psycopg.connect(postgres_store_url, autocommit=True) as dba:
        name = dba.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        dba.execute(f'ALTER DATABASE "{name}" SET default_transaction_isolation = serializable')
    refund, ran = _refunds(pg_project, tmp_path, monkeypatch)

    assert refund("o-1", _heso_session="s-1") is heso.SUSPENDED
    assert refund("o-2", _heso_session="s-2") is heso.SUSPENDED
    heso.append_decision("s-1", "approved")
    with psycopg.connect(postgres_store_url, autocommit=True) as dba:
        dba.execute(SLOW_INSERTS)
    ledger = config.current().ledger
    seal = ledger.seal
    other: list[threading.Thread] = []

    def seal_then_interfere() -> None:
        """After s-1's firing receipt is chained, before its claim records it: s-2 is
        approved concurrently (it reads s-2's records now and inserts while s-1's claim
        inserts its ``fired`` record, which the trigger slows down)."""
        seal()
        if other:
            return
        other.append(threading.Thread(target=heso.append_decision, args=("s-2", "approved")))
        other[0].start()
        with psycopg.connect(postgres_store_url, autocommit=True) as watch:
            deadline = time.monotonic() + 30
            while (
                time.monotonic() < deadline
                and not watch.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
                ).fetchone()
            ):
                time.sleep(0.01)

    monkeypatch.setattr(ledger, "seal", seal_then_interfere)
    conflicts = postgres_server.log().count("could not serialize access")
    assert refund("o-1", _heso_session="s-1") == "refunded"
    other[0].join(timeout=60)
    assert postgres_server.log().count("could not serialize access") > conflicts
    assert refund("o-1", _heso_session="s-1") is heso.SUSPENDED  # fired already: never again
    assert refund("o-2", _heso_session="s-2") == "refunded"
    assert ran == ["o-1", "o-2"]
    assert _rows(postgres_store_url, "SELECT session FROM heso_fired ORDER BY session") == [
        ("s-1",),
        ("s-2",),
    ]
    heso.shutdown()
    verdict = verify_ledger(
        type(ledger)(postgres_store_url),
        approver_keys=load_project_registry(pg_project.root).approver_keys(),
    )
    assert verdict.ok and verdict.details["entries"] == 4, verdict  # 2 suspended, 2 fired
