"""Tampering: random mutations of signed stores; ``heso verify --chain`` must catch every one.

Hypothesis builds stores of signed receipts (every verb, redacted fields, L1 approvals) with
the real writer, then applies a batch of mutations to each: flipped bytes, edited or reordered
fields, deleted, duplicated, inserted or swapped lines, truncation, receipts spliced in from
another store or another operator key (raw, or re-linked as an attacker without the key would),
stripped approvals, lowered thresholds, a replaced or deleted head, and the whole store
re-signed under a new key. Each mutated store is verified by the real CLI
(``heso verify --chain --sealed``, operator key pinned by ``[heso] operator_keys``): it must
fail, name the first broken entry and never crash. A mutation that leaves every byte as it
was is a no-op and not counted; an edit of ``chain.head.json`` that parses to the same JSON
document (its whitespace is not signed) is not counted either.

The campaign runs against both stores. On PostgreSQL the stores are written by the real
database writer and each mutation is what a database administrator does to the rows: the
entries' rows rewritten (edited, deleted, reordered, inserted, cut off) and the signed heads
replaced or deleted, with the append-only triggers switched off. The verdict must also be the
one the file store gives for the same lines, except where a line lacks its final newline
(a torn write on files; a database row is never torn, so it fails as the line it is).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from heso import verdict as v
from heso.action import Verb
from heso.canonical import canonical_bytes, loads_strict, to_json_value
from heso.keys import SigningKey
from heso.ledger import FileLedger, verify_chain
from heso.ledger import format as fmt
from heso.ledger import verify as ledger_verify
from heso.ledger.postgres_store import PostgresLedger
from heso.receipt import approval_message, build_content, co_sign, mint
from heso.redaction import redact

TARGET_MUTATIONS = {"file": 10_000, "postgresql": 750}
EXAMPLES = {"file": 300, "postgresql": 24}
MUTATIONS_PER_STORE = 36

JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@dataclass(frozen=True)
class EntrySpec:
    """One action of a generated store."""

    verb: str
    tool: str
    fields: dict[str, Any]
    redact: dict[str, str]
    decision: str
    approvers: int  # 0: L0; 1 or 2: co-signed by that many approvers


@st.composite
def entry_specs(draw: Any) -> EntrySpec:
    fields = draw(st.dictionaries(st.sampled_from("abcdefgh"), JSON_VALUE, max_size=4))
    fields["secret"] = draw(st.text(min_size=1, max_size=16))
    names = sorted(fields)
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=2))
    strategies = draw(st.lists(st.sampled_from(["commit", "destroy"]), min_size=2, max_size=2))
    return EntrySpec(
        verb=draw(st.sampled_from([v.value for v in Verb])),
        tool=draw(st.sampled_from(["send_email", "refund", "sql_query", "fetch", "rm"])),
        fields=fields,
        redact=dict(zip(chosen, strategies[: len(chosen)], strict=True)),
        decision=draw(st.sampled_from(["allow", "block", "require_approval"])),
        approvers=draw(st.sampled_from([0, 0, 1, 2])),
    )


KINDS = (
    "flip_byte",
    "flip_head_byte",
    "edit_field",
    "reorder_fields",
    "delete_line",
    "duplicate_line",
    "insert_line",
    "swap_lines",
    "truncate_tail",
    "splice_relinked",
    "replace_receipt",
    "strip_approvals",
    "lower_threshold",
    "delete_head",
    "foreign_head",
    "resign_store",
    "append_garbage",
)
MUTATION = st.tuples(st.sampled_from(KINDS), *(st.integers(0, 2**31 - 1) for _ in range(3)))


@dataclass
class Keys:
    operator: SigningKey
    foreign: SigningKey
    resign: SigningKey
    alice: SigningKey
    bob: SigningKey


@dataclass
class Pool:
    """Material an attacker may hold: lines and receipts of other stores, a head of another
    store signed by the same operator, and receipts of another operator key."""

    same_key_lines: list[bytes]
    same_key_receipts: list[dict[str, Any]]
    foreign_lines: list[bytes]
    foreign_receipts: list[dict[str, Any]]
    other_head: bytes


@dataclass
class Store:
    lines: list[bytes]
    head: bytes
    chain: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.chain = b"".join(line + b"\n" for line in self.lines)

    @property
    def entries(self) -> list[dict[str, Any]]:
        return [loads_strict(line) for line in self.lines]


def _receipt(key: SigningKey, keys: Keys, spec: EntrySpec, i: int) -> dict[str, Any]:
    values = to_json_value(spec.fields)
    shown, _ = redact(values, spec.redact)
    policy = {
        "rule_id": f"rule-{spec.decision}",
        "rule_display": f"decides {spec.decision}",
        "matched_conditions": [],
        "decision_path": f"lane:other > rule:rule-{spec.decision}={spec.decision}",
        "decision": spec.decision,
    }
    action = {
        "verb": spec.verb,
        "tool_name": spec.tool,
        "workflow": "default",
        "account": "default",
        "fields": shown,
    }
    content = build_content(
        captured_at=f"2026-01-02T03:04:{i % 60:02d}Z",
        agent_identity=key.public_key().to_str(),
        action=action,
        policy=policy,
    )
    receipt = mint(content, key)
    if spec.approvers:
        h = receipt["content"]["action_hash"]
        signers = [("alice", keys.alice), ("bob", keys.bob)][: spec.approvers]
        message = approval_message(h, group="finance", threshold=spec.approvers)
        receipt = co_sign(
            receipt,
            [(name, k.public_key(), k.sign(message)) for name, k in signers],
            group="finance",
            threshold=spec.approvers,
        )
    return receipt


def _write_store(data_dir: Path, key: SigningKey, receipts: list[dict[str, Any]]) -> Store:
    """Append with the real writer and close (which seals); return the bytes it wrote."""
    shutil.rmtree(data_dir, ignore_errors=True)  # a new log: its tree and checkpoints too
    data_dir.mkdir()
    writer = FileLedger(data_dir, key=key)
    for receipt in receipts:
        writer.append(receipt)
    writer.close()
    lines = (data_dir / fmt.CHAIN_FILE).read_bytes().split(b"\n")[:-1]
    return Store(lines, (data_dir / fmt.HEAD_FILE).read_bytes())


class FileTarget:
    """The file store: mutations are written over ``receipts.jsonl`` and ``chain.head.json``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(exist_ok=True)

    def write(self, key: SigningKey, receipts: list[dict[str, Any]]) -> Store:
        return _write_store(self.data_dir, key, receipts)

    def put(self, chain: bytes, head: bytes | None) -> None:
        _put(self.data_dir / fmt.CHAIN_FILE, chain)
        if head is None:
            (self.data_dir / fmt.HEAD_FILE).unlink(missing_ok=True)
        else:
            _put(self.data_dir / fmt.HEAD_FILE, head)


class DatabaseTarget:
    """The PostgreSQL store: written by the real writer; mutations are a DBA's rewrite of the
    rows (the append-only triggers switched off for the session)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dba = psycopg.connect(url)
        self.dba.execute("SET session_replication_role = replica")
        self.dba.execute("SET synchronous_commit = off")  # a rewrite need not survive a crash
        self.dba.commit()

    def write(self, key: SigningKey, receipts: list[dict[str, Any]]) -> Store:
        """A new log: the tables emptied, then the receipts appended and sealed."""
        for table in ("heso_entries", "heso_heads", "heso_tree", "heso_checkpoints"):
            self.dba.execute(f"DELETE FROM {table}")
        self.dba.execute("UPDATE heso_tip SET length = 0, prev = %s, size = 0", (fmt.GENESIS,))
        self.dba.commit()
        writer = PostgresLedger(self.url, key=key)
        for receipt in receipts:
            writer.append(receipt)
        writer.close()
        reader = PostgresLedger(self.url)
        try:
            lines = [line for _, line in reader.entries()]
            head = reader.head_document()
        finally:
            reader.db.close()
        assert head is not None
        return Store(lines, head)

    def put(self, chain: bytes, head: bytes | None) -> None:
        """The rows a DBA leaves: one per line of ``chain`` (a last line without its newline
        too), and ``head`` as the only signed head (none when it is ``None``)."""
        lines = chain.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        self.dba.execute("DELETE FROM heso_entries")
        self.dba.execute("DELETE FROM heso_heads")
        with self.dba.cursor() as cur:
            with cur.copy(
                "COPY heso_entries (seq, action_hash, byte_offset, line) FROM STDIN"
            ) as copy:
                offset = 0
                for seq, line in enumerate(lines):
                    copy.write_row((seq, _lookup(line), offset, line))
                    offset += len(line) + 1
            if head is not None:
                parsed = fmt.parse_head(head)
                length = parsed.length if isinstance(parsed, fmt.Head) else len(lines)
                cur.execute("INSERT INTO heso_heads (length, doc) VALUES (%s, %s)", (length, head))
        self.dba.commit()

    def close(self) -> None:
        self.dba.close()


def _lookup(line: bytes) -> str:
    """The lookup column a DBA would keep beside a line (never read by verification)."""
    try:
        return fmt.action_hash_of_line(line)
    except (ValueError, KeyError, TypeError):
        return ""


def _head_bytes(key: SigningKey, lines: list[bytes]) -> bytes:
    size = sum(len(line) + 1 for line in lines)
    doc = fmt.sign_head(key, len(lines), fmt.entry_hash(lines[-1]), size)
    return json.dumps(doc, sort_keys=True).encode() + b"\n"


def _relink(lines: list[bytes], start: int) -> list[bytes]:
    """Recompute seq and prev from ``start`` on, as someone without the key can."""
    out = list(lines[:start])
    for line in lines[start:]:
        entry = loads_strict(line)
        entry["seq"] = len(out)
        entry["prev"] = fmt.entry_hash(out[-1]) if out else fmt.GENESIS
        out.append(canonical_bytes(entry))
    return out


def _leaf_paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for k, item in node.items():
            yield from _leaf_paths(item, (*path, k))
    elif isinstance(node, list):
        for k, item in enumerate(node):
            yield from _leaf_paths(item, (*path, k))
    else:
        yield path


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if value is None:
        return 0
    if isinstance(value, int):
        return value + 1 if value < 2**53 - 1 else value - 1
    if isinstance(value, float):
        return value / 2 + 1.5
    if isinstance(value, str):
        if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
            return value[:-1] + ("0" if value[-1] != "0" else "1")
        return value + "x"
    raise AssertionError(type(value))


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        node = node[k]
    return node


def _reversed_json(node: Any, depth: int) -> str:
    """JSON with the members of objects at ``depth`` in reverse order (same meaning)."""
    if isinstance(node, dict):
        items = sorted(node.items(), reverse=depth == 0)
        inner = ",".join(
            json.dumps(k, ensure_ascii=False) + ":" + _reversed_json(x, depth - 1) for k, x in items
        )
        return "{" + inner + "}"
    if isinstance(node, list):
        return "[" + ",".join(_reversed_json(x, depth - 1) for x in node) + "]"
    return canonical_bytes([node]).decode()[1:-1]


def mutate(
    kind: str, a: int, b: int, c: int, store: Store, pool: Pool, keys: Keys
) -> tuple[bytes, bytes | None]:
    """The mutated ``(receipts.jsonl, chain.head.json or None when deleted)``."""
    lines, n, head = list(store.lines), len(store.lines), store.head
    i, j = a % n, b % n
    if kind == "flip_byte":
        data = bytearray(store.chain)
        data[a % len(data)] ^= 1 + b % 255
        return bytes(data), head
    if kind == "flip_head_byte":
        data = bytearray(head)
        data[a % len(data)] ^= 1 + b % 255
        return store.chain, bytes(data)
    if kind == "edit_field":
        entry = loads_strict(lines[i])
        paths = list(_leaf_paths(entry))
        path = paths[b % len(paths)]
        _set(entry, path, _changed(_get(entry, path)))
        lines[i] = canonical_bytes(entry)
    elif kind == "reorder_fields":
        lines[i] = _reversed_json(loads_strict(lines[i]), b % 3).encode()
    elif kind == "delete_line":
        del lines[i]
    elif kind == "duplicate_line":
        lines.insert(j + 1 if c % 2 else i, lines[i])
    elif kind == "insert_line":
        source = (store.lines, pool.same_key_lines, pool.foreign_lines)[c % 3]
        lines.insert(b % (n + 1), source[a % len(source)])
    elif kind == "swap_lines":
        if i == j:
            j = (i + 1) % n
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "truncate_tail":
        return store.chain[: a % len(store.chain)], head
    elif kind in ("splice_relinked", "replace_receipt"):
        receipts = pool.same_key_receipts if c % 2 else pool.foreign_receipts
        receipt = receipts[a % len(receipts)]
        p = b % (n + 1) if kind == "splice_relinked" else i
        entry = {"prev": fmt.GENESIS, "receipt": receipt, "seq": p}
        if kind == "replace_receipt":
            entry = loads_strict(lines[p]) | {"receipt": receipt}
            lines[p] = canonical_bytes(entry)
        else:
            lines.insert(p, canonical_bytes(entry))
            lines = _relink(lines, p)
    elif kind in ("strip_approvals", "lower_threshold"):
        l1 = [k for k, e in enumerate(store.entries) if "multi_approval" in e["receipt"]]
        if not l1:
            return store.chain, head  # no L1 entry in this store: a no-op
        k = l1[a % len(l1)]
        entry = loads_strict(lines[k])
        receipt = entry["receipt"]
        if kind == "strip_approvals":
            del receipt["multi_approval"]
            receipt["signatures"] = receipt["signatures"][:1]
        elif b % 2:
            receipt["multi_approval"]["threshold"] = max(
                1, receipt["multi_approval"]["threshold"] - 1
            )
            receipt["signatures"] = receipt["signatures"][:-1] or receipt["signatures"]
            if len(receipt["signatures"]) == 1:
                receipt["multi_approval"]["group"] = "finance-2"
        else:
            receipt["multi_approval"]["group"] = "oncall"
        lines[k] = canonical_bytes(entry)
    elif kind == "delete_head":
        return store.chain, None
    elif kind == "foreign_head":
        return store.chain, pool.other_head
    elif kind == "resign_store":
        key = keys.resign
        resigned = []
        for e in store.entries:
            content = {x: y for x, y in e["receipt"]["content"].items() if x != "action_hash"}
            content["agent_identity"] = key.public_key().to_str()
            resigned.append(mint(content, key))
        lines = _relink(
            [canonical_bytes({"prev": "", "receipt": r, "seq": 0}) for r in resigned], 0
        )
        return b"".join(x + b"\n" for x in lines), _head_bytes(key, lines)
    elif kind == "append_garbage":
        rng = random.Random(a)
        junk = bytes(rng.randrange(256) for _ in range(1 + b % 40))
        return store.chain + junk + (b"\n" if c % 2 else b""), head
    else:  # pragma: no cover
        raise AssertionError(kind)
    return b"".join(x + b"\n" for x in lines), head


def _put(path: Path, data: bytes) -> None:
    """Replace a file's bytes in place. (``write_bytes`` truncates to zero first, which ext4
    answers with a flush on close: milliseconds per call, minutes over the whole suite.)"""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def _first_diff(before: bytes, after: bytes) -> int | None:
    old, new = before.split(b"\n"), after.split(b"\n")
    for k, (x, y) in enumerate(zip(old, new, strict=False)):
        if x != y:
            return k
    return None if len(old) == len(new) else min(len(old), len(new)) - 1


def _same_head(before: bytes, after: bytes | None) -> bool:
    if after is None:
        return False
    try:
        return bool(json.loads(after) == json.loads(before))
    except ValueError:
        return False


@dataclass
class Tally:
    tried: int = 0
    detected: int = 0
    detected_without_sealed: int = 0
    noops: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_verdict: dict[str, int] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(*(SigningKey.generate() for _ in range(5)))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Path:
    root = tmp_path_factory.mktemp("tamper")
    (root / "heso.toml").write_text(_policy(keys))
    return root


def _policy(keys: Keys) -> str:
    """``heso.toml`` pinning the operator key and registering the approvers."""
    return f"""[policy]
default = "allow"

[heso]
operator_keys = ["{keys.operator.public_key()}"]

[approvers.finance]
members = {{ alice = "{keys.alice.public_key()}", bob = "{keys.bob.public_key()}" }}
threshold = 1
"""


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Pool:
    rng = random.Random(7)

    def specs(count: int) -> list[EntrySpec]:
        return [
            EntrySpec(
                verb=rng.choice([v.value for v in Verb]),
                tool=rng.choice(["send_email", "refund"]),
                fields={"to": f"user{k}@example.com", "amount": rng.randrange(10**6)},
                redact={"to": "commit"} if k % 2 else {},
                decision=rng.choice(["allow", "block"]),
                approvers=k % 3,
            )
            for k in range(count)
        ]

    same = [_receipt(keys.operator, keys, s, k) for k, s in enumerate(specs(8))]
    foreign = [_receipt(keys.foreign, keys, s, k) for k, s in enumerate(specs(8))]
    same_store = _write_store(tmp_path_factory.mktemp("same"), keys.operator, same)
    foreign_store = _write_store(tmp_path_factory.mktemp("foreign"), keys.foreign, foreign)
    return Pool(
        same_store.lines,
        [loads_strict(line)["receipt"] for line in same_store.lines],
        foreign_store.lines,
        [loads_strict(line)["receipt"] for line in foreign_store.lines],
        same_store.head,
    )


def _cached_cli() -> Callable[[list[str]], tuple[int, dict[str, Any]]]:
    """The real ``heso`` entry point, with its argument parser built once (it is reusable;
    building it dominates the cost of a call)."""
    import heso.cli as cli

    parser = cli.build_parser()

    def run(argv: list[str]) -> tuple[int, dict[str, Any]]:
        buf = io.StringIO()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(cli, "build_parser", lambda: parser)
            with contextlib.redirect_stdout(buf):
                code = cli.main(argv)
        return code, json.loads(buf.getvalue())

    return run


@pytest.mark.parametrize("store", ["file", "postgresql"], indirect=True)
def test_every_mutation_of_a_signed_store_is_detected(
    workspace: Path,
    keys: Keys,
    pool: Pool,
    store: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    figures: Any,
    soak: bool,
) -> None:
    cli = _cached_cli()
    argv = ["verify", "--chain", "--sealed", "--project", str(workspace), "--json"]
    # The file store's verdict on the same lines, for the database's to match.
    files = tmp_path / "as-files"
    (files / "heso-local-data").mkdir(parents=True)
    (files / "heso.toml").write_text(_policy(keys))
    as_files = FileTarget(files / "heso-local-data")
    files_argv = ["verify", "--chain", "--sealed", "--project", str(files), "--json"]
    target: FileTarget | DatabaseTarget
    if store.postgresql:
        database = DatabaseTarget(str(store.use(workspace)))
        target = database
        monkeypatch.setenv("HESO_STORE", database.url)
    else:
        monkeypatch.delenv("HESO_STORE", raising=False)
        target = FileTarget(workspace / "heso-local-data")
    tally = Tally()
    compared = [0, 0]  # database verdicts equal to the file store's; lines without a newline
    examples = EXAMPLES[store.kind] * (10 if soak else 1)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
        # Shrinking against a database takes minutes: its failures are reported unshrunk.
        phases=[Phase.generate] if store.postgresql else list(Phase),
    )
    @given(
        specs=st.lists(entry_specs(), min_size=3, max_size=9),
        mutations=st.lists(MUTATION, min_size=MUTATIONS_PER_STORE, max_size=MUTATIONS_PER_STORE),
    )
    def run(specs: list[EntrySpec], mutations: list[tuple[str, int, int, int]]) -> None:
        receipts = [_receipt(keys.operator, keys, s, k) for k, s in enumerate(specs)]
        written = target.write(keys.operator, receipts)
        code, clean = cli(argv)
        assert code == 0 and clean["entries"] == len(specs) == clean["sealed"], clean
        assert clean["l1_receipts"] == sum(1 for s in specs if s.approvers)
        for kind, a, b, c in mutations:
            chain_bytes, head_bytes = mutate(kind, a, b, c, written, pool, keys)
            if chain_bytes == written.chain and (
                head_bytes == written.head or _same_head(written.head, head_bytes)
            ):
                tally.noops += 1
                continue
            target.put(chain_bytes, head_bytes)
            code, out = cli(argv)
            tally.tried += 1
            tally.by_kind[kind] = tally.by_kind.get(kind, 0) + 1
            where = f"{kind}({a}, {b}, {c})"
            assert "verdict" in out, (where, out)  # a verdict, never an error or a crash
            if code == 0 or out["ok"]:
                tally.misses.append(where)
                continue
            tally.detected += 1
            tally.by_verdict[out["verdict"]] = tally.by_verdict.get(out["verdict"], 0) + 1
            if not out.get("reason", "").endswith(
                "a store at rest must be sealed "
                "(entries appended after the seal cannot be "
                "told from forged ones, and cutting them off "
                "would go unnoticed)"
            ):
                tally.detected_without_sealed += 1
            _check_location(out, _first_diff(written.chain, chain_bytes), len(written.lines), where)
            if store.postgresql:
                as_files.put(chain_bytes, head_bytes)
                _, on_files = cli(files_argv)
                if chain_bytes.endswith(b"\n") or not chain_bytes:
                    assert _verdict(out) == _verdict(on_files), (where, out, on_files)
                    compared[0] += 1
                else:  # a torn write on files; in the database the row fails as it is
                    assert out.get("entry") == on_files.get("entry"), (where, out, on_files)
                    compared[1] += 1
        target.put(written.chain, written.head)

    try:
        run()
    finally:
        if isinstance(target, DatabaseTarget):
            target.close()
    if store.postgresql:
        figures.add("tamper.postgresql.verdicts_equal_to_the_file_stores", compared[0])
        figures.add("tamper.postgresql.rows_that_are_torn_lines_on_files", compared[1])
        assert compared[0] >= TARGET_MUTATIONS["postgresql"] * 0.8
    prefix = f"tamper.{store.kind}"
    figures.add(f"{prefix}.mutations_tried", tally.tried)
    figures.add(f"{prefix}.mutations_detected", tally.detected)
    figures.add(f"{prefix}.detected_without_--sealed", tally.detected_without_sealed)
    figures.add(f"{prefix}.noops_not_counted", tally.noops)
    for kind, count in tally.by_kind.items():
        figures.add(f"{prefix}.kind.{kind}", count)
    for code, count in tally.by_verdict.items():
        figures.add(f"{prefix}.verdict.{code}", count)
    assert tally.misses == []
    assert tally.detected == tally.tried >= TARGET_MUTATIONS[store.kind]
    assert set(tally.by_kind) == set(KINDS)


def _verdict(out: dict[str, Any]) -> tuple[Any, ...]:
    """What a verdict says, whichever store it came from."""
    return out["ok"], out["verdict"], out.get("entry"), out.get("reason")


def _check_location(out: dict[str, Any], first: int | None, n: int, where: str) -> None:
    """The verdict names the first broken entry: the first line that differs, or the one after
    it when the changed line is itself a valid entry (its hash no longer links), or for
    changes only the signed head can see, the entry under it."""
    code = out["verdict"]
    if code in (v.HEAD_INVALID, v.HEAD_MISSING):
        assert "entry" not in out, (where, out)
        return
    assert isinstance(out.get("entry"), int), (where, out)
    if first is None:  # only the head changed
        assert code in (v.HEAD_MISMATCH, v.CHAIN_TRUNCATED, v.UNSEALED), (where, out)
        return
    allowed = {first, first + 1}
    if code in (v.HEAD_MISMATCH, v.CHAIN_TRUNCATED, v.UNSEALED):
        allowed |= {n - 1, n}
    assert out["entry"] in allowed, (where, first, out)


@contextlib.contextmanager
def _target(store: Any, root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Where ``store`` keeps the project at ``root`` (``HESO_STORE`` set for the CLI)."""
    store.env(root, monkeypatch)
    if not store.postgresql:
        yield FileTarget(root / "heso-local-data")
        return
    target = DatabaseTarget(str(store.use(root)))
    try:
        yield target
    finally:
        target.close()


@pytest.mark.parametrize("store", ["file", "postgresql"], indirect=True)
def test_a_re_signed_store_passes_only_an_unpinned_verifier(
    tmp_path: Path, keys: Keys, pool: Pool, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a trust anchor a store re-signed under a new key is self-consistent; pinning the
    operator key (``--trust`` or ``[heso] operator_keys``) is what rejects it."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "heso.toml").write_text('[policy]\ndefault = "allow"\n')
    with _target(store, root, monkeypatch) as target:
        _resigned_store_checks(root, target, keys, pool)


def _resigned_store_checks(root: Path, target: Any, keys: Keys, pool: Pool) -> None:
    store = Store(pool.same_key_lines, pool.other_head)
    chain_bytes, head = mutate("resign_store", 0, 0, 0, store, pool, keys)
    assert head is not None
    target.put(chain_bytes, head)
    cli = _cached_cli()
    base = ["verify", "--chain", "--sealed", "--project", str(root), "--json"]
    code, out = cli(base)
    assert code == 0 and out["operator"] == str(keys.resign.public_key())
    assert out["operator_pinned_by"] == "unpinned"
    code, out = cli([*base, "--trust", str(keys.operator.public_key())])
    assert code == 1 and out["verdict"] == v.HEAD_INVALID and "untrusted" in out["reason"]
    (root / "heso.toml").write_text(f'[heso]\noperator_keys = ["{keys.operator.public_key()}"]\n')
    code, out = cli(base)
    assert code == 1 and out["verdict"] == v.HEAD_INVALID
    assert out["operator_pinned_by"] == "heso.toml"
    # The head deleted too: the pinned key still rejects the first receipt.
    target.put(chain_bytes, None)
    code, out = cli(base)
    assert code == 1 and out["verdict"] in (v.HEAD_MISSING, v.OPERATOR_MISMATCH)


@pytest.mark.parametrize("store", ["file", "postgresql"], indirect=True)
def test_entries_appended_after_the_seal_fail_only_the_sealed_audit(
    tmp_path: Path, keys: Keys, pool: Pool, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A validly signed receipt re-linked after the last seal is indistinguishable from a
    genuine unsealed append: plain verification reports it as unsealed, ``--sealed`` fails."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "heso.toml").write_text(_policy(keys))
    written = Store(pool.same_key_lines, pool.other_head)
    n = len(written.lines)
    chain_bytes, head = mutate("splice_relinked", 0, n, 1, written, pool, keys)
    with _target(store, root, monkeypatch) as target:
        target.put(chain_bytes, head)
        cli = _cached_cli()
        code, out = cli(["verify", "--chain", "--project", str(root), "--json"])
        assert code == 0 and out["unsealed"] == 1 and out["sealed"] == n
        code, out = cli(["verify", "--chain", "--sealed", "--project", str(root), "--json"])
        assert code == 1 and out["verdict"] == v.UNSEALED and out["entry"] == n


def test_the_fast_path_reaches_the_generic_verdict_on_every_mutation(
    tmp_path: Path, keys: Keys, pool: Pool, figures: Any
) -> None:
    """``verify_chain`` decides most lines on a fast path (orjson parse and re-encode); every
    line it does not accept there goes to the strict parser. Both must reach the same verdict,
    details and location on clean and mutated stores alike."""
    data_dir = tmp_path / "heso-local-data"
    data_dir.mkdir()
    trusted = {keys.operator.public_key()}
    approvers = {keys.alice.public_key(): "alice", keys.bob.public_key(): "bob"}
    compared = 0
    decided_fast = tried_fast = 0
    clean = [0, 0]  # lines of unmutated stores: decided on the fast path, tried there
    loads_canonical = ledger_verify.loads_canonical

    def counting(data: bytes) -> Any:
        nonlocal decided_fast, tried_fast
        tried_fast += 1
        value = loads_canonical(data)
        decided_fast += value is not None
        return value

    def both() -> tuple[dict[str, Any], dict[str, Any]]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(ledger_verify, "loads_canonical", counting)
            fast = verify_chain(data_dir, trusted_operators=trusted, approver_keys=approvers)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(ledger_verify, "loads_canonical", lambda data: None)
            strict = verify_chain(data_dir, trusted_operators=trusted, approver_keys=approvers)
        return fast.to_dict(), strict.to_dict()

    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        specs=st.lists(entry_specs(), min_size=2, max_size=6),
        mutations=st.lists(MUTATION, min_size=12, max_size=12),
    )
    def run(specs: list[EntrySpec], mutations: list[tuple[str, int, int, int]]) -> None:
        nonlocal compared
        receipts = [_receipt(keys.operator, keys, s, k) for k, s in enumerate(specs)]
        store = _write_store(data_dir, keys.operator, receipts)
        before = decided_fast, tried_fast
        fast, strict = both()
        assert fast == strict and fast["ok"], fast
        clean[0] += decided_fast - before[0]
        clean[1] += tried_fast - before[1]
        for kind, a, b, c in mutations:
            chain_bytes, head_bytes = mutate(kind, a, b, c, store, pool, keys)
            _put(data_dir / fmt.CHAIN_FILE, chain_bytes)
            if head_bytes is None:
                (data_dir / fmt.HEAD_FILE).unlink(missing_ok=True)
            else:
                _put(data_dir / fmt.HEAD_FILE, head_bytes)
            fast, strict = both()
            assert fast == strict, f"{kind}({a}, {b}, {c})"
            compared += 1
        _put(data_dir / fmt.CHAIN_FILE, store.chain)
        _put(data_dir / fmt.HEAD_FILE, store.head)

    run()
    figures.add("tamper.fast_vs_strict_verdicts_compared", compared)
    figures.add("tamper.lines_decided_on_the_fast_path", decided_fast)
    assert compared >= 600
    figures.add("tamper.lines_tried_on_the_fast_path", tried_fast)
    figures.add("tamper.clean_lines_decided_on_the_fast_path", clean[0])
    figures.add("tamper.clean_lines_tried_on_the_fast_path", clean[1])
    # The fast path is live: it decides many lines of intact stores, and lines of mutated ones.
    assert clean[0] * 3 >= clean[1] and decided_fast > clean[0]
