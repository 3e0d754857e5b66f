"""Terminal injection in the browser (issue 15, item 7): the console and the offline page show
agent-supplied text with the same escapes as the CLI (``heso.display.escape``)."""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path
from typing import Any

import pytest

import heso
from heso.display import escape
from heso.web import export_verifier
from heso_testing.hostile_text import HIDDEN, HOSTILE, PRINTABLE

from .conftest import T0, Scene

LAYOUT = {"\n", "\t"}
"""What ``innerText`` itself puts between blocks and table cells."""


def _sample() -> list[str]:
    """The hostile corpus, printable text, and random assigned code points of every plane
    (unassigned ones differ between Python's and the browser's Unicode versions)."""
    rnd = random.Random(15_07)
    points: list[str] = []
    while len(points) < 3000:
        cp = rnd.choice((rnd.randrange(0x80, 0x3000), rnd.randrange(0x3000, 0x110000)))
        ch = chr(cp)
        if unicodedata.category(ch) != "Cn" and not 0xD800 <= cp < 0xE000:
            points.append(ch)
    chunks = ["".join(points[i : i + 30]) for i in range(0, len(points), 30)]
    return [*HOSTILE.values(), *PRINTABLE, *chunks, "".join(sorted(HIDDEN))]


@pytest.fixture(scope="module")
def verifier_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_verifier(tmp_path_factory.mktemp("verifier") / "heso-verifier.html")


def test_the_page_escapes_exactly_as_the_cli_does(page: Any, verifier_file: Path) -> None:
    page.goto(verifier_file.as_uri())
    page.wait_for_selector('body[data-state="ready"]')
    texts = _sample()
    shown = page.evaluate("(texts) => texts.map((t) => globalThis.HesoUI.escapeText(t))", texts)
    assert shown == [escape(t) for t in texts]


def test_the_console_shows_a_hostile_approval_escaped(
    page: Any, scene: Scene, start_console: Any
) -> None:
    fields = {"order": "A-9" + HOSTILE["rlo"] + "1-A", "note": HOSTILE["osc-link"] + HOSTILE["csi"]}
    heso.init(project_root=scene.root, clock_override=T0)
    try:
        with pytest.raises(heso.SuspendedError) as parked:
            heso.process(
                heso.Action(
                    heso.Verb.tool_call,
                    "refund",
                    fields,
                    workflow="billing" + HOSTILE["isolates"],
                    account="acme" + HOSTILE["zero-width"] + HOSTILE["c1-csi"],
                )
            )
    finally:
        heso.shutdown()
    console = start_console(scene.root)
    page.goto(console.url)
    page.wait_for_selector('main[data-loaded="receipts"]')
    listed = page.inner_text("table.list")
    page.click('#tabs button[data-tab="approvals"]')
    page.wait_for_selector('main[data-loaded="approvals"]')
    queued = page.inner_text("table.queue")
    page.click(f'table.queue tr[data-hash="{parked.value.action_hash}"]')
    card = page.locator(f'section.approval[data-hash="{parked.value.action_hash}"]').inner_text()
    assert "A-9\\u202e1-A" in card and "\\u001b]8;;https://evil.example" in card
    assert "billing\\u2066\\u2067\\u2068\\u2069 / acme\\u200b" in card
    assert "billing\\u2066\\u2067\\u2068\\u2069 / acme\\u200b" in queued
    for text in (card, listed, queued, page.inner_text("body")):
        assert not (HIDDEN - LAYOUT) & set(text), sorted((HIDDEN - LAYOUT) & set(text))
