"""The page's transparency checks (``heso-transparency.js``) agree with Python's
(:mod:`heso.transparency`) in headless Chromium: on every transparency vector, on real
sum.golang.org checkpoints, on proofs for every entry and checkpoint pair of a live heso log,
and on mutated checkpoints and proofs."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import pytest

from heso.canonical import loads_strict
from heso.errors import CanonicalizationError, TransparencyError
from heso.keys import SigningKey
from heso.ledger import FileLedger
from heso.transparency import prove
from heso.transparency.checkpoint import open_checkpoint
from heso.transparency.cosignature import CosignatureVerifier
from heso.transparency.note import Ed25519Verifier
from heso.transparency.proof import InclusionProof
from heso.transparency.settings import TransparencySettings
from heso.transparency.vkey import parse_vkey
from heso_testing.receipts import signed_receipt

VECTORS = Path(__file__).resolve().parents[4] / "docs" / "vectors" / "transparency"
SUMDB = Path(__file__).resolve().parents[1] / "transparency" / "data" / "signed-notes.json"

JS = """async (cases) => {
  const T = globalThis.HesoTransparency;
  const out = [];
  for (const c of cases) {
    if (c.kind === "checkpoint") out.push(await T.verifyCheckpoint(c.data, c.trust));
    else if (c.kind === "inclusion") {
      out.push(await T.verifyReceiptInclusion(c.receipt, c.data, c.trust));
    }
    else out.push(await T.verifyConsistencyProof(c.old, c.data, c.trust));
  }
  return out;
}"""


def py_check(case: dict[str, Any]) -> dict[str, Any]:
    """Python's verdict on one case (the CLI's rules)."""
    trust = case["trust"]
    keys = [parse_vkey(k) for k in trust["log_keys"]]
    witnesses = [parse_vkey(k) for k in trust.get("witnesses", [])]
    assert all(isinstance(w, CosignatureVerifier) for w in witnesses)
    kw: dict[str, Any] = {"witnesses": witnesses, "threshold": trust.get("threshold", 0)}
    try:
        if case["kind"] == "checkpoint":
            v = open_checkpoint(case["data"].encode(), keys, origin=trust.get("origin"), **kw)
            return {"ok": True, "size": v.checkpoint.size}
        if case["kind"] == "inclusion":
            proof = InclusionProof.from_text(case["data"])
            receipt = loads_strict(case["receipt"].encode())
            v = prove.verify_receipt_inclusion(
                receipt, proof, keys, origin=trust.get("origin"), **kw
            )
            return {"ok": True, "size": v.checkpoint.size, "index": proof.index}
        _, newer = prove.verify_consistency_files(
            case["old"].encode(), case["data"].encode(), keys, **kw
        )
        return {"ok": True, "size": newer.checkpoint.size}
    except (TransparencyError, CanonicalizationError) as exc:
        return {"ok": False, "reason": str(exc)}


def agree(page: Any, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = page.evaluate(JS, cases)
    assert len(results) == len(cases)
    for case, js in zip(cases, results, strict=True):
        py = py_check(case)
        assert js["ok"] == py["ok"], (case.get("name"), py, js)
        if py["ok"]:
            assert js["size"] == py["size"], case.get("name")
    return results


def vector_trust(threshold: int) -> dict[str, Any]:
    manifest = json.loads((VECTORS / "manifest.json").read_text("utf-8"))
    return {
        "log_keys": [(VECTORS / "log.vkey").read_text("utf-8").strip()],
        "witnesses": (VECTORS / "witnesses.vkeys").read_text("utf-8").split(),
        "threshold": threshold,
        "origin": manifest["origin"],
    }


def test_page_agrees_with_python_on_every_transparency_vector(verifier: Any) -> None:
    manifest = json.loads((VECTORS / "manifest.json").read_text("utf-8"))
    cases = []
    for c in manifest["cases"]:
        case: dict[str, Any] = {
            "name": c["file"] + c.get("receipt", ""),
            "kind": c["kind"],
            "data": (VECTORS / c["file"]).read_text("utf-8"),
            "trust": vector_trust(c.get("threshold", 0)),
        }
        if c["kind"] == "inclusion":
            case["receipt"] = (VECTORS / c["receipt"]).read_text("utf-8")
        if c["kind"] == "consistency":
            case["old"] = (VECTORS / c["old"]).read_text("utf-8")
            case["trust"]["origin"] = None
        cases.append(case)
    results = agree(verifier, cases)
    for c, js in zip(manifest["cases"], results, strict=True):
        assert js["ok"] == (c["result"] == "valid"), c


def test_page_accepts_real_sum_golang_org_checkpoints(verifier: Any) -> None:
    sumdb = json.loads(SUMDB.read_text("utf-8"))["sumdb"]
    trust = {"log_keys": [sumdb["vkey"]], "witnesses": [], "threshold": 0}
    cases = []
    for cp in sumdb["checkpoints"]:
        cases.append({"name": "sumdb", "kind": "checkpoint", "data": cp["note"], "trust": trust})
        altered = cp["note"].replace(
            "\n" + str(cp["size"]) + "\n", "\n" + str(cp["size"] + 1) + "\n"
        )
        cases.append({"name": "altered", "kind": "checkpoint", "data": altered, "trust": trust})
    results = agree(verifier, cases)
    assert [r["ok"] for r in results] == [True, False] * len(sumdb["checkpoints"])
    # A vkey whose ID does not match its key is refused in the page as in Python.
    bad = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ltl+T/pF0xgdhlMG"
    result = verifier.evaluate(
        "async (v) => { try { await HesoTransparency.parseVkey(v); return 'ok'; }"
        " catch (e) { return e.message; } }",
        bad,
    )
    assert "does not match the name and key" in result


def _live_log(tmp_path: Path, url: str | None = None) -> tuple[Any, SigningKey, str]:
    """23 entries with a checkpoint every 5, in files (or the PostgreSQL store at ``url``)."""
    key = SigningKey.generate()
    settings = TransparencySettings(checkpoint_every=5)
    if url is None:
        led: Any = FileLedger(tmp_path, key=key, transparency=settings)
    else:
        from heso.ledger.postgres_store import PostgresLedger

        led = PostgresLedger(url, key=key, transparency=settings)
    for i in range(23):
        led.append(signed_receipt(key, i))
    led.close()
    origin = led.origin or ""
    if url is None:
        reader: Any = FileLedger(tmp_path)
    else:
        reader = PostgresLedger(url)
    return reader, key, Ed25519Verifier(origin, key.public_key()).vkey()


@pytest.mark.parametrize("store", ["file", "postgresql"])
def test_page_agrees_with_python_on_a_live_log(
    verifier: Any, tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    """Proofs from either store are the same files: the page checks them as Python does."""
    url = request.getfixturevalue("postgres_store_url") if store == "postgresql" else None
    reader, _key, vkey = _live_log(tmp_path, url)
    trust = {"log_keys": [vkey], "witnesses": [], "threshold": 0}
    store = reader.checkpoint_store()
    sizes = store.sizes()
    latest = store.get(sizes[-1])
    assert latest is not None
    cases: list[dict[str, Any]] = []
    for seq in range(sizes[-1]):
        proof = prove.inclusion_proof(reader, seq, latest)
        receipt = json.dumps(loads_strict(reader.line(seq))["receipt"])
        cases.append(
            {
                "name": f"in{seq}",
                "kind": "inclusion",
                "data": proof.to_text(),
                "receipt": receipt,
                "trust": trust,
            }
        )
    for old in sizes:
        for new in sizes:
            if old <= new:
                note_old, note_new = store.get(old), store.get(new)
                assert note_old is not None and note_new is not None
                data = prove.consistency_proof(reader, old, note_new).to_bytes().decode()
                cases.append(
                    {
                        "name": f"c{old}-{new}",
                        "kind": "consistency",
                        "data": data,
                        "old": note_old.decode(),
                        "trust": trust,
                    }
                )
    results = agree(verifier, cases)
    assert all(r["ok"] for r in results)


def _mutations(text: str, rng: random.Random, n: int) -> list[str]:
    out = []
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    for _ in range(n):
        i = rng.randrange(len(text))
        c = text[i]
        if c.isdigit():
            r = str((int(c) + 1) % 10)
        elif c in b64:
            r = b64[(b64.index(c) + 1) % 64]
        elif c == "\n":
            r = "\n\n" if rng.random() < 0.5 else ""
        else:
            r = "x"
        out.append(text[:i] + r + text[i + 1 :])
    return out


def test_page_agrees_with_python_on_mutated_proofs(verifier: Any, tmp_path: Path) -> None:
    reader, _key, vkey = _live_log(tmp_path)
    trust = {"log_keys": [vkey], "witnesses": [], "threshold": 0}
    store = reader.checkpoint_store()
    sizes = store.sizes()
    latest, older = store.get(sizes[-1]), store.get(sizes[1])
    assert latest is not None and older is not None
    rng = random.Random(19)
    proof = prove.inclusion_proof(reader, 7, latest).to_text()
    receipt = json.dumps(loads_strict(reader.line(7))["receipt"])
    cons = prove.consistency_proof(reader, sizes[1], latest).to_bytes().decode()
    cases: list[dict[str, Any]] = []
    for m in _mutations(proof, rng, 60):
        cases.append({"kind": "inclusion", "data": m, "receipt": receipt, "trust": trust})
    for m in _mutations(cons, rng, 60):
        cases.append({"kind": "consistency", "data": m, "old": older.decode(), "trust": trust})
    for m in _mutations(latest.decode(), rng, 30):
        cases.append({"kind": "checkpoint", "data": m, "trust": trust})
    # The base64 of a proof hash with its last bit flipped (non-canonical or another hash).
    h = base64.b64decode(proof.split("\n")[3])
    flipped = base64.b64encode(bytes([h[0] ^ 1]) + h[1:]).decode()
    cases.append(
        {
            "kind": "inclusion",
            "data": proof.replace(proof.split("\n")[3], flipped),
            "receipt": receipt,
            "trust": trust,
        }
    )
    results = agree(verifier, cases)
    assert sum(not r["ok"] for r in results) > len(results) // 2


def _cards(page: Any, selector: str) -> list[tuple[str, str]]:
    page.wait_for_selector('body[data-state="done"]')
    return [
        (c.get_attribute("data-file"), c.query_selector(".verdict").get_attribute("data-verdict"))
        for c in page.query_selector_all(selector)
    ]


def test_dropping_a_receipt_with_its_proof_checks_inclusion(verifier: Any, tmp_path: Path) -> None:
    """The page's form: a receipt file and its .tlog-proof, a checkpoint and a consistency
    proof, under the log's vkey pasted under Trust; the verdicts are Python's."""
    reader, _key, vkey = _live_log(tmp_path / "log")
    store = reader.checkpoint_store()
    sizes = store.sizes()
    latest, older = store.get(sizes[-1]), store.get(sizes[1])
    assert latest is not None and older is not None
    files = tmp_path / "files"
    files.mkdir()
    (files / "r.json").write_text(json.dumps(loads_strict(reader.line(4))["receipt"]))
    (files / "other.json").write_text(json.dumps(loads_strict(reader.line(5))["receipt"]))
    (files / "e4.tlog-proof").write_text(prove.inclusion_proof(reader, 4, latest).to_text())
    (files / "old.note").write_bytes(older)
    cons = prove.consistency_proof(reader, sizes[1], latest).to_bytes()
    (files / "c.proof").write_bytes(cons)
    verifier.click("#options summary")
    verifier.fill("#vkeys", vkey)
    verifier.set_input_files(
        "#files", [str(files / n) for n in ("r.json", "other.json", "e4.tlog-proof")]
    )
    assert _cards(verifier, ".inclusion-result") == [
        ("r.json in e4.tlog-proof", "Valid"),
        ("other.json in e4.tlog-proof", "NotInLog"),
    ]
    verifier.set_input_files("#files", [str(files / "old.note"), str(files / "c.proof")])
    assert _cards(verifier, ".consistency-result") == [("c.proof extends old.note", "Valid")]
    # The proof with a hash changed: the page refuses it, as Python does.
    lines = cons.decode().split("\n")
    lines[1] = lines[1][:-2] + ("A=" if lines[1][-2] != "A" else "B=")
    (files / "c.proof").write_text("\n".join(lines))
    verifier.set_input_files("#files", [str(files / "old.note"), str(files / "c.proof")])
    assert _cards(verifier, ".consistency-result") == [("c.proof extends old.note", "NotInLog")]
    verifier.set_input_files("#files", [str(files / "old.note")])
    assert _cards(verifier, ".checkpoint-result") == [("old.note", "Valid")]
    # Without the log's key the page says what to paste.
    verifier.fill("#vkeys", "")
    verifier.set_input_files("#files", [str(files / "old.note")])
    verifier.wait_for_selector('body[data-state="done"]')
    assert "verifier key" in verifier.inner_text("#result")
