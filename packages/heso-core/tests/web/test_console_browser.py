"""``heso console`` end to end in real Chromium: log in with the token, read receipts and the
chain, and approve with a key held by the browser; the L1 receipt then verifies with
``heso verify`` and is byte for byte the one the CLI path produces."""

from __future__ import annotations

import json
from typing import Any

import heso
from heso.approvals.decisions import approver_decision, check_approver_decision
from heso.approvals.file_store import FileApprovalStore
from heso.approvals.registry import load_project_registry
from heso.canonical import loads_strict
from heso.cli import main
from heso.keys import PublicKey
from heso.receipt import co_sign

from .conftest import T0, Scene

ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")


def rows(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "table.list tbody tr", "(trs) => trs.map((tr) => tr.dataset.seq)"
    )


def open_tab(page: Any, tab: str) -> None:
    page.click(f'#tabs button[data-tab="{tab}"]')
    page.wait_for_selector(f'main[data-loaded="{tab}"]')


def queue(page: Any) -> set[str]:
    """The action hashes in the approvals queue."""
    return set(
        page.eval_on_selector_all(
            "table.queue tbody tr", "(trs) => trs.map((tr) => tr.dataset.hash)"
        )
    )


def open_approval(page: Any, action_hash: str) -> Any:
    """Click the action's row in the queue; its full card."""
    page.click(f'table.queue tr[data-hash="{action_hash}"]')
    card = page.locator(f'#approval-detail section.approval[data-hash="{action_hash}"]')
    card.wait_for()
    return card


def chain_lines(scene: Scene) -> list[bytes]:
    return (scene.data_dir / "receipts.jsonl").read_bytes().splitlines()


def resume(scene: Scene, action_hash: str) -> str:
    """The operator's side: the call made again fires the approved action (L1 chained)."""
    return str(scene.call_again(action_hash).kind)


def verify_cli(scene: Scene, action_hash: str, capsys: Any) -> dict[str, Any]:
    capsys.readouterr()
    code = main(["verify", action_hash[:16], "--project", str(scene.root), "--json"])
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert code == (0 if out["ok"] else 1)
    return out


def test_log_in_with_the_token_then_read_receipts_and_the_chain(
    page: Any, scene: Scene, start_console: Any
) -> None:
    console = start_console(scene.root)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(console.url)
    page.wait_for_selector('main[data-loaded="receipts"]')
    assert page.url == f"{console.base}/"  # the token left the address bar
    assert page.evaluate("document.cookie") == ""  # the session cookie is HttpOnly
    assert rows(page) == [str(i) for i in range(7, -1, -1)]
    assert page.inner_text("#pending-count") == "2"
    bars = page.eval_on_selector_all(
        "svg.timeline rect.bar", "(rs) => rs.map((r) => r.classList[1])"
    )
    assert sorted(set(bars)) == ["allow", "block", "require_approval"]

    page.select_option('select[name="decision"]', "block")
    page.wait_for_function("() => document.querySelectorAll('table.list tbody tr').length === 2")
    assert rows(page) == ["7", "2"]
    page.fill('input[name="q"]', "drop_table")
    page.wait_for_function("() => document.querySelectorAll('table.list tbody tr').length === 1")
    page.click('table.list tr[data-seq="2"]')
    page.wait_for_selector('main[data-loaded="entry/2"]')
    detail = page.locator(".entry-detail")
    assert detail.locator(".verdict").get_attribute("data-verdict") == "Valid"
    assert "Valid (L0)" in detail.inner_text() and "no-deletes" in detail.inner_text()
    page.wait_for_selector('[data-browser-verdict="Valid"]')

    open_tab(page, "chain")
    assert page.locator(".chain-result .verdict").inner_text().startswith("Valid (L0)")
    statuses = page.eval_on_selector_all(
        "svg.chain-picture g.entry[data-seq]", "(gs) => gs.map((g) => g.dataset.status)"
    )
    assert statuses == ["ok"] * 8

    lines = chain_lines(scene)
    lines[3] = lines[3].replace(b"b@example.com", b"x@example.com")
    (scene.data_dir / "receipts.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    page.reload()
    page.wait_for_selector('main[data-loaded="chain"]')
    badge = page.locator(".chain-result .verdict")
    assert (badge.get_attribute("data-verdict"), badge.get_attribute("data-entry")) == (
        "HashMismatch",
        "3",
    )
    broken = page.locator("svg.chain-picture g.entry.broken")
    assert broken.count() == 1 and broken.get_attribute("data-seq") == "3"
    assert page.locator("svg.chain-picture .link.unchecked").count() == 4
    broken.click()
    page.wait_for_selector('main[data-loaded="entry/3"]')
    assert page.locator(".entry-detail .verdict").get_attribute("data-verdict") == "HashMismatch"
    page.wait_for_selector('[data-browser-verdict="HashMismatch"]')
    assert all(u.startswith(console.base + "/") or u.startswith("blob:") for u in requests)


def test_the_browser_check_uses_the_operator_keys_pinned_in_heso_toml(
    page: Any, scene: Scene, start_console: Any
) -> None:
    scene.resign()
    console = start_console(scene.root)
    page.goto(console.url)
    page.wait_for_selector('main[data-loaded="receipts"]')
    page.click('table.list tr[data-seq="0"]')
    page.wait_for_selector('main[data-loaded="entry/0"]')
    detail = page.locator(".entry-detail")
    assert detail.locator(".verdict").get_attribute("data-verdict") == "UntrustedKey"
    page.wait_for_selector('[data-browser-verdict="UntrustedKey"]')
    open_tab(page, "chain")
    assert page.locator(".chain-result .verdict").get_attribute("data-verdict") == "HeadInvalid"


def test_approve_with_a_browser_held_key_and_heso_verify_says_l1(
    page: Any, scene: Scene, start_console: Any, capsys: Any
) -> None:
    console = start_console(scene.root)
    page.goto(console.url)
    page.wait_for_selector('main[data-loaded="receipts"]')
    open_tab(page, "key")
    page.click("#create-key")
    page.wait_for_selector("#public-key")
    public = page.inner_text("#public-key").strip()
    PublicKey.from_str(public)
    stored = page.evaluate(
        """() => new Promise((resolve, reject) => {
             const req = indexedDB.open("heso-console");
             req.onsuccess = () => {
               const get = req.result.transaction("keys").objectStore("keys").get("approver");
               get.onsuccess = async () => {
                 const k = get.result;
                 let exported = "exported";
                 try { await crypto.subtle.exportKey("pkcs8", k.privateKey); }
                 catch (e) { exported = e.name; }
                 resolve({public: k.public, type: k.privateKey.type,
                          algorithm: k.privateKey.algorithm.name,
                          extractable: k.privateKey.extractable, exported});
               };
             };
             req.onerror = () => reject(req.error);
           })"""
    )
    assert stored == {
        "public": public,
        "type": "private",
        "algorithm": "Ed25519",
        "extractable": False,
        "exported": "InvalidAccessError",
    }
    assert "Not registered yet" in page.inner_text("#key-status")
    page.fill('input[name="name"]', "dana")
    page.fill('input[name="group"]', "night")
    assert page.inner_text("#toml-snippet") == (
        f'[approvers.night]\nmembers = {{ dana = "{public}" }}'
    )

    # The approver registers the browser's key in heso.toml.
    pub = {n: k.public_key().to_str() for n, k in scene.keys.items()}
    scene.write_approvers(
        {
            "oncall": ({"alice": pub["alice"], "dana": public}, 1),
            "finance": ({"alice": pub["alice"], "bob": pub["bob"], "carol": pub["carol"]}, 2),
        }
    )
    page.click("text=I registered it: reload heso.toml")
    page.wait_for_selector('#key-status[data-registered="dana"]')

    open_tab(page, "approvals")
    assert queue(page) == {scene.pending["wire_transfer"], scene.pending["refund"]}
    page.check("#only-mine")
    page.wait_for_function("() => document.querySelectorAll('table.queue tbody tr').length === 1")
    assert queue(page) == {scene.pending["refund"]}  # dana is not in finance
    page.uncheck("#only-mine")
    page.wait_for_function("() => document.querySelectorAll('table.queue tbody tr').length === 2")
    wire = open_approval(page, scene.pending["wire_transfer"])
    assert wire.locator("button.approve").is_disabled()  # dana is not in finance
    card = open_approval(page, scene.pending["refund"])
    assert "oncall 0/1 (alice, dana)" in card.inner_text()
    assert "23h20m left → deny" in card.inner_text()
    card.locator("input.reason").fill("customer called")
    card.locator("button.approve").click()
    page.wait_for_selector(".flash.ok")
    refund = scene.pending["refund"]
    assert page.inner_text(".flash") == (
        f"dana approved {refund[:12]} for oncall: 1 of 1 — approved: the L1 receipt is "
        "minted when the action resumes"
    )
    assert queue(page) == {scene.pending["wire_transfer"]}
    assert page.inner_text("#pending-count") == "1"

    record = FileApprovalStore(scene.data_dir).lines(scene.session_of(refund))[-1].part
    assert record["signer"] == {
        "key_id": "approver:dana",
        "public_key": public,
        "signature": record["signer"]["signature"],
    }
    assert record["record"]["reason"] == "customer called" and record["record"]["at"] == T0
    registry = load_project_registry(scene.root)
    assert check_approver_decision(record, action_hash=refund, registry=registry).ok

    assert resume(scene, refund) == "approved"
    out = verify_cli(scene, refund, capsys)
    assert out["summary"] == "Valid (L1)"
    l1 = loads_strict(chain_lines(scene)[-1])["receipt"]
    assert l1["signatures"][1] == {
        "algorithm": "Ed25519",
        "key_id": "approver:dana",
        "public_key": public,
        "signature": record["record"]["approval_signature"],
    }
    capsys.readouterr()
    assert main(["verify", "--chain", "--project", str(scene.root)]) == 0
    assert "1 co-signed by approvers (L1)" in capsys.readouterr().out


def test_the_browser_signs_exactly_what_heso_approve_signs(
    page: Any, scene: Scene, start_console: Any, capsys: Any
) -> None:
    """With alice's key imported into the browser (non-extractable), her approval and the L1
    receipt are byte for byte those of `heso approve --as alice` (Ed25519 is deterministic)."""
    alice = scene.keys["alice"]
    console = start_console(scene.root)
    page.goto(console.url)
    page.wait_for_selector('main[data-loaded="receipts"]')
    page.evaluate(
        """async ([pkcs8, pub]) => {
             const H = HesoVerify;
             const privateKey = await crypto.subtle.importKey(
               "pkcs8", H.fromHex(pkcs8), {name: "Ed25519"}, false, ["sign"]);
             const publicKey = await crypto.subtle.importKey(
               "raw", H.fromHex(pub.slice(8)), {name: "Ed25519"}, true, ["verify"]);
             await new Promise((resolve, reject) => {
               const req = indexedDB.open("heso-console");
               req.onsuccess = () => {
                 const tx = req.result.transaction("keys", "readwrite");
                 tx.objectStore("keys").put(
                   {privateKey, publicKey, public: pub, created: "imported"}, "approver");
                 tx.oncomplete = resolve;
                 tx.onerror = () => reject(tx.error);
               };
             });
           }""",
        [
            (ED25519_PKCS8_PREFIX + alice.private_bytes_unsafe()).hex(),
            alice.public_key().to_str(),
        ],
    )
    page.reload()
    page.wait_for_selector('main[data-loaded="receipts"]')
    open_tab(page, "approvals")
    refund = scene.pending["refund"]
    card = open_approval(page, refund)
    card.locator("input.reason").fill("customer called")
    card.locator("button.approve").click()
    page.wait_for_selector(".flash.ok")

    cli_part = approver_decision(
        alice,
        approver="alice",
        action_hash=refund,
        decision="approved",
        group="oncall",
        threshold=1,
        at=T0,
        reason="customer called",
    )
    recorded = FileApprovalStore(scene.data_dir).lines(scene.session_of(refund))[-1].part
    assert recorded == cli_part

    suspended = loads_strict(chain_lines(scene)[6])["receipt"]
    assert suspended["content"]["action_hash"] == refund
    assert resume(scene, refund) == "approved"
    l1 = loads_strict(chain_lines(scene)[-1])["receipt"]
    signature = bytes.fromhex(cli_part["record"]["approval_signature"])
    assert l1 == co_sign(
        suspended, [("alice", alice.public_key(), signature)], group="oncall", threshold=1
    )
    assert verify_cli(scene, refund, capsys)["summary"] == "Valid (L1)"

    # alice is in finance too: she denies the wire transfer from the browser.
    wire = scene.pending["wire_transfer"]
    open_approval(page, wire).locator("button.deny").click()
    page.wait_for_selector(f"text=alice denied {wire[:12]}")
    heso.init(project_root=scene.root, clock_override=T0)
    try:
        assert heso.decision(scene.session_of(wire)) == "denied"
    finally:
        heso.shutdown()
    page.check("#show-all")
    page.wait_for_selector(f'table.queue tr[data-hash="{wire}"][data-status="denied"]')
    card = open_approval(page, wire)
    assert card.get_attribute("data-status") == "denied"
    assert card.locator(".sla.overdue").count() == 0  # a decided action is not overdue


def test_another_local_origin_cannot_read_the_session_or_act(
    browser: Any, scene: Scene, start_console: Any, serve_dir: Any, tmp_path: Any
) -> None:
    """A page on another loopback port (same site, so the cookie rides along) can neither read
    the CSRF token nor log the user out: CORS and the CSRF token stop it."""
    console = start_console(scene.root)
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>other</title>")
    other = serve_dir(site)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(console.url)
        page.wait_for_selector('main[data-loaded="receipts"]')
        page.goto(f"{other}/index.html")
        result = page.evaluate(
            """async (target) => {
                 const read = await fetch(target + "/api/session", {credentials: "include"})
                   .then((r) => "read " + r.status, () => "blocked");
                 const post = await fetch(target + "/api/logout", {
                   method: "POST", credentials: "include", mode: "no-cors"})
                   .then((r) => r.type, () => "blocked");
                 return [read, post];
               }""",
            console.base,
        )
        # The POST goes out (no-cors) with the cookie but without the CSRF token: refused, and
        # its answer is withheld from the page (Cross-Origin-Resource-Policy).
        assert result == ["blocked", "blocked"]
        page.goto(f"{console.base}/")
        page.wait_for_selector('main[data-loaded="receipts"]')  # still logged in
    finally:
        context.close()
