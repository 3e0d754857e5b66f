"""The exactly-once claim on PostgreSQL: taken in the transaction that records ``fired``."""

from __future__ import annotations

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


def test_a_fired_record_that_cannot_be_written_takes_the_claim_back(
    pg_project: Project,
    postgres_store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from heso.approvals.identity import new_approver

    monkeypatch.setenv("HESO_APPROVER_HOME", str(tmp_path / "approver-device"))
    monkeypatch.setenv("HESO_APPROVER_PASSPHRASE", "a passphrase for alice")
    pg_project.write_policy(POLICY.format(alice=new_approver("alice")[1]))
    heso.init(project_root=pg_project.root)
    ran: list[str] = []

    @heso.gated
    def refund(order: str) -> str:
        ran.append(order)
        return "refunded"

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
