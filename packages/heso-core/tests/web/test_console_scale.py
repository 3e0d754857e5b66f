"""The console on stores too large to re-read: an index kept in step with the store, paged
answers, a chain verdict updated by checking only new entries, outcomes, exports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import heso
from heso.canonical import loads_strict
from heso.console.app import create_app
from heso.console.data import ProjectView, csv_cell
from heso.keys import SigningKey
from heso.ledger import FileLedger, verify_chain
from heso.ledger import format as fmt
from heso.ledger.watch import ChainWatch, TrustInputs
from heso.receipt import mint, verify_receipt
from heso_testing.bigstore import write_ledger

from .conftest import T0, Scene
from .test_console_api import BASE, TOKEN, csrf, part_for, post_part


def login(root: Path) -> TestClient:
    c = TestClient(create_app(root, token=TOKEN), base_url=BASE)
    assert c.get(f"/?token={TOKEN}", follow_redirects=False).status_code == 303
    return c


@pytest.fixture
def client(scene: Scene) -> TestClient:
    return login(scene.root)


@pytest.fixture
def big(tmp_path: Path) -> tuple[Path, SigningKey]:
    """A project whose ledger holds 1,000 valid entries (written directly, sealed)."""
    root = tmp_path / "big"
    root.mkdir()
    (root / "heso.toml").write_text('[policy]\ndefault = "allow"\n')
    key = SigningKey.generate()
    write_ledger(root / "heso-local-data", 1000, key, distinct=60)
    return root, key


class Spy:
    """A ledger reader that records where each read of its entries started."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.starts: list[int] = []

    def entries(self, start: int = 0) -> Any:
        self.starts.append(start)
        return self.inner.entries(start)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def capture(root: Path, tool: str, fields: dict[str, Any]) -> None:
    heso.init(project_root=root, clock_override=T0, workflow="billing", account="acme")
    try:
        heso.process(heso.Action(heso.Verb("tool_call"), tool, fields))
    finally:
        heso.shutdown()


def test_a_change_to_the_store_is_read_from_where_the_console_left_off(scene: Scene) -> None:
    view = ProjectView(scene.root)
    spy = Spy(view.ledger)
    view.ledger = view.index.ledger = view.watch.store = spy  # type: ignore[assignment]
    assert view.receipts({})["total"] == 8
    assert view.status()["verdict"]["verdict"] == "Valid"
    assert view.watch.full_passes == 1
    spy.starts.clear()
    capture(scene.root, "send_email", {"to": "c@example.com"})
    capture(scene.root, "send_email", {"to": "d@example.com"})
    page = view.receipts({"limit": "2"})
    assert (page["total"], [r["seq"] for r in page["rows"]]) == (10, [9, 8])
    status = view.status()
    assert status["verdict"]["entries"] == 10
    assert status["verdict"]["summary"] == str(verify_chain(scene.data_dir))
    assert (view.watch.full_passes, view.watch.incremental_passes) == (1, 1)
    assert spy.starts and min(spy.starts) >= 7, spy.starts  # never from the start again


def test_three_hundred_receipts_page_through_all_three_hundred(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "heso.toml").write_text('[policy]\ndefault = "allow"\n')
    write_ledger(root / "heso-local-data", 300, SigningKey.generate(), distinct=300)
    client = login(root)
    seen: list[int] = []
    for offset in (0, 100, 200, 300):
        data = client.get("/api/receipts", params={"offset": offset}).json()
        assert (data["total"], data["matched"], data["limit"]) == (300, 300, 100)
        seen += [r["seq"] for r in data["rows"]]
    assert seen == list(range(299, -1, -1))
    blocks = client.get("/api/receipts", params={"decision": "block", "limit": 20}).json()
    assert blocks["matched"] == 50 and len(blocks["rows"]) == 20
    assert {r["decision"] for r in blocks["rows"]} == {"block"}
    assert client.get("/api/receipts", params={"limit": "x"}).status_code == 400


def test_outcomes_follow_the_approvals_and_the_timeline_counts_actions_once(
    client: TestClient, scene: Scene
) -> None:
    def outcomes() -> dict[int, str]:
        return {r["seq"]: r["outcome"] for r in client.get("/api/receipts").json()["rows"]}

    assert outcomes() == {
        0: "ran",
        1: "ran",
        2: "blocked",
        3: "ran",
        4: "ran",
        5: "waiting",
        6: "waiting",
        7: "blocked",
    }
    wire, refund = scene.pending["wire_transfer"], scene.pending["refund"]
    denial = part_for(scene, "bob", wire, "finance", 2, decision="denied")
    assert post_part(client, wire, denial, csrf(client)).status_code == 200
    approval = part_for(scene, "alice", refund, "oncall", 1)
    assert post_part(client, refund, approval, csrf(client)).status_code == 200
    assert outcomes()[5] == "denied" and outcomes()[6] == "approved"
    assert scene.call_again(refund).kind == "approved"  # the L1 receipt is chained: entry 8
    after = outcomes()
    assert (after[6], after[8], after[5]) == ("approved", "approved", "denied")

    def only(outcome: str) -> list[int]:
        rows = client.get("/api/receipts", params={"outcome": outcome}).json()["rows"]
        return [r["seq"] for r in rows]

    assert only("approved") == [8, 6] and only("denied") == [5] and only("waiting") == []
    assert only("blocked") == [7, 2]
    assert client.get("/api/receipts", params={"outcome": "maybe"}).status_code == 400

    timeline = client.get("/api/timeline").json()
    counted = sum(n for b in timeline["buckets"] for n in b["counts"].values())
    assert counted == 8  # nine receipts, eight actions: the L1 receipt repeats entry 6


def test_relative_ranges_and_bad_ranges(client: TestClient) -> None:
    # the scene was captured in March 2026; the console's clock is the real one
    assert client.get("/api/receipts", params={"last": "60000w"}).json()["matched"] == 8
    assert client.get("/api/receipts", params={"last": "1h"}).json()["matched"] in (0, 8)
    bad = client.get("/api/receipts", params={"last": "yesterday"})
    assert bad.status_code == 400 and "24h" in bad.json()["message"]


def test_the_chain_is_paged_around_the_broken_entry(big: tuple[Path, SigningKey]) -> None:
    root, _ = big
    client = login(root)
    newest = client.get("/api/chain").json()
    assert newest["verdict"]["verdict"] == "Valid" and newest["total"] == 1000
    assert [e["seq"] for e in newest["entries"]] == list(range(958, 1000))
    path = root / "heso-local-data" / fmt.CHAIN_FILE
    lines = path.read_bytes().splitlines(keepends=True)
    assert b'"n":7,' in lines[607]
    lines[607] = lines[607].replace(b'"n":7,', b'"n":8,')  # same length, edited in place
    path.write_bytes(b"".join(lines))
    status = client.get("/api/status").json()
    expected = verify_chain(root / "heso-local-data")
    assert (status["verdict"]["verdict"], status["verdict"]["entry"]) == (
        expected.code,
        expected.entry,
    )
    assert expected.entry == 607
    chain = client.get("/api/chain").json()
    seqs = [e["seq"] for e in chain["entries"]]
    assert seqs == list(range(586, 628)) and chain["offset"] == 586
    statuses = {e["seq"]: e["status"] for e in chain["entries"]}
    assert statuses[606] == "ok" and statuses[607] == "broken" and statuses[608] == "unchecked"
    later = client.get("/api/chain", params={"offset": 990, "limit": 42}).json()
    assert [e["seq"] for e in later["entries"]] == list(range(958, 1000))  # clamped to the end
    assert client.get("/api/entries/607").json()["chain"]["status"] == "broken"


def _append(data_dir: Path, key: SigningKey, lines: list[bytes]) -> None:
    with open(data_dir / fmt.CHAIN_FILE, "ab") as f:
        for line in lines:
            f.write(line + b"\n")


def _next_lines(
    data_dir: Path, key: SigningKey, count: int, *, prev: str | None = None
) -> list[bytes]:
    ledger = FileLedger(data_dir)
    last = ledger.line(sum(1 for _ in ledger.entries(0)) - 1)
    seq = loads_strict(last)["seq"] + 1
    prev = prev or fmt.entry_hash(last)
    out = []
    for i in range(count):
        content = dict(loads_strict(last)["receipt"]["content"])
        del content["action_hash"]
        content["action"] = {**content["action"], "fields": {"appended": i}}
        line = fmt.encode_entry(seq + i, prev, mint(content, key))
        out.append(line)
        prev = fmt.entry_hash(line)
    return out


def test_the_verdict_checked_incrementally_is_the_full_verdict(
    big: tuple[Path, SigningKey],
) -> None:
    root, key = big
    data = root / "heso-local-data"
    watch = ChainWatch(FileLedger(data))
    inputs = TrustInputs()

    def same() -> str:
        verdict = watch.verdict(inputs)
        full = verify_chain(data)
        assert verdict.to_dict() == full.to_dict()
        return f"{verdict.code}@{verdict.entry}"

    assert same() == "Valid@None"
    _append(data, key, _next_lines(data, key, 5))  # appended after the signed head
    assert same() == "Valid@None"
    assert (watch.full_passes, watch.incremental_passes) == (1, 1)
    assert watch.verdict(inputs).details["unsealed"] == 5

    forged = _next_lines(data, SigningKey.generate(), 1)  # signed by someone else
    _append(data, key, forged)
    assert same() == "WrongKey@1005"
    assert watch.full_passes == 1

    # an old entry rewritten in place, nothing appended: noticed, by a full pass
    path = data / fmt.CHAIN_FILE
    lines = path.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b'"n":3,', b'"n":4,')
    path.write_bytes(b"".join(lines))
    assert same() == "HashMismatch@3"
    assert watch.full_passes == 2

    # the tail cut off: a full pass again
    path.write_bytes(b"".join(lines[:990]))
    assert same().startswith("HashMismatch@3")


def test_a_torn_tail_after_the_last_check_is_reported(big: tuple[Path, SigningKey]) -> None:
    root, key = big
    data = root / "heso-local-data"
    watch = ChainWatch(FileLedger(data))
    assert watch.verdict(TrustInputs()).ok
    line = _next_lines(data, key, 1)[0]
    with open(data / fmt.CHAIN_FILE, "ab") as f:
        f.write(line[:40])  # a writer killed mid-line
    verdict = watch.verdict(TrustInputs())
    assert verdict.code == verify_chain(data).code == "TornTail"


def test_export_gives_the_filtered_receipts_as_signed_and_csv_cells_cannot_run(
    client: TestClient, scene: Scene
) -> None:
    capture(scene.root, '=HYPERLINK("http://x.test","click")', {"note": "@SUM(A1)"})
    jsonl = client.get("/api/export", params={"format": "jsonl", "verb": "tool_call"})
    assert jsonl.status_code == 200
    assert "attachment" in jsonl.headers["content-disposition"]
    receipts = [json.loads(line) for line in jsonl.text.splitlines()]
    assert len(receipts) == 6  # every tool_call, in chain order, each verifiable alone
    assert all(verify_receipt(r).ok for r in receipts)
    lines = (scene.data_dir / fmt.CHAIN_FILE).read_bytes().splitlines()
    assert receipts[0] == loads_strict(lines[0])["receipt"]

    text = client.get("/api/export", params={"format": "csv", "q": "hyperlink"}).text
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:6] == ["seq", "captured_at", "verb", "tool", "decision", "outcome"]
    assert len(table) == 2
    row = dict(zip(table[0], table[1], strict=True))
    assert row["tool"] == '\'=HYPERLINK("http://x.test","click")'
    assert row["outcome"] == "ran" and row["seq"] == "8"
    assert client.get("/api/export", params={"format": "xml"}).status_code == 400
    assert client.get("/api/export", params={"since": "soon"}).status_code == 400
    anonymous = TestClient(client.app, base_url=BASE)
    assert anonymous.get("/api/export").status_code == 401


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@x", "'@x"),
        ("\tx", "\\x09x"),  # escaped first: no longer a formula
        ("plain", "plain"),
        ("a\x1b[31mred", "a\\x1b[31mred"),
        ("\u202eevil", "\\u202eevil"),
    ],
)
def test_csv_cells_are_escaped_and_never_formulas(value: str, cell: str) -> None:
    assert csv_cell(value) == cell


def test_a_rewritten_store_is_indexed_afresh(big: tuple[Path, SigningKey], tmp_path: Path) -> None:
    root, key = big
    view = ProjectView(root)
    assert view.receipts({})["total"] == 1000
    write_ledger(root / "heso-local-data", 400, key, distinct=7)
    page = view.receipts({})
    assert (page["total"], view.index.resets) == (400, 1)
    assert page["matched"] == 400 and page["rows"][0]["seq"] == 399
