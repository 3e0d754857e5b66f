"""``heso console`` in real Chromium on a 200,000-receipt store: paging, filters kept in the
address, export, the chain-broken banner on every tab and the chain paged around the break;
and the approvals queue."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from heso.keys import SigningKey
from heso.ledger import format as fmt
from heso_testing.bigstore import write_ledger

from .conftest import Scene
from .test_console_browser import open_tab, queue, rows

ENTRIES = 200_000
BLOCKED_AT_ACME = 16_800  # 42 of the 500 distinct receipts, 400 times each
BROKEN = 150_000


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with a valid, sealed 200,000-entry ledger (500 distinct receipts in turn)."""
    root = tmp_path_factory.mktemp("big") / "project"
    root.mkdir()
    (root / "heso.toml").write_text('[policy]\ndefault = "allow"\n')
    write_ledger(root / "heso-local-data", ENTRIES, SigningKey.generate(), distinct=500)
    return root


def wait_rows(page: Any, first: str) -> None:
    page.wait_for_function(
        "(seq) => document.querySelector('table.list tbody tr')?.dataset.seq === seq", arg=first
    )


def test_a_200k_store_pages_keeps_filters_in_the_address_and_exports(
    page: Any, store: Path, start_console: Any
) -> None:
    console = start_console(store)
    page.goto(console.url)
    page.wait_for_selector('main[data-loaded="receipts"]')
    shown = rows(page)
    assert len(shown) == 100 and shown[0] == str(ENTRIES - 1) and shown[-1] == str(ENTRIES - 100)
    assert page.inner_text("#receipt-count") == f"{ENTRIES} of {ENTRIES}"
    assert page.inner_text("#page-info") == f"1\u2013100 of {ENTRIES}"
    page.click("#pager button.next")
    wait_rows(page, str(ENTRIES - 101))
    assert page.inner_text("#page-info") == f"101\u2013200 of {ENTRIES}"
    assert page.url.endswith("#receipts?page=1")
    page.click("#pager button.last")
    page.wait_for_function(
        "() => document.querySelector('#page-info').textContent.startsWith('199901')"
    )
    assert rows(page)[-1] == "0"

    page.wait_for_selector("#indexing", state="hidden", timeout=120_000)  # index built
    page.select_option('select[name="decision"]', "block")
    page.wait_for_function("() => location.hash.includes('decision=block')")
    page.select_option('select[name="account"]', "acme")
    page.wait_for_function("() => location.hash.includes('account=acme')")
    page.wait_for_function(
        "(n) => document.querySelector('#receipt-count').textContent.startsWith(n + ' of')",
        arg=BLOCKED_AT_ACME,
    )
    outcomes = page.eval_on_selector_all(
        "table.list tbody td.outcome .pill", "(ps) => ps.map((p) => p.dataset.outcome)"
    )
    assert set(outcomes) == {"blocked"} and len(outcomes) == 100
    shared = page.url

    # The address is the view: another tab opened on it shows the same filtered list.
    other = page.context.new_page()
    other.goto(shared)
    other.wait_for_selector('main[data-loaded="receipts"]')
    other.wait_for_function(
        "(n) => document.querySelector('#receipt-count').textContent.startsWith(n + ' of')",
        arg=BLOCKED_AT_ACME,
    )
    assert other.input_value('select[name="decision"]') == "block"
    assert other.input_value('select[name="account"]') == "acme"
    assert rows(other) == rows(page)

    href = page.get_attribute("#export-csv", "href")
    assert "decision=block" in href and "account=acme" in href and "format=csv" in href
    text = page.evaluate("(href) => fetch(href).then((r) => r.text())", href)
    table = list(csv.reader(io.StringIO(text)))
    assert len(table) == 1 + BLOCKED_AT_ACME
    assert {r[4] for r in table[1:]} == {"block"} and {r[8] for r in table[1:]} == {"acme"}


def test_a_tampered_200k_store_shows_the_banner_on_every_tab(
    page: Any, store: Path, start_console: Any, tmp_path: Path
) -> None:
    path = store / "heso-local-data" / fmt.CHAIN_FILE
    original = path.read_bytes()
    start = 0
    for _ in range(BROKEN):
        start = original.index(b"\n", start) + 1
    end = original.index(b"\n", start)
    line = original[start:end]
    assert b'"to":"user' in line
    tampered = line.replace(b'"to":"user', b'"to":"usex', 1)  # same length
    path.write_bytes(original[:start] + tampered + original[end:])
    try:
        console = start_console(store)
        page.goto(console.url)
        page.wait_for_selector('main[data-loaded="receipts"]')
        banner = page.locator("#banner")
        page.wait_for_selector('#banner[data-verdict="HashMismatch"]', timeout=240_000)
        assert banner.is_visible()
        assert f"Audit chain broken: HashMismatch at entry #{BROKEN}" in banner.inner_text()
        assert len(rows(page)) == 100  # the list still reads, under the banner
        open_tab(page, "approvals")
        assert banner.is_visible() and "HashMismatch" in banner.inner_text()
        open_tab(page, "chain")
        broken = page.locator("svg.chain-picture g.entry.broken")
        assert broken.get_attribute("data-seq") == str(BROKEN)
        seqs = page.eval_on_selector_all(
            "svg.chain-picture g.entry[data-seq]", "(gs) => gs.map((g) => Number(g.dataset.seq))"
        )
        assert seqs == list(range(BROKEN - 21, BROKEN + 21))
        assert page.locator("svg.chain-picture g.entry.gap").count() == 2
        page.click("#chain-pager button.next")
        page.wait_for_function(
            "(s) => document.querySelector('#chain-range').textContent.startsWith(s)",
            arg=f"entries #{BROKEN + 21}",
        )
        assert page.locator("svg.chain-picture g.entry.broken").count() == 0
        page.click("#chain-pager button.broken")
        page.wait_for_selector(f'svg.chain-picture g.entry.broken[data-seq="{BROKEN}"]')
        page.click(f'svg.chain-picture g.entry[data-seq="{BROKEN}"]')
        page.wait_for_selector(f'main[data-loaded="entry/{BROKEN}"]')
        assert page.locator(".entry-detail .verdict").get_attribute("data-verdict") == (
            "HashMismatch"
        )
        assert banner.is_visible()
    finally:
        path.write_bytes(original)


def test_the_approvals_queue_sorts_by_sla_left_and_opens_the_full_card(
    page: Any, scene: Scene, start_console: Any
) -> None:
    console = start_console(scene.root)
    page.goto(console.url + "#approvals")
    page.wait_for_selector('main[data-loaded="approvals"]')
    wire, refund = scene.pending["wire_transfer"], scene.pending["refund"]
    order = (
        "() => [...document.querySelectorAll('table.queue tbody tr')].map((t) => t.dataset.hash)"
    )
    assert page.evaluate(order) == [wire, refund]  # 23h10m left before 23h20m
    assert page.inner_text(f'table.queue tr[data-hash="{wire}"] .sla') == "23h10m left"
    page.click("#sort-sla")
    page.wait_for_selector('#sort-sla[data-order="desc"]')
    assert page.evaluate(order) == [refund, wire]
    assert page.locator("#approval-detail section.approval").count() == 0
    page.click(f'table.queue tr[data-hash="{refund}"]')
    card = page.locator(f'#approval-detail section.approval[data-hash="{refund}"]')
    assert "refunds-need-oncall" in card.inner_text() and "23h20m left → deny" in card.inner_text()
    page.check("#only-mine")  # this browser has no key: nothing is its to approve
    page.wait_for_selector("text=Nothing here is yours to approve.")
    assert queue(page) == set()
