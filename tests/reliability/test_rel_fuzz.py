"""Hostile input: the receipt and chain verifiers, ``heso.toml`` loading and canonicalization.

* Receipts and chains built from malformed JSON, wrong types, huge values, deep nesting and
  bytes that are not UTF-8 always get a verdict: never an exception, never ``Valid``, and a
  line longer than the limit is refused with bounded memory.
* ``heso.toml`` text, random or mutated from a real policy, either loads or raises
  ``HesoConfigError``, and a policy that loads never allows what its text does not allow.
* Field values built to break canonicalization (lone surrogates, NaN and infinities, -0.0,
  huge integers, keys that differ only by Unicode normalization) give the documented result:
  the gate refuses (the body does not run) or signs a receipt that verifies.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import tracemalloc
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heso import verdict as v
from heso.action import Action, Verb
from heso.canonical import canonical_bytes, loads_strict, to_json_value
from heso.errors import CanonicalizationError, HesoConfigError
from heso.keys import SigningKey
from heso.ledger import FileLedger, verify_chain
from heso.ledger import format as fmt
from heso.receipt import build_content, mint, verify_receipt, verify_receipt_bytes

CASES = 3000
KEY = SigningKey.generate()


def _settings(examples: int, soak: bool) -> Any:
    return settings(
        max_examples=examples * (10 if soak else 1),
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.function_scoped_fixture,
        ],
    )


def _receipt(fields: dict[str, Any]) -> dict[str, Any]:
    content = build_content(
        captured_at="2026-01-02T03:04:05Z",
        agent_identity=KEY.public_key().to_str(),
        action={
            "verb": "tool_call",
            "tool_name": "t",
            "workflow": "default",
            "account": "default",
            "fields": fields,
        },
        policy={
            "rule_id": "r",
            "rule_display": "r",
            "matched_conditions": [],
            "decision_path": "p",
            "decision": "allow",
        },
    )
    return dict(mint(content, KEY))


VALID = _receipt({"to": "a@example.com", "amount": 12})
VALID_BYTES = canonical_bytes(VALID)

# Anything JSON can hold, and then some: numbers beyond doubles, deep nesting, odd keys.
HOSTILE_LEAF = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.sampled_from(["", "\ufeff", "\u2028", "a" * 100_000, "ed25519:" + "0" * 64])
)
HOSTILE = st.recursive(
    HOSTILE_LEAF,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for k, item in node.items():
            out += _paths(item, (*path, k))
    elif isinstance(node, list):
        for k, item in enumerate(node):
            out += _paths(item, (*path, k))
    return out


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _replace(node[path[0]], path[1:], value)
    return copy


def _dumps(value: Any) -> bytes:
    """Lenient JSON text (NaN, Infinity, huge ints and lone surrogates pass through)."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


TEXT_EDITS = st.sampled_from(
    [
        lambda b: b[: len(b) // 2],
        lambda b: b + b"x",
        lambda b: b.replace(b'"', b"'", 1),
        lambda b: b.replace(b"{", b"[", 1),
        lambda b: b.replace(b'"alg"', b'"alg","alg"', 1),
        lambda b: b.replace(b'":', b'":NaN,"x":', 1),
        lambda b: b.replace(b"12", b"1" + b"0" * 400, 1),
        lambda b: b.replace(b"a@example.com", b"\xed\xa0\x80", 1),
        lambda b: b.replace(b"a@example.com", b"\xc0\xaf\xff", 1),
        lambda b: b"\xef\xbb\xbf" + b,
        lambda b: b"[" * 5000 + b + b"]" * 5000,
        lambda b: b.replace(b'"to"', b'"to":{"to":' * 200 + b"1" + b"}" * 200 + b',"t"', 1),
        lambda b: b.replace(b"\\", b"\\u00", 1) + b'"\\ud800"',
    ]
)


def _assert_refused(verdict: Any) -> None:
    assert isinstance(verdict, v.Verdict)
    assert not verdict.ok and verdict.code in v.RECEIPT_CODES, verdict
    assert len(verdict.reason) < 600, verdict.reason[:200]


def test_the_receipt_verifier_gives_a_verdict_for_any_input(figures: Any, soak: bool) -> None:
    count = 0

    @_settings(CASES, soak)
    @given(
        data=st.data(),
        raw=st.binary(max_size=300),
        replacement=HOSTILE,
        edit=TEXT_EDITS,
    )
    def run(data: Any, raw: bytes, replacement: Any, edit: Any) -> None:
        nonlocal count
        # Random bytes.
        _assert_refused(verify_receipt_bytes(raw))
        count += 1
        # A valid receipt with any node replaced by anything.
        path = data.draw(st.sampled_from(_paths(VALID)))
        mutated = _replace(VALID, path, replacement)
        if mutated != VALID:
            _assert_refused(verify_receipt(mutated))
            count += 1
            with contextlib.suppress(ValueError, UnicodeEncodeError, RecursionError):
                text = _dumps(mutated)
                _assert_refused(verify_receipt_bytes(text))
                count += 1
        # A valid receipt's text, edited.
        edited = edit(VALID_BYTES)
        if edited != VALID_BYTES:
            _assert_refused(verify_receipt_bytes(edited))
            count += 1

    run()
    figures.add("fuzz.receipt_verifier_cases", count)


def test_the_chain_verifier_gives_a_verdict_for_any_store(
    tmp_path: Path, figures: Any, soak: bool
) -> None:
    writer = FileLedger(tmp_path, key=KEY)
    for k in range(3):
        writer.append(mint_receipt(k))
    writer.close()
    chain = (tmp_path / fmt.CHAIN_FILE).read_bytes()
    head = (tmp_path / fmt.HEAD_FILE).read_bytes()
    lines = chain.split(b"\n")[:-1]
    count = 0

    @_settings(CASES, soak)
    @given(
        raw=st.binary(max_size=400),
        where=st.integers(0, 3),
        replacement=HOSTILE,
        edit=TEXT_EDITS,
        head_raw=st.one_of(st.none(), st.binary(max_size=200)),
        torn=st.binary(max_size=40),
    )
    def run(
        raw: bytes, where: int, replacement: Any, edit: Any, head_raw: bytes | None, torn: bytes
    ) -> None:
        nonlocal count
        with contextlib.suppress(ValueError, UnicodeEncodeError, RecursionError):
            hostile = [raw, edit(lines[where % 3]), _dumps(replacement)]
            for line in hostile:
                candidate = list(lines)
                candidate.insert(where, line.replace(b"\n", b" "))
                _put(tmp_path, b"".join(x + b"\n" for x in candidate), head)
                verdict = verify_chain(tmp_path)
                assert not verdict.ok and verdict.code in v.CHAIN_CODES, verdict
                count += 1
        # Any bytes as the whole chain, any bytes as the head, any torn-tail record.
        _put(tmp_path, raw, head if head_raw is None else head_raw)
        _overwrite(tmp_path / fmt.TORN_FILE, torn)
        verdict = verify_chain(tmp_path)
        assert not verdict.ok and verdict.code in v.CHAIN_CODES, verdict
        count += 1

    run()
    figures.add("fuzz.chain_verifier_cases", count)


def mint_receipt(k: int) -> Any:
    content = build_content(
        captured_at="2026-01-02T03:04:05Z",
        agent_identity=KEY.public_key().to_str(),
        action={
            "verb": "tool_call",
            "tool_name": "t",
            "workflow": "default",
            "account": "default",
            "fields": {"k": k},
        },
        policy={
            "rule_id": "r",
            "rule_display": "r",
            "matched_conditions": [],
            "decision_path": "p",
            "decision": "allow",
        },
    )
    return mint(content, KEY)


def _put(data_dir: Path, chain: bytes, head: bytes | None) -> None:
    _overwrite(data_dir / fmt.CHAIN_FILE, chain)
    if head is None:
        (data_dir / fmt.HEAD_FILE).unlink(missing_ok=True)
    else:
        _overwrite(data_dir / fmt.HEAD_FILE, head)


def _overwrite(path: Path, data: bytes) -> None:
    """Replace a file's bytes in place (ext4 flushes a file truncated to zero on close)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b"[" * 40_000_000, id="40MB of nesting"),
        pytest.param(b'{"prev":"' + b"a" * 60_000_000 + b'"}', id="60MB string"),
        pytest.param(b"\xff" * 30_000_000, id="30MB not UTF-8"),
    ],
)
def test_a_huge_line_is_refused_in_bounded_memory(tmp_path: Path, line: bytes) -> None:
    writer = FileLedger(tmp_path, key=KEY)
    writer.append(mint_receipt(0))
    writer.close()
    with open(tmp_path / fmt.CHAIN_FILE, "ab") as f:
        f.write(line + b"\n")
    tracemalloc.start()
    try:
        verdict = verify_chain(tmp_path)
        found = FileLedger(tmp_path).find("ab")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert verdict.code == v.MALFORMED_ENTRY and verdict.entry == 1, verdict
    assert "longer than" in verdict.reason
    assert isinstance(found, list)
    assert peak < 2 * fmt.MAX_ENTRY_BYTES + (8 << 20), peak  # one line's worth, not the line


def test_the_cli_never_prints_a_traceback_on_hostile_stores(tmp_path: Path) -> None:
    root = tmp_path / "p"
    data_dir = root / "heso-local-data"
    data_dir.mkdir(parents=True)
    (root / "heso.toml").write_text('[policy]\ndefault = "allow"\n')
    cases = {
        "deep": (b"[" * 200_000 + b"\n", None),
        "utf8": (b'{"prev":"\xed\xa0\x80"}\n', None),
        "head": (b"", b"\xff\xfe" + b"{" * 100_000),
        "dup": (b'{"prev":"a","prev":"b","receipt":{},"seq":0}\n', None),
        "huge-head": (b"", b" " * (fmt.MAX_HEAD_BYTES + 10)),
    }
    for name, (chain, head) in cases.items():
        _put(data_dir, chain, head)
        for extra in ([], ["--json"], ["--sealed"]):
            done = subprocess.run(
                [sys.executable, "-m", "heso", "verify", "--chain", "--project", str(root), *extra],
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "PYTHONIOENCODING": "utf-8"},  # strict, as in most terminals
            )
            assert done.returncode == 1, (name, done.stdout, done.stderr)
            assert "Traceback" not in done.stderr, (name, done.stderr)
            if extra == ["--json"]:
                assert json.loads(done.stdout)["ok"] is False
    receipt = tmp_path / "r.json"
    for data in (b"\xff" * 10, b"[" * 1_000_000, b'{"a":1,"\\udc80":2,"\\udc80":3}'):
        receipt.write_bytes(data)
        for extra in ([], ["--json"]):
            done = subprocess.run(
                [sys.executable, "-m", "heso", "verify", str(receipt), *extra],
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "PYTHONIOENCODING": "utf-8"},  # strict, as in most terminals
                cwd=tmp_path,
            )
            assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
            assert done.stdout.startswith(("MalformedJson", "{")), done.stdout


# -- heso.toml -----------------------------------------------------------------------------------

KEYS_OF = {
    "": ["policy", "rule", "heso", "approvers", "polcy", "rules"],
    "policy": ["default", "default_approvers", "default_sla_minutes", "floors", "defualt"],
    "rule": [
        "id",
        "verb",
        "scope",
        "decision",
        "conditions",
        "any",
        "order",
        "enabled",
        "approvers",
        "sla_minutes",
        "subject",
        "display",
        "decison",
    ],
    "heso": ["operator_keys", "redact", "blocking", "timeout", "durability", "workflow"],
    "condition": ["field", "op", "value", "display", "fiedl"],
}
WORDS = st.sampled_from(
    [
        "allow",
        "block",
        "require_approval",
        "Allow",
        "alow",
        "*",
        "tool_call",
        "payment",
        "send_email",
        "amount",
        "gt",
        "eq",
        "regex",
        "(?i)drop",
        "oncall",
        "ed25519:" + "ab" * 32,
        "",
    ]
)
TOML_SCALAR = (
    WORDS
    | st.integers(-(2**63), 2**63 - 1)
    | st.booleans()
    | st.sampled_from([math.nan, math.inf, -math.inf, 0.5, -0.0, 1e300])
    | st.text(max_size=10)
)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {math.inf: "inf", -math.inf: "-inf"}.get(
            value, "nan" if value != value else repr(value)
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(x) for x in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in value.items()) + " }"
        )
    raise AssertionError(type(value))


@st.composite
def toml_documents(draw: Any) -> str:
    def table(kind: str) -> str:
        keys = draw(st.lists(st.sampled_from(KEYS_OF[kind]), unique=True, max_size=6))
        rows = []
        for key in keys:
            if key in ("conditions", "any"):
                conds = draw(
                    st.lists(
                        st.dictionaries(
                            st.sampled_from(KEYS_OF["condition"]), TOML_SCALAR, max_size=4
                        ),
                        max_size=2,
                    )
                )
                rows.append(f"{key} = {_toml_value(conds)}")
            else:
                value = draw(TOML_SCALAR | st.lists(TOML_SCALAR, max_size=3))
                rows.append(f"{key} = {_toml_value(value)}")
        return "\n".join(rows)

    parts = [f"[policy]\n{table('policy')}"] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 3))):
        parts.append(f"[[rule]]\n{table('rule')}")
    if draw(st.booleans()):
        parts.append(f"[heso]\n{table('heso')}")
    if draw(st.booleans()):
        members = draw(st.dictionaries(st.sampled_from(["alice", "bob"]), TOML_SCALAR, max_size=2))
        parts.append(f"[approvers.oncall]\nmembers = {_toml_value(members)}")
    return "\n\n".join(parts) + "\n"


def _starter() -> str:
    from heso.policy.starter import STARTER_POLICY

    return STARTER_POLICY


@st.composite
def mutated_starter(draw: Any) -> str:
    lines = _starter().splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.integers(0, 5))
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[i])
        elif op == 2 and lines[i]:
            j = draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:j] + draw(st.characters()) + lines[i][j + 1 :]
        elif op == 3:
            lines[i] = lines[i].replace("block", draw(WORDS)).replace("allow", draw(WORDS))
        elif op == 4:
            lines[i] = lines[i].replace('"', "", 1)
        else:
            lines.insert(i, draw(st.text(max_size=30)))
    return "\n".join(lines) + "\n"


PROBES = [
    Action(verb=verb, tool_name=tool, fields=fields)
    for verb in Verb
    for tool, fields in (
        ("send_email", {"to": "a@evil.com"}),
        ("send_email", {"to": "b@example.com"}),
        ("pay", {"amount": 50_000}),
        ("sql_query", {"query": "DROP TABLE users"}),
        ("fetch", {"url": "http://x", "method": "DELETE"}),
        ("anything", {}),
    )
]


def _check_policy_text(text: str) -> str:
    """Load ``text`` as heso.toml: ``HesoConfigError`` or a policy whose every allow is
    written in the text (by the default or by an enabled allow rule)."""
    from heso.approvals.registry import load_registry
    from heso.policy.loader import policy_from_source
    from heso.toml_source import TomlSource
    from heso.trust import pinned_operator_keys

    try:
        source = TomlSource(text)
        policy = policy_from_source(source)
        load_registry(source)
        pinned_operator_keys(source)
    except HesoConfigError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return "refused"
    data = source.data
    raw_rules = data.get("rule", [])
    assert len(policy.rules) == len(raw_rules)  # no rule silently dropped
    for action in PROBES:
        decision = policy.evaluate(action)
        if decision.kind.value != "allow":
            continue
        if decision.rule_id == "heso:default":
            assert data.get("policy", {}).get("default") == "allow", (text, decision)
        else:
            (rule,) = [r for r in raw_rules if r.get("id") == decision.rule_id]
            assert rule["decision"] == "allow" and rule.get("enabled", True), (text, decision)
    return "loaded"


def test_heso_toml_loads_or_fails_loudly_and_never_allows_silently(
    figures: Any, soak: bool
) -> None:
    outcomes = {"loaded": 0, "refused": 0}

    @_settings(CASES, soak)
    @given(
        text=toml_documents() | mutated_starter() | st.text(max_size=200),
        raw=st.binary(max_size=100),
    )
    def run(text: str, raw: bytes) -> None:
        outcomes[_check_policy_text(text)] += 1
        with contextlib.suppress(UnicodeDecodeError):
            outcomes[_check_policy_text(raw.decode("utf-8"))] += 1

    run()
    for text in (
        "a = " + "[" * 5000 + "]" * 5000,
        "a = " + "{b=" * 3000 + "1" + "}" * 3000,
        "[policy]\ndefault = 'allow'\n" * 2,
        "[heso]\noperator_keys = ['ed25519:" + "A" * 64 + "']\n",
        '\ufeff[policy]\ndefault = "block"\n',
    ):
        outcomes[_check_policy_text(text)] += 1
    figures.add("fuzz.heso_toml_cases", sum(outcomes.values()))
    figures.add("fuzz.heso_toml_loaded_and_checked", outcomes["loaded"])
    assert outcomes["loaded"] > 50 and outcomes["refused"] > 50


# -- canonicalization ---------------------------------------------------------------------------

NFC, NFD = unicodedata.normalize("NFC", "é"), unicodedata.normalize("NFD", "é")
HOSTILE_FIELDS = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.sampled_from(["\ud800", "a\udfffb", NFC, NFD, -0.0, 2**53, 2**53 - 1, -(2**53) + 1])
    | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.text(max_size=4) | st.sampled_from([NFC, NFD, "\udc80", "e"]), inner, max_size=3
        )
    ),
    max_leaves=8,
)


def test_hostile_field_values_give_a_defined_result_and_the_body_never_runs_on_refusal(
    tmp_path: Path, clean_heso_env: None, figures: Any, soak: bool
) -> None:
    import heso
    from heso.capture import gate
    from heso_testing.project import make_project

    make_project(tmp_path / "p", '[policy]\ndefault = "allow"\n')
    heso.init(project_root=tmp_path / "p")
    tally = {"signed": 0, "refused": 0}

    @_settings(CASES // 3, soak)
    @given(
        fields=st.dictionaries(
            st.text(max_size=4) | st.sampled_from([NFC, NFD]), HOSTILE_FIELDS, max_size=4
        )
    )
    def run(fields: dict[str, Any]) -> None:
        ran = []
        try:
            outcome = gate("tool_call", "t", fields)
            ran.append(outcome)
        except CanonicalizationError as exc:
            tally["refused"] += 1
            assert ran == []
            assert str(exc).startswith("cannot canonicalize fields")
            assert _why(fields), (fields, exc)  # refused only for a documented reason
            for secret in _big_ints(fields):
                assert str(abs(secret)) not in str(exc)  # never echoes the value
            return
        tally["signed"] += 1
        assert not _why(fields), fields
        receipt = ran[0].receipt
        assert verify_receipt(loads_strict(canonical_bytes(receipt))).ok
        assert receipt["content"]["action"]["fields"] == to_json_value(fields)

    run()
    heso.shutdown()
    assert verify_chain(tmp_path / "p" / "heso-local-data").ok
    figures.add("fuzz.canonicalization_cases", tally["signed"] + tally["refused"])
    assert tally["signed"] > 50 and tally["refused"] > 50


def _walk(node: Any) -> Any:
    yield node
    if isinstance(node, dict):
        for k, x in node.items():
            yield k
            yield from _walk(x)
    elif isinstance(node, list):
        for x in node:
            yield from _walk(x)


def _big_ints(node: Any) -> list[int]:
    return [x for x in _walk(node) if type(x) is int and abs(x) > 2**53 - 1]


def _why(fields: Any) -> str | None:
    """The documented reason a value has no canonical form, if it has one."""
    for x in _walk(fields):
        if isinstance(x, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in x):
            return "lone surrogate"
        if isinstance(x, float) and not math.isfinite(x):
            return "not finite"
        if type(x) is int and abs(x) > 2**53 - 1:
            return "integer beyond 2**53-1"
    return None


def test_canonicalization_edge_values_have_the_documented_form() -> None:
    fields = to_json_value({NFC: 1, NFD: 2, "z": -0.0, "big": 2**53 - 1, "f": 1e21, "g": 5e-324})
    assert fields == {NFC: 1, NFD: 2, "z": 0, "big": 2**53 - 1, "f": 1e21, "g": 5e-324}
    # No Unicode normalization: two members, ordered by UTF-16 code units ("e" < "é").
    assert canonical_bytes(fields) == (
        b'{"big":9007199254740991,"e\xcc\x81":2,"f":1e+21,"g":5e-324,"z":0,"\xc3\xa9":1}'
    )
    for bad in (math.nan, math.inf, -math.inf, 2**53, "\ud800", {"\udc80": 1}):
        with pytest.raises(CanonicalizationError):
            to_json_value({"x": bad})
    with pytest.raises(CanonicalizationError) as caught:
        to_json_value({"card": 12345678901234567890123})
    assert "12345678901234567890123" not in str(caught.value)
    assert loads_strict(b"[-0.0, 1E400]".replace(b", 1E400", b"")) == [0]
    # Parsing refuses what cannot be canonical, and says so without echoing bytes.
    for text in (b'{"a":NaN}', b'{"a":1e400}', b'"\\ud800"', b"\xed\xa0\x80"):
        with pytest.raises(CanonicalizationError):
            loads_strict(text)
