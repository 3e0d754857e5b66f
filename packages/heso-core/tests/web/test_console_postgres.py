"""The console on the PostgreSQL store: which host each action came from (recorded by the writer
beside the entry, unsigned), a host filter, and the page end to end in headless Chromium."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from starlette.testclient import TestClient

import heso
from heso.capture import capture
from heso.console.app import create_app
from heso_testing.project import Project


def _write_from(
    project: Project, monkeypatch: pytest.MonkeyPatch, host: str, n: int, tool: str
) -> None:
    """``n`` calls of ``tool`` gated by a process that calls itself ``host`` (``HESO_HOST``)."""
    monkeypatch.setenv("HESO_HOST", host)
    project.init()
    for i in range(n):
        assert capture("tool_call", tool, {"i": i}).allowed
    heso.shutdown()


@pytest.fixture
def two_hosts(pg_project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A database written by two hosts: 3 actions from ``alpha``, then 2 from ``beta``."""
    _write_from(pg_project, monkeypatch, "alpha", 3, "search")
    _write_from(pg_project, monkeypatch, "beta", 2, "refund")
    monkeypatch.setenv("HESO_HOST", "console-host")  # the console's own name is not shown
    return pg_project


def _client(project: Project) -> TestClient:
    app = create_app(project.root, token="t0ken")
    return TestClient(
        app, base_url="http://127.0.0.1:8714", headers={"authorization": "Bearer t0ken"}
    )


def test_the_list_shows_and_filters_by_the_host_each_entry_came_from(two_hosts: Project) -> None:
    client = _client(two_hosts)
    data = client.get("/api/receipts").json()
    assert data["total"] == 5
    by_seq = {r["seq"]: (r["host"], r["tool"]) for r in data["rows"]}
    assert by_seq == {
        0: ("alpha", "search"),
        1: ("alpha", "search"),
        2: ("alpha", "search"),
        3: ("beta", "refund"),
        4: ("beta", "refund"),
    }
    assert data["facets"]["host"] == ["alpha", "beta"]
    beta = client.get("/api/receipts", params={"host": "beta"}).json()
    assert beta["matched"] == 2 and {r["host"] for r in beta["rows"]} == {"beta"}
    both = client.get("/api/receipts", params={"host": "alpha", "tool": "refund"}).json()
    assert both["matched"] == 0
    assert client.get("/api/receipts", params={"host": "gamma"}).json()["matched"] == 0
    entry = client.get("/api/entries/3").json()
    assert entry["row"]["host"] == "beta" and entry["verdict"]["ok"] is True
    # the host is the store's metadata, not the receipt's: nothing of it is signed
    assert "beta" not in str(entry["receipt"])
    assert client.get("/api/status").json()["verdict"]["ok"] is True
    exported = client.get("/api/export", params={"format": "csv", "host": "beta"}).text
    table = list(csv.reader(io.StringIO(exported)))
    assert [dict(zip(table[0], r, strict=True))["host"] for r in table[1:]] == ["beta", "beta"]
    # the database keeps the Merkle tree and checkpoints: both views work on it
    checkpoints = client.get("/api/checkpoints").json()
    assert checkpoints["available"] is True
    newest = checkpoints["checkpoints"][0]
    assert newest["size"] == 5 and newest["ok"] is True, newest
    proof = client.get("/api/entries/3/proof").json()
    assert proof["status"] == "verified" and proof["checkpoint_size"] == 5, proof


def test_entries_appended_after_the_console_started_get_their_host(
    two_hosts: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(two_hosts)
    assert client.get("/api/receipts", params={"host": "alpha"}).json()["matched"] == 3
    hostile = "gamma<img src=x onerror=alert(1)>\u202e"
    _write_from(two_hosts, monkeypatch, hostile, 1, "search")
    data = client.get("/api/receipts").json()
    assert data["total"] == 6 and data["rows"][0]["host"] == hostile
    assert client.get("/api/receipts", params={"host": hostile}).json()["matched"] == 1


def test_the_file_store_has_no_host_column(heso_project: Project) -> None:
    heso_project.write_policy('[policy]\ndefault = "allow"\n')
    heso_project.init()
    assert capture("tool_call", "plain", {}).allowed
    heso.shutdown()
    data = _client(heso_project).get("/api/receipts").json()
    assert data["facets"]["host"] == [] and data["rows"][0]["host"] == ""


def test_the_page_shows_the_host_column_and_filters_by_host(
    page: Any, two_hosts: Project, start_console: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_from(two_hosts, monkeypatch, "evil<img src=x>\u202e", 1, "search")
    console = start_console(two_hosts.root)
    page.goto(console.url)
    page.wait_for_selector("table.list tbody tr")
    assert page.locator("table.list th", has_text="host (unsigned)").count() == 1
    hosts = page.locator("table.list tbody td.host").all_inner_texts()
    assert hosts[1:] == ["beta", "beta", "alpha", "alpha", "alpha"]
    # a hostile host name is text, its bidi override shown escaped, never markup
    assert hosts[0].startswith("evil<img src=x>") and "\u202e" not in hosts[0]
    assert page.locator("table.list img").count() == 0
    page.select_option("select[name=host]", "alpha")
    page.wait_for_function("() => document.querySelectorAll('table.list tbody tr').length === 3")
    assert "host=alpha" in page.url
    assert set(page.locator("table.list tbody td.host").all_inner_texts()) == {"alpha"}
    page.locator("table.list tbody tr").first.click()
    card = page.locator(".entry-detail")
    card.wait_for()
    assert "alpha" in card.inner_text() and "unsigned" in card.inner_text()
