"""The offline page reads its trust inputs (a pasted ``heso.toml``, pinned keys) exactly as
``heso verify`` does, and reaches the same verdict: the attacks that made them disagree."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from heso.cli import main
from heso.keys import SigningKey
from heso.receipt import build_content, mint

from .conftest import VECTORS

MANIFEST = json.loads((VECTORS / "manifest.json").read_text())
VALID_L1 = next(c for c in MANIFEST["receipts"] if c["file"] == "receipts/valid_l1.json")
ALICE, BOB = (
    next(k for k, n in VALID_L1["approver_keys"].items() if n == who) for who in ("alice", "bob")
)


def _content(key: SigningKey, *, captured_at: str = "2026-01-02T03:04:05Z", n: int = 0) -> Any:
    """The content of a payment awaiting approval, by ``key``'s operator."""
    return build_content(
        captured_at=captured_at,
        agent_identity=key.public_key().to_str(),
        action={
            "verb": "payment",
            "tool_name": "wire",
            "workflow": "w",
            "account": "a",
            "fields": {"n": n},
        },
        policy={
            "rule_id": "r",
            "rule_display": "r",
            "matched_conditions": [],
            "decision_path": "r",
            "decision": "require_approval",
        },
    )


def cli_verdict(
    tmp_path: Path, receipt: bytes, heso_toml: str, monkeypatch: Any, capsys: Any
) -> dict[str, Any]:
    """``heso verify receipt.json --approvers heso.toml --json``, outside any project."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "receipt.json").write_bytes(receipt)
    (tmp_path / "heso.toml").write_text(heso_toml, encoding="utf-8")
    capsys.readouterr()
    code = main(["verify", "receipt.json", "--approvers", "heso.toml", "--json"])
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert code == (0 if out["ok"] else 1)
    return out


def page_verdict(verifier: Any, receipt: bytes, heso_toml: str) -> dict[str, str]:
    """Paste the receipt and the heso.toml into the page and press Verify."""
    verifier.fill("#paste", receipt.decode())
    if not verifier.is_visible("#approvers"):
        verifier.click("#options summary")
    verifier.fill("#approvers", heso_toml)
    verifier.click("#verify")
    verifier.wait_for_selector('body[data-state="done"]')
    badge = verifier.locator("#result .verdict").first
    text = badge.inner_text().replace("\n", ": ", 1)  # the code and the reason, as one line
    return {"verdict": badge.get_attribute("data-verdict") or "", "text": text}


@pytest.mark.parametrize(
    ("heso_toml", "expected"),
    [
        (
            f'[approvers.oncall.members]\n#alice = "{ALICE}"\nbob = "{BOB}"\n',
            "UnknownApprover",
        ),
        (
            f'[approvers.oncall]\nmembers = {{ alice = "{ALICE}", bob = "{BOB}" }}\n'
            "threshold = +2\n",
            "QuorumNotMet",
        ),
        (
            f'[approvers.oncall]\nmembers = {{ alice = "{ALICE}" }}\n'
            f'# members = {{ alice = "{ALICE}", bob = "{BOB}" }}\n'
            f'[approvers.other]\nmembers = {{ bob = "{BOB}" }}  # bob = "{ALICE}"\n',
            "Valid",
        ),
    ],
    ids=["commented-out-approver", "threshold-plus-two", "comments-everywhere"],
)
def test_the_page_reads_heso_toml_as_heso_verify_does(
    verifier: Any, tmp_path: Path, monkeypatch: Any, capsys: Any, heso_toml: str, expected: str
) -> None:
    receipt = (VECTORS / VALID_L1["file"]).read_bytes()
    py = cli_verdict(tmp_path, receipt, heso_toml, monkeypatch, capsys)
    js = page_verdict(verifier, receipt, heso_toml)
    assert py["verdict"] == expected, py
    assert js["verdict"] == expected, js
    assert js["text"].startswith(py["summary"])


def test_the_page_says_when_no_operator_key_is_pinned(verifier: Any) -> None:
    """As heso verify warns on stderr: valid, but unpinned, proves integrity and not origin."""
    receipt = (VECTORS / "receipts" / "valid_l0.json").read_bytes()
    assert page_verdict(verifier, receipt, "")["verdict"] == "Valid"
    assert "No operator key is pinned" in verifier.inner_text(".receipt-result .unpinned")
    assert (
        page_verdict(verifier, receipt, f'[heso]\noperator_keys = ["{OP}"]\n')["verdict"] == "Valid"
    )
    assert verifier.locator(".unpinned").count() == 0


def test_a_relabelled_approver_is_refused_by_the_page_and_the_cli(
    verifier: Any, tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    """bob is registered; the signature is alice's; the label says bob (key_id is not signed)."""
    receipt = json.loads((VECTORS / VALID_L1["file"]).read_text())
    receipt["signatures"][1]["key_id"] = "approver:bob"
    data = json.dumps(receipt).encode()
    heso_toml = f'[approvers.oncall]\nmembers = {{ alice = "{ALICE}", bob = "{BOB}" }}\n'
    py = cli_verdict(tmp_path, data, heso_toml, monkeypatch, capsys)
    js = page_verdict(verifier, data, heso_toml)
    assert py["verdict"] == js["verdict"] == "WrongApprover", (py, js)
    assert js["text"].startswith(py["summary"])


JS_HEAD = """async (hex) => {
  const H = globalThis.HesoVerify;
  const head = await H.readHead(H.fromHex(hex));
  return head instanceof H.Verdict ? head.code : "ok";
}"""


def test_an_upper_case_head_signature_is_head_invalid_in_the_page_too(verifier: Any) -> None:
    head = json.loads((VECTORS / "chains" / "valid" / "chain.head.json").read_text())
    assert verifier.evaluate(JS_HEAD, json.dumps(head).encode().hex()) == "ok"
    head["signature"] = head["signature"].upper()
    assert verifier.evaluate(JS_HEAD, json.dumps(head).encode().hex()) == "HeadInvalid"


NAG_MUNDARI = "".join(chr(0x1E4F0 + int(d)) for d in "2026")  # digits since Unicode 15
FULLWIDTH = "".join(chr(0xFF10 + int(d)) for d in "2026")


@pytest.mark.parametrize(
    "year", [FULLWIDTH, NAG_MUNDARI, "٢٠٢٦"], ids=["fullwidth", "nag-mundari", "arabic-indic"]
)
def test_captured_at_takes_ascii_digits_only_on_both_sides(verifier: Any, year: str) -> None:
    from heso.receipt import verify_receipt_bytes

    key = SigningKey.generate()
    content = _content(key, captured_at=f"{year}-01-02T03:04:05Z")
    data = json.dumps(mint(content, key), ensure_ascii=False).encode()
    py = verify_receipt_bytes(data)
    js = verifier.evaluate(
        "async (hex) => (await HesoVerify.verifyReceiptBytes(HesoVerify.fromHex(hex))).toJSON()",
        data.hex(),
    )
    assert (py.code, js["verdict"]) == ("MalformedReceipt", "MalformedReceipt"), (str(py), js)
    assert js["summary"] == str(py)


def test_the_vendored_toml_parser_is_smol_toml_byte_for_byte() -> None:
    """The page's TOML parser is smol-toml's published file, unchanged (licence header kept),
    in exactly the wrapper tools/vendor_smol_toml.py writes, so re-vendoring reproduces it."""
    import importlib.util

    import heso.web
    from heso.web import static_text, verifier_html

    tool_path = Path(__file__).resolve().parents[4] / "tools" / "vendor_smol_toml.py"
    spec = importlib.util.spec_from_file_location("vendor_smol_toml", tool_path)
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    vendored = (Path(heso.web.__file__).parent / "static" / "smol-toml.js").read_bytes()
    upstream = tool.unwrap(vendored)
    assert hashlib.sha256(upstream).hexdigest() == tool.SHA256
    assert tool.wrap(upstream) == vendored
    assert b"SPDX-License-Identifier: BSD-3-Clause" in upstream[:200]
    assert b"Redistributions of source code must retain the above copyright notice" in upstream
    assert static_text("smol-toml.js") in verifier_html()


# --------------------------------------------------------------------------- the harness

OP = next(c for c in MANIFEST["receipts"] if c.get("trusted_operators"))["trusted_operators"][0]
CAROL = SigningKey.from_private_bytes(bytes([3]) * 32).public_key().to_str()
BASE = f"""\
[heso]
operator_keys = ["{OP}"]

[approvers.oncall]
members = {{ alice = "{ALICE}" }}

[approvers.treasury]
members = {{ alice = "{ALICE}", bob = "{BOB}" }}
threshold = 2
"""
SUBTABLES = f"""\
[approvers.oncall.members]
alice = "{ALICE}"
bob = "{BOB}"   # bob covers nights

[approvers.treasury]
threshold = 2
escalate_to = "oncall"

[approvers.treasury.members]
alice = "{ALICE}"
bob = "{BOB}"
"""


def _oncall(members: str, extra: str = "") -> str:
    return f"[approvers.oncall]\nmembers = {{ {members} }}\n{extra}"


def _variants() -> list[str]:
    """Hand-written heso.toml texts: every way of writing (or mis-writing) trust inputs."""
    a, b = ALICE, BOB
    alice, bob = f'alice = "{a}"', f'bob = "{b}"'

    def policy(line: str) -> str:
        """A line in an unrelated table, then the approvers."""
        return f"[policy]\n{line}\n" + _oncall(alice)

    out = [BASE, SUBTABLES, "", "# nothing\n", '[policy]\ndefault = "allow"\n']
    thresholds = ["+2", "0x2", "0o2", "0b10", "2.0", "1_0", '"2"', "true", "2e0", "-1", "0"]
    thresholds += ["3", "+1", "9" * 23, "1979-05-27", "inf", "nan", "02", "[2]", "{ n = 2 }"]
    out += [BASE.replace("threshold = 2", f"threshold = {t}") for t in thresholds]
    out += [
        # Comments, quoting, dotted keys, inline tables, multi-line arrays.
        f"[approvers.oncall.members]\n#{alice}\n{bob}\n",
        f"[approvers.oncall.members]\n   # {alice}\n{bob}\n",
        _oncall(bob) + f"# {alice}\n",
        f"[approvers.oncall]\n# members = {{ {alice} }}\nmembers = {{ {bob} }}\n",
        _oncall(f"\"alice\" = \"{a}\", 'bob' = '{b}'"),
        _oncall(f'alice = """{a}"""').replace("oncall", '"oncall"'),
        _oncall(f"alice = '''{a}'''").replace("[approvers.oncall]", "[ approvers . oncall ]"),
        f"approvers.oncall.members.{alice}\n",
        f"[approvers]\noncall.members = {{ {alice} }}\ntreasury.members.{bob}\n",
        f"[approvers.oncall]\nmembers.{alice}\nmembers.{bob}\nthreshold = 2\n",
        f"approvers = {{ oncall = {{ members = {{ {alice} }}, threshold = 1 }} }}\n",
        f'[heso]\noperator_keys = [\n  "{OP}",\n  # a comment\n  "{CAROL}",\n]\n',
        f'[heso]\noperator_keys = [ "{OP}", ]\n',
        f'[heso]\noperator_keys = "{OP}"\n',
        "[heso]\noperator_keys = []\n",
        '[heso]\noperator_keys = ["ed25519:nope"]\n',
        f'[heso]\noperator_keys = ["{OP.upper()}"]\n',
        f'[heso]\noperator_keys = ["{OP}", 1]\n',
        f'[heso]\noperator_keys = ["{OP}", "{OP}"]\n',
        "heso = 1\n" + _oncall(alice),
        f'heso.operator_keys = ["{OP}"]\n',
        '[heso]\nworkflow = "x"\n',
        # Duplicates: keys, tables, one key under two names, one name with two keys.
        f'[approvers.oncall.members]\n{alice}\nalice = "{b}"\n',
        _oncall(alice) + "[approvers.oncall]\nthreshold = 1\n",
        _oncall(f'{alice}, bob = "{a}"'),
        _oncall(alice).replace("oncall", "x") + _oncall(f'alice = "{b}"').replace("oncall", "y"),
        _oncall(alice).replace("oncall", "x") + _oncall(f'eve = "{a}"').replace("oncall", "y"),
        # Members, names and keys that are not what a registry needs.
        "[approvers.oncall]\nmembers = {}\n",
        "[approvers.oncall]\nmembers = []\n",
        '[approvers.oncall]\nmembers = "alice"\n',
        "[approvers.oncall]\nthreshold = 1\n",
        _oncall(alice, "threshhold = 1\n"),
        _oncall(alice).replace("oncall", '"on call"'),
        _oncall(alice).replace("oncall", '"__proto__"'),
        _oncall(f'toString = "{a}", constructor = "{b}"').replace("oncall", "constructor"),
        _oncall(f'"__proto__" = "{a}"'),
        _oncall(f'{"n" * 64} = "{a}"').replace("oncall", "g" * 64),
        _oncall(alice).replace("oncall", "g" * 65),
        _oncall(f'"al ice" = "{a}"'),
        _oncall(alice, 'escalate_to = "oncall"\n'),
        _oncall(alice, 'escalate_to = "nobody"\n'),
        _oncall(alice, "escalate_to = 1\n"),
        "approvers = 1\n",
        f"[[approvers]]\noncall = {{ members = {{ {alice} }} }}\n",
        _oncall("alice = 1"),
        _oncall(f'alice = "{a.upper()}"'),
        _oncall(f'alice = "{a} "'),
        _oncall(f'alice = "\\u0065d25519:{a[8:]}"'),
        _oncall(f'alice = "ed25519:\\u0041{a[9:]}"'),
        _oncall(f'alice = """\\\n   {a}"""'),
        _oncall(f'alice = "ed25519:\n{a[8:]}"'),
        # TOML 1.1 only: tomllib (TOML 1.0) refuses these.
        f"[approvers.oncall]\nmembers = {{\n  {alice},\n}}\n",
        _oncall(f"{alice},"),
        f"[approvers.oncall]\nmembers = {{ {alice} # a\n}}\n",
        _oncall(alice, 'note = "\\e"\n'),
        _oncall(f'alice = "\\x65d25519:{a[8:]}"'),
        policy("at = 07:32"),
        policy("at = 1979-05-27T07:32Z"),
        # ...and TOML 1.0 that looks like it.
        policy("at = 1979-05-27 07:32:00+05:30"),
        policy("x = { a = [\n1,\n2, # c\n] }"),
        policy("x = 'C:\\e\\x41'"),
        policy('x = """a}\n,}"""'),
        _oncall(alice).replace("[approvers.oncall]", '["approvers"."x]y"]'),
        # Tables defined twice, or by dotted keys then by a header.
        f"[approvers]\noncall.members.{alice}\n[approvers.oncall]\nthreshold = 1\n",
        _oncall(alice) + f"[approvers.oncall.members]\n{bob}\n",
        f"[approvers.oncall.members]\n{alice}\n[approvers.oncall]\nthreshold = 1\n",
        # Whitespace, line ends, control characters, nesting.
        BASE.replace("\n", "\r\n"),
        "\ufeff" + BASE,
        BASE.replace(" = ", "\t=\t"),
        BASE + "# \x01 control\n",
        BASE + "# \x7f delete\n",
        BASE + "# ünïcödé ✓\n",
        BASE.replace("\n", "\r"),
        policy("x = " + "[" * 40 + "]" * 40),
        policy("x = " + "[" * 70 + "]" * 70),
        policy("x = " + "[" * 2000 + "]" * 2000),
        policy("x = " + "{a=" * 40 + "1" + "}" * 40),
        policy("x = " + "{a=" * 400 + "1" + "}" * 400),
        "[" + ".".join(["t"] * 80) + "]\n" + BASE,
        "[" + ".".join(["t"] * 50) + "]\n" + BASE,
    ]
    return out


_ALPHABET = [
    "#",
    '"',
    "'",
    "=",
    ",",
    "{",
    "}",
    "[",
    "]",
    "\n",
    "\r\n",
    " ",
    "\t",
    "+",
    "_",
    ".",
    "0",
    "1",
    "2",
    "x",
    "\\",
    "e",
    "\x01",
    "é",
    '"""',
    "'''",
    "a = 1\n",
    "[approvers.x]\n",
]


def _mutants(rnd: random.Random, texts: list[str], count: int) -> list[str]:
    """Random edits of ``texts``: characters TOML cares about inserted or deleted, lines
    duplicated, dropped, swapped, commented out or uncommented."""
    out = []
    for _ in range(count):
        text = rnd.choice(texts)
        for _ in range(rnd.randint(1, 3)):
            lines = text.split("\n")
            k = rnd.random()
            if k < 0.35 and text:
                j = rnd.randrange(len(text))
                text = text[:j] + rnd.choice(_ALPHABET) + text[j:]
            elif k < 0.5 and text:
                j = rnd.randrange(len(text))
                text = text[:j] + text[j + rnd.randint(1, 4) :]
            elif k < 0.6:
                j = rnd.randrange(len(lines))
                lines.insert(j, lines[j])
                text = "\n".join(lines)
            elif k < 0.7:
                del lines[rnd.randrange(len(lines))]
                text = "\n".join(lines)
            elif k < 0.8 and len(lines) > 1:
                i, j = rnd.sample(range(len(lines)), 2)
                lines[i], lines[j] = lines[j], lines[i]
                text = "\n".join(lines)
            elif k < 0.9:
                j = rnd.randrange(len(lines))
                lines[j] = "#" + lines[j]
                text = "\n".join(lines)
            else:
                text = text.replace("#", "", 1)
        out.append(text)
    return out


def corpus() -> list[str]:
    hand = _variants()
    return hand + _mutants(random.Random(20261015), hand[:10] + hand[25:70], 500)


def py_trust(text: str) -> Any:
    """What ``heso verify`` makes of ``text`` as heso.toml: its trust inputs, or ``None``
    when it refuses the file."""
    from heso.errors import HesoConfigError
    from heso.toml_source import TomlSource
    from heso.trust import load_trust

    try:
        return load_trust(TomlSource(text))
    except HesoConfigError:
        return None


JS_TRUST = """async ({texts, receipts}) => {
  const H = globalThis.HesoVerify, out = [];
  for (const text of texts) {
    let trust;
    try {
      trust = H.trustFromToml(text);
    } catch (exc) {
      if (!(exc instanceof H.TrustError)) throw exc;
      out.push(null);
      continue;
    }
    const opts = H.trustOptions(trust), verdicts = [];
    for (const r of receipts) {
      verdicts.push((await H.verifyReceiptBytes(H.fromHex(r), opts)).toJSON());
    }
    out.push({trust, verdicts});
  }
  return out;
}"""
COMPARED = ("verdict", "trust_level", "entry", "action_hash")


def _same(py: dict[str, Any], js: dict[str, Any]) -> bool:
    """The same verdict, level, entry, hash and (but where each JSON parser words where it
    stopped in its own way) the same summary line."""
    return all(py.get(k) == js.get(k) for k in COMPARED) and (
        py["verdict"] == "MalformedJson" or py["summary"] == js["summary"]
    )


TRUST_VECTORS = [
    (VECTORS / c["file"]).read_bytes()
    for c in MANIFEST["receipts"]
    if "approver_keys" in c or "trusted_operators" in c
]


def test_every_heso_toml_gives_the_same_trust_and_verdicts_in_the_page(verifier: Any) -> None:
    """Each text of the corpus (hand-written cases and ~500 random edits of them) is read by
    ``heso verify``'s loader and by the page: both refuse it, or both read the same pinned keys
    and approvers and give every trust-sensitive vector the same verdict under them."""
    texts = corpus()
    results = []
    for start in range(0, len(texts), 100):
        chunk = texts[start : start + 100]
        results += verifier.evaluate(
            JS_TRUST, {"texts": chunk, "receipts": [r.hex() for r in TRUST_VECTORS]}
        )
    differ, outcomes = [], set()
    for text, js in zip(texts, results, strict=True):
        py = py_trust(text)
        if py is None or js is None:
            outcomes.add("refused" if py is None else "read")
            if (py is None) != (js is None):
                differ.append((text, "python refuses" if py is None else "the page refuses"))
            continue
        outcomes.add("read")
        if py.to_dict() != js["trust"]:
            differ.append((text, py.to_dict(), js["trust"]))
            continue
        for data, js_verdict in zip(TRUST_VECTORS, js["verdicts"], strict=True):
            py_verdict = py.verify_receipt_bytes(data).to_dict()
            if not _same(py_verdict, js_verdict):
                differ.append((text, py_verdict["summary"], js_verdict["summary"]))
    assert not differ, differ[:3]
    assert outcomes == {"refused", "read"} and len(texts) > 600


# ------------------------------------------------------- L1 receipts and chains under heso.toml

OPERATOR = SigningKey.from_private_bytes(bytes([7]) * 32)
SIGNERS = {
    n: SigningKey.from_private_bytes(bytes([i]) * 32)
    for i, n in ((11, "alice"), (12, "bob"), (13, "carol"))
}
PUB = {n: k.public_key().to_str() for n, k in SIGNERS.items()}
REGISTRY = f"""\
[approvers.oncall]
members = {{ alice = "{PUB["alice"]}" }}

[approvers.treasury]
members = {{ alice = "{PUB["alice"]}", bob = "{PUB["bob"]}" }}
threshold = 2

[approvers.night]
members = {{ carol = "{PUB["carol"]}" }}
escalate_to = "oncall"
"""
PINNED = f'[heso]\noperator_keys = ["{OPERATOR.public_key()}"]\n\n'
TRUST_TEXTS = [
    PINNED + REGISTRY,
    REGISTRY,
    f'[heso]\noperator_keys = ["{CAROL}"]\n\n' + REGISTRY,
    PINNED + REGISTRY.split("[approvers.treasury]")[0],
]


def _l1(signers: list[tuple[str, str]], group: str, threshold: int, n: int) -> dict[str, Any]:
    """An L1 receipt minted by OPERATOR; ``(label, signer)`` pairs co-sign it."""
    from heso.receipt import approval_message, co_sign

    content = _content(OPERATOR, n=n)
    base = mint(content, OPERATOR)
    msg = approval_message(base["content"]["action_hash"], group=group, threshold=threshold)
    legs = [(label, SIGNERS[who].public_key(), SIGNERS[who].sign(msg)) for label, who in signers]
    return co_sign(base, legs, group=group, threshold=threshold) if legs else dict(base)


def _receipts() -> list[dict[str, Any]]:
    return [
        _l1([], "oncall", 1, 0),
        _l1([("alice", "alice")], "oncall", 1, 1),
        _l1([("alice", "alice"), ("bob", "bob")], "treasury", 2, 2),
        _l1([("alice", "alice")], "treasury", 1, 3),
        _l1([("bob", "alice")], "oncall", 1, 4),
        _l1([("carol", "carol")], "oncall", 1, 5),
        _l1([("carol", "carol")], "night", 1, 6),
        _l1([("alice", "alice")], "payroll", 1, 7),
        _l1([("alice", "alice"), ("carol", "bob")], "treasury", 2, 8),
    ]


def _relabel(rnd: random.Random, receipt: dict[str, Any]) -> bytes:
    r = json.loads(json.dumps(receipt))
    sig = rnd.choice(r["signatures"])
    choice = rnd.random()
    if choice < 0.5:
        sig["key_id"] = rnd.choice(
            [
                "approver:alice",
                "approver:bob",
                "approver:carol",
                "approver:ceo",
                "approver:",
                "operator",
                "approver:ALICE",
            ]
        )
    elif choice < 0.75 and "multi_approval" in r:
        r["multi_approval"] = rnd.choice(
            [
                {"group": "oncall", "threshold": 1},
                {"group": "treasury", "threshold": 2},
                {"group": "night", "threshold": 1},
                {"group": "treasury", "threshold": 1},
            ]
        )
    else:
        sig["public_key"] = rnd.choice(list(PUB.values()))
    return json.dumps(r).encode()


JS_UNDER = """async (cases) => {
  const H = globalThis.HesoVerify, out = [];
  for (const c of cases) {
    const opts = H.trustOptions(H.trustFromToml(c.toml));
    if (c.receipt !== undefined) {
      out.push((await H.verifyReceiptBytes(H.fromHex(c.receipt), opts)).toJSON());
    } else {
      const files = {chain: H.fromHex(c.chain), head: c.head ? H.fromHex(c.head) : null};
      out.push((await H.verifyChain(files, opts)).toJSON());
    }
  }
  return out;
}"""


def test_l1_receipts_and_chains_get_the_same_verdicts_under_a_heso_toml(
    verifier: Any, tmp_path: Path
) -> None:
    """Genuine, relabelled, regrouped and byte-mutated L1 receipts, alone and in operator-signed
    chains, verified under pinned and unpinned heso.toml files by both verifiers."""
    from heso.ledger import FileLedger
    from heso.ledger import format as fmt

    from .test_web_verifier import _mutate_receipt

    rnd = random.Random(1502)
    receipts = _receipts()
    raw = [json.dumps(r).encode() for r in receipts]
    mutated = [_relabel(rnd, rnd.choice(receipts[1:])) for _ in range(150)]
    mutated += [_mutate_receipt(rnd, rnd.choice(raw)) for _ in range(150)]
    cases: list[dict[str, Any]] = [
        {"toml": text, "receipt": data.hex()} for text in TRUST_TEXTS for data in raw
    ]
    cases += [{"toml": rnd.choice(TRUST_TEXTS), "receipt": data.hex()} for data in mutated]
    chains: list[Path] = []
    for i, receipt in enumerate(receipts):
        d = tmp_path / f"chain{i}"
        writer = FileLedger(d, key=OPERATOR)
        for r in (receipts[0], receipts[1], receipt, receipts[2]):
            writer.append(json.loads(json.dumps(r)))
        writer.close()
        chains.append(d)
    for d in chains:
        head = (d / fmt.HEAD_FILE).read_bytes().hex()
        chain = (d / fmt.CHAIN_FILE).read_bytes().hex()
        cases += [
            {"toml": text, "chain": chain, "head": head, "dir": str(d)} for text in TRUST_TEXTS
        ]
    results = verifier.evaluate(
        JS_UNDER, [{k: v for k, v in c.items() if k != "dir"} for c in cases]
    )
    differ, codes = [], set()
    for case, js in zip(cases, results, strict=True):
        trust = py_trust(case["toml"])
        if "receipt" in case:
            py = trust.verify_receipt_bytes(bytes.fromhex(case["receipt"])).to_dict()
        else:
            py = trust.verify_chain(FileLedger(case["dir"])).to_dict()
        codes.add(py["verdict"])
        if not _same(py, js):
            differ.append((case["toml"][:40], py["summary"], js["summary"]))
    assert not differ, differ[:3]
    assert {
        "Valid",
        "WrongApprover",
        "UnknownApprover",
        "QuorumNotMet",
        "UntrustedKey",
        "HeadInvalid",
        "ApprovalMismatch",
        "MalformedReceipt",
    } <= codes, codes
