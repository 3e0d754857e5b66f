"""A project on the PostgreSQL store works as on files: heso.init, the gate, every CLI verb, the
console; and the store's password never shows."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

import heso
from heso.capture import capture
from heso.cli import main
from heso.database import SCHEMA_VERSION
from heso.ledger.postgres_store import PostgresLedger
from heso_testing.project import Project


def _password(url: str) -> str:
    password = urlsplit(url).password
    assert password
    return password


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_gate_cli_and_console_run_on_the_database(
    pg_project: Project, postgres_store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from heso import config as _config

    pg_project.init()
    assert isinstance(_config.current().ledger, PostgresLedger)
    ran = []

    @heso.tool
    def lookup(order: str) -> str:
        ran.append(order)
        return order.upper()

    assert [lookup(f"o{i}") for i in range(5)] == [f"O{i}" for i in range(5)]
    assert capture("tool_call", "plain", {"x": 1}).allowed
    heso.shutdown()
    receipts = pg_project.receipts()
    assert len(receipts) == 6 and ran == [f"o{i}" for i in range(5)]
    assert not (pg_project.data_dir / "receipts.jsonl").exists()  # nothing went to files
    at = ["--project", str(pg_project.root)]
    secret = _password(postgres_store_url)
    code, out, err = _cli(capsys, "verify", "--chain", *at)
    assert code == 0, err
    assert out.startswith("Valid") and "6 entries, 6 sealed" in out
    prefix = receipts[2]["content"]["action_hash"][:10]
    code, out, err = _cli(capsys, "verify", prefix, *at, "--json")
    assert code == 0 and json.loads(out)["action_hash"].startswith(prefix)
    code, out, _ = _cli(capsys, "show", prefix, *at, "--json")
    assert code == 0 and json.loads(out)["content"]["action_hash"].startswith(prefix)
    code, out, _ = _cli(capsys, "log", *at, "--json")
    assert code == 0 and len(json.loads(out)["rows"]) == 6
    code, out, _ = _cli(capsys, "approvals", "list", *at, "--json")
    assert code == 0
    code, out, _ = _cli(capsys, "verify", "--chain", *at, "--json")
    assert json.loads(out)["ok"] is True
    assert secret not in out

    from heso.console.data import ProjectView

    view = ProjectView(pg_project.root)
    assert sorted(r["seq"] for r in view.receipts({})["rows"]) == list(range(6))


def test_a_fresh_database_must_be_migrated_and_a_newer_schema_is_refused(
    heso_project: Project, postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import psycopg

    monkeypatch.setenv("HESO_STORE", postgres_url)
    with pytest.raises(heso.HesoConfigError, match="no heso schema") as err:
        heso_project.init()
    assert "heso store migrate" in err.value.diagnostics()
    code, out, err_text = _cli(capsys, "store", "migrate", "--project", str(heso_project.root))
    assert code == 0 and f"migrated from version 0 to {SCHEMA_VERSION}" in out, err_text
    code, out, _ = _cli(capsys, "store", "migrate", "--project", str(heso_project.root))
    assert code == 0 and "already current" in out
    assert _password(postgres_url) not in out
    heso_project.init()
    heso.shutdown()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE heso_schema SET version = 99")
    with pytest.raises(heso.HesoConfigError, match="newer than this heso knows") as err:
        heso_project.init()
    assert "upgrade heso" in err.value.diagnostics()
    code, out, err_text = _cli(capsys, "log", "--project", str(heso_project.root))
    assert code == 2 and "schema version 99" in err_text
