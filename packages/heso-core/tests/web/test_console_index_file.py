"""The console's index kept on disk: a restarted console takes it up (and reads only what was
appended since), and ignores it when it is stale, foreign or damaged, rebuilding from the
store instead."""

from __future__ import annotations

import json
import struct
import threading
from pathlib import Path
from typing import Any

import blake3
import pytest

from heso.console import index_file
from heso.console.data import ProjectView
from heso.console.index import ChainIndex
from heso.keys import SigningKey
from heso.ledger import FileLedger
from heso_testing.bigstore import write_ledger


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A project whose ledger holds 600 valid entries (written directly, sealed)."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "heso.toml").write_text('[policy]\ndefault = "allow"\n')
    write_ledger(root / "heso-local-data", 600, SigningKey.generate(), distinct=70)
    return root


def _built(data: Path) -> ChainIndex:
    index = ChainIndex(FileLedger(data), data / index_file.FILE_NAME, save_every=1)
    assert index.catch_up(None)
    return index


def _same(a: ChainIndex, b: ChainIndex) -> None:
    assert a.length == b.length
    for name in a.columns:
        assert [a.values[name][c] for c in a.columns[name]] == [
            b.values[name][c] for c in b.columns[name]
        ]
    assert list(a.outcome) == list(b.outcome) and list(a.flags) == list(b.flags)
    assert list(a.approvers) == list(b.approvers) and a.suspended == b.suspended
    assert [t for t in a.when if t == t] == [t for t in b.when if t == t]


class Counting:
    """A ledger reader that counts the entries read through ``entries`` to take up the index
    (not those the background check reads to rebuild it from the store)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.read = 0
        self.checked = 0

    def entries(self, start: int = 0) -> Any:
        for item in self.inner.entries(start):
            if threading.current_thread().name == "heso-console-index-check":
                self.checked += 1
            else:
                self.read += 1
            yield item

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_saved_index_is_taken_up_and_only_new_entries_are_read(store: Path) -> None:
    data = store / "heso-local-data"
    first = _built(data)
    assert first.save() and (data / index_file.FILE_NAME).exists()
    spy = Counting(FileLedger(data))
    again = ChainIndex(spy, data / index_file.FILE_NAME)
    assert again.catch_up(None) and spy.read == 0
    assert again.wait_checked(30) and not again.rebuilt and spy.checked >= 600
    _same(again, first)
    assert again.select({"decision": "block"}, None, None) == first.select(
        {"decision": "block"}, None, None
    )
    # entries appended after it was saved are read, and only they
    key = SigningKey.generate()
    write_ledger(store / "other", 650, key, distinct=70)
    (data / "receipts.jsonl").write_bytes((store / "other" / "receipts.jsonl").read_bytes())
    spy = Counting(FileLedger(data))
    stale = ChainIndex(spy, data / index_file.FILE_NAME)
    assert not stale.load()  # another store's entries at the same place: not taken up
    assert stale.catch_up(None) and stale.length == 650


def test_appended_entries_after_the_saved_ones_are_read_alone(store: Path) -> None:
    data = store / "heso-local-data"
    key = SigningKey.generate()
    write_ledger(store / "longer", 700, key, distinct=70)
    whole = (store / "longer" / "receipts.jsonl").read_bytes()
    lines = whole.split(b"\n")
    (data / "receipts.jsonl").write_bytes(b"\n".join(lines[:600]) + b"\n")
    for name in ("receipts.idx", "chain.head.json"):
        (data / name).unlink(missing_ok=True)
    first = _built(data)
    assert first.length == 600 and first.save()
    (data / "receipts.jsonl").write_bytes(whole)
    spy = Counting(FileLedger(data))
    again = ChainIndex(spy, data / index_file.FILE_NAME)
    release = threading.Event()
    check = again._check

    def held() -> None:  # the background check would fold the new entries in itself
        release.wait(30)
        check()

    again._check = held  # type: ignore[method-assign]
    assert again.catch_up(None) and again.length == 700
    assert spy.read == 100
    release.set()
    assert again.wait_checked(30) and not again.rebuilt
    _same(again, _built(store / "longer"))


def _rewrite(raw: bytes, change: Any) -> bytes:
    """The index file with its header and body changed by ``change(header, body)``, then
    encoded whole again (a new body hash): only the checks against the store can object."""
    start = len(index_file.MAGIC) + 8
    (size,) = struct.unpack(">Q", raw[len(index_file.MAGIC) : start])
    header, body = change(json.loads(raw[start : start + size]), raw[start + size :])
    header["body"] = blake3.blake3(body).hexdigest()
    head = json.dumps(header).encode()
    return index_file.MAGIC + struct.pack(">Q", len(head)) + head + body


@pytest.mark.parametrize(
    "damage",
    [
        "truncate",
        "flip-body",
        "another-store",
        "header-decision",
        "code-out-of-range",
        "garbage",
    ],
)
def test_a_damaged_or_foreign_file_is_ignored_and_the_index_rebuilt(
    store: Path, damage: str
) -> None:
    data = store / "heso-local-data"
    first = _built(data)
    first.save()
    path = data / index_file.FILE_NAME
    raw = _raw = path.read_bytes()
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "flip-body":
        raw = raw[:-10] + bytes([raw[-10] ^ 1]) + raw[-9:]
    elif damage == "another-store":
        raw = _rewrite(raw, lambda h, b: ({**h, "location": "/elsewhere"}, b))
    elif damage == "header-decision":
        # blocked entries relabelled as allowed, the file otherwise whole: the sample of
        # entries read again disagrees
        def relabel(h: dict[str, Any], b: bytes) -> tuple[dict[str, Any], bytes]:
            table = h["values"]["decision"]
            table[table.index("block")] = "allow"
            return h, b

        raw = _rewrite(raw, relabel)
    elif damage == "code-out-of-range":
        raw = _rewrite(raw, lambda h, b: (h, b"\xff\xff\xff\xff" + b[4:]))
    else:
        raw = b"heso-console-index/1\n" + b"\xff" * 40
    path.write_bytes(raw)
    again = ChainIndex(FileLedger(data), path)
    assert not again.load()
    # the same file re-encoded unchanged is taken up: only the damage was refused
    path.write_bytes(_rewrite(_raw, lambda h, b: (h, b)))
    assert ChainIndex(FileLedger(data), path).load()
    assert again.catch_up(None)
    _same(again, first)


def test_a_restarted_console_filters_from_the_saved_index(store: Path) -> None:
    view = ProjectView(store)
    view.index.save_every = 1
    assert view.index.catch_up(None) and view.index.save()
    blocked = view.receipts({"decision": "block"})
    restarted = ProjectView(store)
    page = restarted.receipts({"decision": "block"})
    assert page["complete"] is True and page["indexed"] == 600
    assert page["matched"] == blocked["matched"] > 0
    assert [r["seq"] for r in page["rows"]] == [r["seq"] for r in blocked["rows"]]


def test_a_crafted_file_that_passes_the_sample_is_caught_by_the_rebuild(
    store: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A process that can write the data directory relabels a blocked entry as an allowed
    ``llm_call`` outside the sample it cannot predict: the file is taken up (it is only a
    speed-up), but the rebuild from the store catches it before a filtered export is cut."""
    data = store / "heso-local-data"
    first = _built(data)
    assert first.save()
    blocked = list(first.select({"decision": "block"}, None, None))
    target = blocked[len(blocked) // 2]
    assert 0 < target < first.length - 1
    path = data / index_file.FILE_NAME

    def relabel(h: dict[str, Any], b: bytes) -> tuple[dict[str, Any], bytes]:
        body = bytearray(b)
        n = h["length"]
        for k, name in enumerate(h["columns"]):
            table = h["values"][name]
            new = {"verb": "llm_call", "decision": "allow"}.get(name)
            if new is None:
                continue
            if new not in table:
                table.append(new)
            at = 4 * (k * n + target)
            body[at : at + 4] = table.index(new).to_bytes(4, "little")
        outcome = 4 * n * len(h["columns"]) + 8 * n + 2 * n
        body[outcome + target] = 0  # ran
        return h, bytes(body)

    forged = _rewrite(path.read_bytes(), relabel)
    path.write_bytes(forged)
    # the sample it is checked with misses the relabelled entry (as it will on a large store)
    real = index_file.random.sample
    monkeypatch.setattr(
        index_file.random, "sample", lambda pop, k: [s for s in real(pop, k) if s != target]
    )
    crafted = ChainIndex(FileLedger(data), path)
    release = threading.Event()
    check = crafted._check

    def held() -> None:  # the background check waits until the forged labels are seen
        release.wait(30)
        check()

    crafted._check = held  # type: ignore[method-assign]
    assert crafted.load()  # passes every check on taking up
    assert target not in crafted.select({"decision": "block"}, None, None)
    # the index alone: its check rebuilds it from the store and writes the file again
    release.set()
    assert crafted.wait_checked(30) and crafted.rebuilt
    assert target in crafted.select({"decision": "block"}, None, None)
    assert path.read_bytes() != forged

    path.write_bytes(forged)
    caplog.set_level("WARNING", logger="heso")
    view = ProjectView(store)
    view.index.save_every = 1
    exported = b"".join(view.export({"decision": "block"}, "jsonl")).splitlines()
    assert len(exported) == len(blocked)  # the relabelled entry is exported
    page = view.receipts({"decision": "block", "limit": "500"})
    assert target in [r["seq"] for r in page["rows"]]
    assert page["index_check"] == "rebuilt"
    assert "did not match the store" in page["index_warning"]
    assert any("did not match the store" in r.getMessage() for r in caplog.records)
    # the file was overwritten with the index read from the store
    again = ChainIndex(FileLedger(data), path)
    assert again.load()
    assert target in again.select({"decision": "block"}, None, None)


def test_filtered_pages_say_a_saved_index_is_being_checked(store: Path) -> None:
    data = store / "heso-local-data"
    assert _built(data).save()
    view = ProjectView(store)
    release = threading.Event()
    check = view.index._check

    def held() -> None:
        release.wait(30)
        check()

    view.index._check = held  # type: ignore[method-assign]
    page = view.receipts({"decision": "block"})
    assert page["index_check"] == "checking" and page["matched"] > 0
    assert view.timeline({"decision": "block"})["index_check"] == "checking"
    release.set()
    view.index.wait_checked()
    page = view.receipts({"decision": "block"})
    assert page["index_check"] == "passed" and page["index_warning"] is None


def test_the_page_notes_the_check_and_warns_when_the_saved_index_was_rebuilt(
    page: Any, store: Path, start_console: Any
) -> None:
    """In Chromium: a saved index whose outcome column hides a blocked entry (outcomes are
    not in the sample) is rebuilt from the store; every tab shows the warning banner and the
    outcome filter lists the entry. While a check runs, the list says so."""
    data = store / "heso-local-data"
    first = _built(data)
    assert first.save()
    blocked = list(first.select({"outcome": "blocked"}, None, None))
    target = blocked[len(blocked) // 2]

    def hide(h: dict[str, Any], b: bytes) -> tuple[dict[str, Any], bytes]:
        n = h["length"]
        body = bytearray(b)
        body[4 * n * len(h["columns"]) + 10 * n + target] = 0  # ran
        return h, bytes(body)

    path = data / index_file.FILE_NAME
    path.write_bytes(_rewrite(path.read_bytes(), hide))
    console = start_console(store)
    page.goto(console.url)
    page.wait_for_selector('main[data-loaded="receipts"]')
    banner = page.locator("#index-banner")
    banner.wait_for(state="visible")
    assert "did not match the store; it was rebuilt" in banner.inner_text()
    page.select_option('select[name="outcome"]', "blocked")
    page.wait_for_function(
        "(n) => document.querySelector('#receipt-count').textContent.startsWith(n + ' of')",
        arg=len(blocked),
    )
    page.click('#tabs button[data-tab="chain"]')
    page.wait_for_selector('main[data-loaded="chain"]')
    assert banner.is_visible()

    # while a check runs (held here by answering for the server), the list says so
    def checking(route: Any) -> None:
        answer = route.fetch().json()
        route.fulfill(json={**answer, "index_check": "checking", "index_warning": None})

    page.route("**/api/receipts?*", checking)
    page.route("**/api/status", checking)
    page.click('#tabs button[data-tab="receipts"]')
    note = page.locator("#indexing")
    note.wait_for(state="visible")
    assert "being checked against the store" in note.inner_text()
    banner.wait_for(state="hidden")
