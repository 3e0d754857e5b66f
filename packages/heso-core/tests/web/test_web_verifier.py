"""The offline verifier page in real Chromium: it agrees with the Python verifier on every
conformance vector and on mutated inputs, shows verdicts, reasons and the broken chain entry,
and makes no network request at all."""

from __future__ import annotations

import copy
import hashlib
import json
import random
import shutil
import struct
from pathlib import Path
from typing import Any

import blake3
import nacl.bindings

from heso.canonical import canonical_bytes, loads_strict
from heso.keys import PublicKey, SigningKey
from heso.ledger import FileLedger, verify_chain
from heso.ledger import format as fmt
from heso.receipt import (
    build_content,
    compute_action_hash,
    operator_message,
    verify_receipt_bytes,
)
from heso_testing.receipts import signed_receipt

from .conftest import VECTORS

MANIFEST = json.loads((VECTORS / "manifest.json").read_text())
COMPARED = ("verdict", "trust_level", "entry", "action_hash")
ORDER_L = 2**252 + 27742317777372353535851937790883648493

JS_RECEIPTS = """async (cases) => {
  const H = globalThis.HesoVerify, out = [];
  for (const c of cases) {
    const opts = {};
    if (c.trusted) opts.trustedOperators = new Set(c.trusted);
    if (c.approvers) opts.approverKeys = new Map(Object.entries(c.approvers));
    out.push((await H.verifyReceiptBytes(H.fromHex(c.hex), opts)).toJSON());
  }
  return out;
}"""
JS_CHAINS = """async (cases) => {
  const H = globalThis.HesoVerify, out = [];
  for (const c of cases) {
    const files = {chain: H.fromHex(c.chain), head: c.head === null ? null : H.fromHex(c.head)};
    out.push((await H.verifyChain(files)).toJSON());
  }
  return out;
}"""


def py_receipt(data: bytes, case: dict[str, Any]) -> dict[str, Any]:
    trusted = {PublicKey.from_str(k) for k in case["trusted"]} if case.get("trusted") else None
    approvers = (
        {PublicKey.from_str(k): n for k, n in case["approvers"].items()}
        if case.get("approvers")
        else None
    )
    return verify_receipt_bytes(data, trusted_operators=trusted, approver_keys=approvers).to_dict()


def js_receipts(page: Any, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return page.evaluate(JS_RECEIPTS, cases)


def same(py: dict[str, Any], js: dict[str, Any]) -> bool:
    """The same verdict: code, trust level, entry and action_hash (reasons are compared for
    the conformance vectors, where they are what a person reads)."""
    return all(py.get(k) == js.get(k) for k in COMPARED)


# --------------------------------------------------------------------------- conformance


def test_page_agrees_with_python_on_every_receipt_vector(verifier: Any) -> None:
    cases = [
        {
            "file": c["file"],
            "hex": (VECTORS / c["file"]).read_bytes().hex(),
            "trusted": c.get("trusted_operators"),
            "approvers": c.get("approver_keys"),
        }
        for c in MANIFEST["receipts"]
    ]
    results = js_receipts(verifier, cases)
    assert len(results) == len(MANIFEST["receipts"]) >= 20
    for case, expected, js in zip(cases, MANIFEST["receipts"], results, strict=True):
        py = py_receipt(bytes.fromhex(case["hex"]), case)
        assert py["verdict"] == expected["verdict"], case["file"]
        assert js["verdict"] == expected["verdict"], (case["file"], js)
        assert js.get("trust_level") == expected.get("trust_level"), case["file"]
        assert same(py, js), (case["file"], py, js)
        if js["verdict"] != "MalformedJson":
            assert js["summary"] == py["summary"], case["file"]


def test_page_agrees_with_python_on_every_chain_vector(verifier: Any) -> None:
    cases = []
    for c in MANIFEST["chains"]:
        d = VECTORS / c["dir"]
        head = d / "chain.head.json"
        cases.append(
            {
                "chain": (d / "receipts.jsonl").read_bytes().hex(),
                "head": head.read_bytes().hex() if head.exists() else None,
            }
        )
    results = verifier.evaluate(JS_CHAINS, cases)
    assert len(results) == len(MANIFEST["chains"]) >= 7
    for expected, js in zip(MANIFEST["chains"], results, strict=True):
        py = verify_chain(VECTORS / expected["dir"]).to_dict()
        assert js["verdict"] == py["verdict"] == expected["verdict"], expected["dir"]
        assert js.get("entry") == py.get("entry") == expected.get("entry"), expected["dir"]
        assert js["summary"] == py["summary"], expected["dir"]
        if "entries" in expected:
            assert js["entries"] == py["entries"] == expected["entries"]


def _mutate_receipt(rnd: random.Random, data: bytes) -> bytes:
    d = bytearray(data)
    k = rnd.random()
    if k < 0.3:
        for _ in range(rnd.randint(1, 3)):
            d[rnd.randrange(len(d))] = rnd.randrange(256)
    elif k < 0.45:
        j = rnd.randrange(len(d))
        del d[j : j + rnd.randint(1, 20)]
    elif k < 0.6:
        j = rnd.randrange(len(d))
        snippet = rnd.choice([b'"', b",", b"{}", b"\\ud800", b"\xff", b"1e400", b"-0", b"1.0"])
        d[j:j] = snippet
    else:
        obj = json.loads(data)

        def mutate(o: Any) -> None:
            if isinstance(o, dict) and o:
                key = rnd.choice(list(o))
                r = rnd.random()
                if r < 0.3:
                    del o[key]
                elif r < 0.6:
                    o[key] = rnd.choice([None, 1, 2.5, "x", [], {}, True, 1e21, -0.0, 2**53])
                else:
                    mutate(o[key])
            elif isinstance(o, list) and o:
                mutate(rnd.choice(o))

        mutate(obj)
        d = bytearray(json.dumps(obj, ensure_ascii=rnd.random() < 0.5).encode())
    return bytes(d)


def test_page_agrees_with_python_on_mutated_receipts(verifier: Any) -> None:
    rnd = random.Random(20260302)
    sources = [
        (VECTORS / c["file"]).read_bytes()
        for c in MANIFEST["receipts"]
        if c["verdict"] == "Valid" or c["file"].startswith("receipts/l1_")
    ]
    approvers = next(c for c in MANIFEST["receipts"] if c["file"].endswith("valid_l1.json"))
    cases = [
        {
            "hex": _mutate_receipt(rnd, rnd.choice(sources)).hex(),
            "approvers": approvers["approver_keys"],
        }
        for _ in range(400)
    ]
    results = js_receipts(verifier, cases)
    differ = []
    codes = set()
    for case, js in zip(cases, results, strict=True):
        py = py_receipt(bytes.fromhex(case["hex"]), case)
        codes.add(py["verdict"])
        if not same(py, js):
            differ.append((py["summary"], js["summary"]))
    assert not differ, differ[:5]
    assert {"MalformedJson", "MalformedReceipt", "HashMismatch", "Valid"} <= codes


def test_page_agrees_with_python_on_mutated_chains(verifier: Any, tmp_path: Path) -> None:
    valid = VECTORS / "chains" / "valid"
    lines = (valid / "receipts.jsonl").read_bytes().splitlines(keepends=True)
    head = (valid / "chain.head.json").read_bytes()
    rnd = random.Random(7)
    cases: list[tuple[bytes, bytes | None]] = []
    for _ in range(150):
        ls, h = list(lines), head
        j = rnd.randrange(len(ls))
        k = rnd.random()
        if k < 0.2:
            line = bytearray(ls[j])
            line[rnd.randrange(len(line) - 1)] = rnd.randrange(32, 127)
            ls[j] = bytes(line)
        elif k < 0.35:
            del ls[j]
        elif k < 0.5:
            ls.insert(j, rnd.choice(lines))
        elif k < 0.6:
            ls[j] = ls[j].replace(
                b'"seq":%d' % j,
                rnd.choice([b'"seq":%d.0' % j, b'"seq":true', b'"seq":%d,"x":NaN' % j]),
            )
        elif k < 0.7:
            ls[j] = ls[j][: rnd.randrange(len(ls[j]))]
        elif k < 0.8:
            h = None
        elif k < 0.9:
            doc = json.loads(head)
            doc["content"]["length"] = rnd.choice([0, 3, 7, "x"])
            h = json.dumps(doc).encode()
        else:
            entry = json.loads(ls[j])
            entry["receipt"]["content"]["trust_level"] = "L1"
            ls[j] = (json.dumps(entry) + "\n").encode()
        cases.append((b"".join(ls), h))
    results = verifier.evaluate(
        JS_CHAINS, [{"chain": c.hex(), "head": None if h is None else h.hex()} for c, h in cases]
    )
    differ = []
    codes = set()
    for i, ((chain_bytes, h), js) in enumerate(zip(cases, results, strict=True)):
        d = tmp_path / f"c{i}"
        d.mkdir()
        (d / "receipts.jsonl").write_bytes(chain_bytes)
        if h is not None:
            (d / "chain.head.json").write_bytes(h)
        py = verify_chain(d).to_dict()
        codes.add(py["verdict"])
        if not same(py, js):
            differ.append((py["summary"], js["summary"]))
        shutil.rmtree(d)
    assert not differ, differ[:5]
    assert {"SequenceMismatch", "HashMismatch", "MalformedEntry", "HeadInvalid"} <= codes


JS_SEALED = """async (cases) => {
  const H = globalThis.HesoVerify, out = [];
  for (const c of cases) {
    const files = {chain: H.fromHex(c.chain), head: c.head === null ? null : H.fromHex(c.head)};
    out.push((await H.verifyChain(files, {requireSealed: c.sealed})).toJSON());
  }
  return out;
}"""


def test_page_agrees_with_python_on_sealed_audits(verifier: Any, tmp_path: Path) -> None:
    """``requireSealed`` (``heso verify --chain --sealed``): entries after the signed head are
    ``Unsealed`` at the first of them in both verifiers; without it both say Valid."""
    key = SigningKey.generate()
    writer = FileLedger(tmp_path, key=key)
    for i in range(5):
        writer.append(signed_receipt(key, i))
    writer.close()
    lines = (tmp_path / fmt.CHAIN_FILE).read_bytes().split(b"\n")[:-1]
    cases = []
    for covered in (5, 2, 1):
        size = sum(len(line) + 1 for line in lines[:covered])
        head = fmt.sign_head(key, covered, fmt.entry_hash(lines[covered - 1]), size)
        for sealed in (True, False):
            cases.append({"covered": covered, "head": fmt.head_bytes(head).hex(), "sealed": sealed})
    chain_hex = (tmp_path / fmt.CHAIN_FILE).read_bytes().hex()
    results = verifier.evaluate(JS_SEALED, [{**c, "chain": chain_hex} for c in cases])
    seen = set()
    for case, js in zip(cases, results, strict=True):
        (tmp_path / fmt.HEAD_FILE).write_bytes(bytes.fromhex(case["head"]))
        py = verify_chain(tmp_path, require_sealed=case["sealed"]).to_dict()
        assert same(py, js) and js["summary"] == py["summary"], (case, py, js)
        seen.add((py["verdict"], py.get("entry")))
    assert seen == {("Unsealed", 2), ("Unsealed", 1), ("Valid", None)}


# --------------------------------------------------------------------------- primitives


def test_blake3_in_the_page_equals_the_blake3_package(verifier: Any) -> None:
    rnd = random.Random(3)
    lengths = [0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 2049, 3072, 3073, 4096, 4097, 8193]
    lengths += [16 * 1024 + 1, 31 * 1024 + 5, 65536 + 7, 250_000]
    inputs = [bytes(i % 251 for i in range(n)) for n in lengths]
    inputs += [rnd.randbytes(rnd.randint(0, 9000)) for _ in range(60)]
    got = verifier.evaluate(
        "(xs) => xs.map((h) => HesoVerify.blake3Hex(HesoVerify.fromHex(h)))",
        [x.hex() for x in inputs],
    )
    assert got == [blake3.blake3(x).hexdigest() for x in inputs]


def test_canonical_bytes_in_the_page_equal_python_and_the_spec(verifier: Any) -> None:
    rnd = random.Random(5)
    doubles = [struct.unpack("<d", rnd.randbytes(8))[0] for _ in range(3000)]
    doubles = [x for x in doubles if x == x and abs(x) != float("inf")]
    doubles += [1e21, 1e-7, 5e-324, 9007199254740991, 0.1, 1 / 3, -0.0, 1e23, 333333333.3333333]
    texts = verifier.evaluate("(xs) => xs.map((x) => HesoVerify.canonicalize(x))", doubles)
    assert texts == [canonical_bytes(x).decode() for x in doubles]
    # canonical.md §5.3 and §5.4: strict parse, then JCS, then BLAKE3.
    rfc = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], '
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", '
        '"literals": [null, true, false]}'
    )
    order = {"€": 1, "\r": 2, "דּ": 3, "1": 4, "😀": 5, "\u0080": 6, "ö": 7}
    js = verifier.evaluate(
        """([a, b]) => [a, b].map((t) => {
             const H = HesoVerify, bytes = H.canonicalBytes(H.loadsStrict(t));
             return [new TextDecoder().decode(bytes), H.blake3Hex(bytes)];
           })""",
        [rfc, json.dumps(order)],
    )
    for (text, digest), source in zip(js, (rfc, json.dumps(order)), strict=True):
        expected = canonical_bytes(loads_strict(source))
        assert text.encode() == expected
        assert digest == blake3.blake3(expected).hexdigest()
    assert js[0][1] == "5b3b80c51be7d32b5df2e507fa592a888faf3a4c98b39ef647fadffcd4ce73bd"


def _small_order_cases() -> list[tuple[str, bytes]]:
    """Receipts whose signatures plain Ed25519 (RFC 8032, WebCrypto) accepts but libsodium,
    heso's Python verifier, refuses: a small-order operator key, a small-order R."""

    def receipt(identity: str, sign: Any) -> bytes:
        content = build_content(
            captured_at="2026-01-02T03:04:05Z",
            agent_identity=identity,
            action={
                "verb": "tool_call",
                "tool_name": "t",
                "workflow": "default",
                "account": "default",
                "fields": {},
            },
            policy={
                "rule_id": "r",
                "rule_display": "r",
                "matched_conditions": [],
                "decision_path": "r",
                "decision": "allow",
            },
        )
        content["action_hash"] = compute_action_hash(content)
        sig = sign(operator_message(content["action_hash"]))
        entry = {
            "algorithm": "Ed25519",
            "key_id": "operator",
            "public_key": identity,
            "signature": sig.hex(),
        }
        return json.dumps(
            {"alg": "heso-action/v2+ed25519", "content": content, "signatures": [entry]}
        ).encode()

    identity_point = bytes([1]) + bytes(31)
    s = (1234567890123456789).to_bytes(32, "little")
    r = nacl.bindings.crypto_scalarmult_ed25519_base_noclamp(s)
    small_key = receipt("ed25519:" + identity_point.hex(), lambda m: r + s)

    seed = bytes(range(32))
    public = SigningKey.from_private_bytes(seed).public_key().raw
    h = bytearray(hashlib.sha512(seed).digest()[:32])
    h[0] &= 248
    h[31] = (h[31] & 127) | 64
    a = int.from_bytes(h, "little")

    def small_r(message: bytes) -> bytes:
        k = int.from_bytes(hashlib.sha512(identity_point + public + message).digest(), "little")
        return identity_point + (k * a % ORDER_L).to_bytes(32, "little")

    return [
        ("small-order key", small_key),
        ("small-order R", receipt("ed25519:" + public.hex(), small_r)),
    ]


def test_page_applies_libsodium_rules_that_plain_webcrypto_does_not(verifier: Any) -> None:
    cases = _small_order_cases()
    results = js_receipts(verifier, [{"hex": data.hex()} for _, data in cases])
    for (name, data), js in zip(cases, results, strict=True):
        assert py_receipt(data, {})["verdict"] == "InvalidSignature", name
        assert js["verdict"] == "InvalidSignature", name
    raw_webcrypto = verifier.evaluate(
        """async (hexes) => {
             const H = HesoVerify, out = [];
             for (const h of hexes) {
               const r = H.loadsStrict(H.fromHex(h)), s = r.signatures[0];
               const key = await crypto.subtle.importKey(
                 "raw", H.fromHex(s.public_key.slice(8)), {name: "Ed25519"}, false, ["verify"]);
               out.push(await crypto.subtle.verify("Ed25519", key, H.fromHex(s.signature),
                 H.operatorMessage(r.content.action_hash)));
             }
             return out;
           }""",
        [data.hex() for _, data in cases],
    )
    assert raw_webcrypto == [True, True]  # why the page checks what libsodium checks


# --------------------------------------------------------------------------- the page as used


def verdict_of(page: Any, index: int = 0) -> dict[str, str]:
    badge = page.locator("#result .verdict").nth(index)
    return {
        "verdict": badge.get_attribute("data-verdict"),
        "text": badge.inner_text(),
    }


def test_dropping_files_shows_verdicts_reasons_and_the_broken_entry(
    page: Any, verifier_file: Path, serve_dir: Any
) -> None:
    base = serve_dir(verifier_file.parent)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{base}/{verifier_file.name}")
    page.wait_for_selector('body[data-state="ready"]')
    receipts = VECTORS / "receipts"

    page.set_input_files("#files", [str(receipts / "valid_l0.json")])
    page.wait_for_selector('body[data-state="done"]')
    assert verdict_of(page)["text"].startswith("Valid (L0)")
    assert page.locator("ul.checks li.ok").count() == 2

    page.set_input_files("#files", [str(receipts / "altered_field.json")])
    page.wait_for_selector('body[data-state="done"]')
    v = verdict_of(page)
    assert v["verdict"] == "HashMismatch"
    assert "content hashes to" in v["text"] and "receipt claims" in v["text"]
    assert page.locator("ul.checks li.bad").count() == 1
    assert "evil@example.com" in page.inner_text(".fields")

    chain = VECTORS / "chains" / "altered"
    page.set_input_files("#files", [str(chain / "receipts.jsonl"), str(chain / "chain.head.json")])
    page.wait_for_selector('body[data-state="done"]')
    v = verdict_of(page)
    assert (v["verdict"], page.locator("#result .verdict").get_attribute("data-entry")) == (
        "HashMismatch",
        "2",
    )
    assert "HashMismatch at entry 2" in v["text"]
    statuses = page.eval_on_selector_all(
        "svg.chain-picture g.entry[data-seq]", "(gs) => gs.map((g) => g.dataset.status)"
    )
    assert statuses == ["ok", "ok", "broken", "unchecked", "unchecked", "unchecked"]

    torn = VECTORS / "chains" / "torn_tail"
    page.set_input_files("#files", [str(torn / "receipts.jsonl"), str(torn / "chain.head.json")])
    page.wait_for_selector('body[data-state="done"]')
    assert verdict_of(page)["verdict"] == "TornTail"
    assert page.locator("svg.chain-picture g.entry.torn").count() == 1

    assert requests == [f"{base}/{verifier_file.name}"]


def test_an_l1_receipt_needs_its_approvers_registered(verifier: Any) -> None:
    case = next(c for c in MANIFEST["receipts"] if c["file"].endswith("valid_l1_quorum.json"))
    text = (VECTORS / case["file"]).read_text()
    verifier.fill("#paste", text)
    verifier.click("#verify")
    verifier.wait_for_selector('body[data-state="done"]')
    assert verdict_of(verifier)["verdict"] == "UnknownApprover"

    receipt = json.loads(text)
    group = receipt["multi_approval"]["group"]
    members = ", ".join(f'{n} = "{k}"' for k, n in case["approver_keys"].items())
    verifier.click("#options summary")
    verifier.fill("#approvers", f"[approvers.{group}]\nmembers = {{ {members} }}\nthreshold = 2\n")
    verifier.click("#verify")
    verifier.wait_for_selector('body[data-state="done"]')
    assert verdict_of(verifier)["text"].startswith("Valid (L1)")
    assert "group treasury, 2 of its members" in verifier.inner_text("table.facts")

    # The registered threshold is above what the approvers signed: QuorumNotMet.
    carol = SigningKey.generate().public_key().to_str()
    bigger = f'[approvers.{group}]\nmembers = {{ {members}, carol = "{carol}" }}\nthreshold = 3\n'
    verifier.fill("#approvers", bigger)
    verifier.click("#verify")
    verifier.wait_for_selector('body[data-state="done"]')
    assert verdict_of(verifier)["verdict"] == "QuorumNotMet"

    # A threshold above the group's size is a mistake in heso.toml, as for heso verify.
    verifier.fill("#approvers", f"[approvers.{group}]\nmembers = {{ {members} }}\nthreshold = 3\n")
    verifier.click("#verify")
    verifier.wait_for_selector('body[data-state="done"]')
    assert verdict_of(verifier)["verdict"] == "Error"
    assert "threshold is 3 but the group has 2 member(s)" in verdict_of(verifier)["text"]
    verifier.fill("#approvers", bigger)

    # Pinning another operator key: UntrustedKey.
    verifier.fill("#trust", "ed25519:" + "ab" * 32)
    verifier.click("#verify")
    verifier.wait_for_selector('body[data-state="done"]')
    assert verdict_of(verifier)["verdict"] == "UntrustedKey"


def test_a_pasted_chain_with_its_head(verifier: Any) -> None:
    valid = VECTORS / "chains" / "valid"
    verifier.fill("#paste", (valid / "receipts.jsonl").read_text().rstrip("\n"))
    verifier.click("#verify")
    verifier.wait_for_selector('body[data-state="done"]')
    assert verdict_of(verifier)["verdict"] == "HeadMissing"

    verifier.click("#options summary")
    verifier.fill("#head", (valid / "chain.head.json").read_text())
    verifier.click("#verify")
    verifier.wait_for_selector('body[data-state="done"]')
    assert verdict_of(verifier)["text"].startswith("Valid (L0)")
    assert "6 entries, 6 sealed by the signed head" in verifier.inner_text(".summary")
    assert verifier.locator("svg.chain-picture g.entry.ok").count() == 6


def test_the_page_makes_no_network_request(
    browser: Any, verifier_file: Path, serve_dir: Any
) -> None:
    """Every request is intercepted: only the page itself is fetched, even while it works."""
    base = serve_dir(verifier_file.parent)
    context = browser.new_context()
    seen: list[str] = []

    def intercept(route: Any) -> None:
        seen.append(route.request.url)
        if route.request.url == f"{base}/{verifier_file.name}":
            route.continue_()
        else:
            route.abort()

    context.route("**/*", intercept)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp_requests: list[str] = []
    cdp.on("Network.requestWillBeSent", lambda e: cdp_requests.append(e["request"]["url"]))
    try:
        page.goto(f"{base}/{verifier_file.name}")
        page.wait_for_selector('body[data-state="ready"]')
        valid = VECTORS / "chains" / "valid"
        page.set_input_files(
            "#files", [str(valid / "receipts.jsonl"), str(valid / "chain.head.json")]
        )
        page.wait_for_selector('body[data-state="done"]')
        assert verdict_of(page)["text"].startswith("Valid (L0)")
        page.set_input_files("#files", [str(VECTORS / "receipts" / "valid_l1.json")])
        page.wait_for_selector('body[data-state="done"]')
        # A script that tries to phone home is stopped by the page's own policy.
        blocked = page.evaluate(
            "() => fetch('http://127.0.0.1:9/x').then(() => 'fetched', () => 'blocked')"
        )
        assert blocked == "blocked"
    finally:
        context.close()
    page_url = f"{base}/{verifier_file.name}"
    assert seen == [page_url]
    assert [u for u in cdp_requests if u != page_url] == []


def test_the_exported_page_works_from_a_file_url(verifier: Any) -> None:
    data = copy.deepcopy(json.loads((VECTORS / "receipts" / "valid_l0.json").read_text()))
    data["content"]["policy"]["decision"] = "block"
    verifier.fill("#paste", json.dumps(data))
    verifier.click("#verify")
    verifier.wait_for_selector('body[data-state="done"]')
    assert verdict_of(verifier)["verdict"] == "HashMismatch"
