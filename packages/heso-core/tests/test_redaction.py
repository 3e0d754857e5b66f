"""heso.redaction: specs, markers, commitments, reveal checks and the reveal store."""

from __future__ import annotations

import copy
import json
import os
import stat
import subprocess
import sys
import threading
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

import blake3
import pytest

from heso.canonical import canonical_bytes, loads_strict
from heso.errors import HesoConfigError
from heso.redaction import (
    REVEAL_FILE,
    SALT_BYTES,
    Commitment,
    RedactStrategy,
    RevealEntry,
    RevealStore,
    commitment_of,
    is_marker,
    merge_redact_specs,
    normalize_redact_spec,
    redact,
    verify_reveal,
)

SPEC = Path(__file__).resolve().parents[3] / "docs" / "spec" / "redaction.md"
COMMIT, DESTROY = RedactStrategy.COMMIT, RedactStrategy.DESTROY
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def salts() -> Any:
    """A deterministic salt source: bytes 0-31, then 32-63, ..."""
    counter = count()

    def source(n: int) -> bytes:
        assert n == SALT_BYTES
        i = next(counter)
        return bytes(range(32 * i, 32 * i + 32))

    return source


def fields() -> dict[str, Any]:
    return {
        "to": "a@example.com",
        "api_key": "sk-live-123",
        "headers": {"authorization": "Bearer xyz", "x.trace": "t-1"},
        "messages": [{"role": "user", "content": "my card is 4111 1111 1111 1111"}],
    }


# --------------------------------------------------------------------------- specs


def test_strategy_values() -> None:
    assert [s.value for s in RedactStrategy] == ["commit", "destroy"]
    assert str(DESTROY) == "destroy"
    assert DESTROY == "destroy"


def test_normalize_accepts_none_lists_sets_and_mappings() -> None:
    assert normalize_redact_spec(None) == {}
    assert normalize_redact_spec([]) == {}
    assert normalize_redact_spec(["api_key", "headers.auth"]) == {
        "api_key": COMMIT,
        "headers.auth": COMMIT,
    }
    assert normalize_redact_spec(("a",)) == {"a": COMMIT}
    assert normalize_redact_spec({"a", "b"}) == {"a": COMMIT, "b": COMMIT}
    assert normalize_redact_spec(frozenset({"a"})) == {"a": COMMIT}
    spec = normalize_redact_spec({"a": "commit", "b": " DESTROY ", "c": COMMIT, "d": DESTROY})
    assert spec == {"a": COMMIT, "b": DESTROY, "c": COMMIT, "d": DESTROY}
    assert all(type(v) is RedactStrategy for v in spec.values())


def test_normalize_uses_canonical_path_text() -> None:
    spec = normalize_redact_spec(['a["b"]', "messages.0.content", 'h["x.y"]', 'h[ "0" ]'])
    assert list(spec) == ["a.b", "messages.0.content", 'h["x.y"]', 'h["0"]']


def test_same_path_in_two_spellings_keeps_the_stronger_strategy() -> None:
    assert normalize_redact_spec({"a.b": "destroy", 'a["b"]': "commit"}) == {"a.b": DESTROY}
    assert normalize_redact_spec({'a["b"]': "commit", "a.b": "destroy"}) == {"a.b": DESTROY}


@pytest.mark.parametrize("path", ["", "a..b", "a.", ".a", "a[", 'a["b]'])
def test_invalid_paths_are_config_errors_naming_the_path(path: str) -> None:
    with pytest.raises(HesoConfigError) as info:
        normalize_redact_spec([path])
    assert repr(path) in info.value.message


def test_non_string_paths_and_bad_strategies() -> None:
    with pytest.raises(HesoConfigError, match="redaction path 3 is not a string"):
        normalize_redact_spec([3])
    for bad in ("hide", None, 1, True):
        with pytest.raises(HesoConfigError, match=r"unknown redaction strategy .* for 'api_key'"):
            normalize_redact_spec({"api_key": bad})


def test_bare_strings_and_other_types_are_refused() -> None:
    with pytest.raises(HesoConfigError) as info:
        normalize_redact_spec("api_key")
    assert "not the string 'api_key'" in info.value.message
    assert info.value.hint == 'write ["api_key"]'
    with pytest.raises(HesoConfigError, match="not int"):
        normalize_redact_spec(5)


def test_merge_is_a_union_where_destroy_wins() -> None:
    a = {"x": COMMIT, "y": DESTROY}
    b = {"x": DESTROY, "y": COMMIT, "z": COMMIT}
    merged = merge_redact_specs(a, b)
    assert merged == {"x": DESTROY, "y": DESTROY, "z": COMMIT}
    assert merge_redact_specs(b, a) == merged
    assert a == {"x": COMMIT, "y": DESTROY}  # inputs untouched
    assert merge_redact_specs(None, ['q["r"]']) == {"q.r": COMMIT}
    assert merge_redact_specs({}, {}) == {}


# --------------------------------------------------------------------------- markers


def test_marker_shapes() -> None:
    out, commitments = redact(
        {"a": "secret", "b": "gone"}, {"a": COMMIT, "b": DESTROY}, salt_source=salts()
    )
    assert out["b"] == {"heso_redacted": "destroy"}
    assert set(out["a"]) == {"heso_redacted", "commitment"}
    assert out["a"]["heso_redacted"] == "commit"
    assert out["a"]["commitment"] == commitments[0].commitment
    assert canonical_bytes(out["b"]) == b'{"heso_redacted":"destroy"}'
    assert canonical_bytes(out["a"]) == (
        b'{"commitment":"' + commitments[0].commitment.encode() + b'","heso_redacted":"commit"}'
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"heso_redacted": "destroy"}, True),
        ({"heso_redacted": "commit", "commitment": "blake3:" + "0a" * 32}, True),
        ({"heso_redacted": "destroy", "x": 1}, False),
        ({"heso_redacted": "commit"}, False),
        ({"heso_redacted": "commit", "commitment": "blake3:" + "0A" * 32}, False),
        ({"heso_redacted": "commit", "commitment": "blake3:" + "0a" * 31}, False),
        ({"heso_redacted": "commit", "commitment": "sha256:" + "0a" * 32}, False),
        ({"heso_redacted": "commit", "commitment": "blake3:" + "0a" * 32, "x": 1}, False),
        ({"heso_redacted": "hidden"}, False),
        ({"heso_redacted": True}, False),
        ("destroy", False),
        (None, False),
        ([{"heso_redacted": "destroy"}], False),
    ],
)
def test_is_marker(value: Any, expected: bool) -> None:
    assert is_marker(value) is expected


# --------------------------------------------------------------------------- commitments


def test_commitment_is_keyed_blake3_over_the_canonical_bytes() -> None:
    salt = bytes(range(32))
    for value in ("sk-live-123", {"user": "alice", "pin": 1234}, 19.99, None, [1, "é"]):
        expected = "blake3:" + blake3.blake3(canonical_bytes(value), key=salt).hexdigest()
        assert commitment_of(value, salt) == expected
    assert commitment_of("x", salt) != commitment_of("x", bytes(32))


def test_commitment_of_converts_python_values_like_to_json_value() -> None:
    salt = bytes(range(32))
    assert commitment_of(Decimal("1.10"), salt) == commitment_of("1.10", salt)
    assert commitment_of(1.0, salt) == commitment_of(1, salt)
    assert commitment_of(("a", 2), salt) == commitment_of(["a", 2], salt)


def test_commitment_verifies_with_the_right_value_and_salt_only() -> None:
    out, [c] = redact({"api_key": "sk-live-123"}, {"api_key": COMMIT})
    marker = out["api_key"]
    assert len(c.salt) == SALT_BYTES
    assert verify_reveal(marker, "sk-live-123", c.salt)
    assert not verify_reveal(marker, "sk-live-124", c.salt)
    assert not verify_reveal(marker, "sk-live-123", bytes(32))
    assert not verify_reveal(marker, '"sk-live-123"', c.salt)
    assert verify_reveal(json.loads(json.dumps(marker)), "sk-live-123", bytearray(c.salt))


def test_each_commitment_gets_a_fresh_random_salt() -> None:
    _, first = redact({"a": "same", "b": "same"}, {"a": COMMIT, "b": COMMIT})
    _, second = redact({"a": "same"}, {"a": COMMIT})
    salts_seen = {c.salt for c in first + second}
    assert len(salts_seen) == 3
    assert len({c.commitment for c in first + second}) == 3


def test_verify_reveal_never_raises() -> None:
    salt = bytes(range(32))
    marker = {"heso_redacted": "commit", "commitment": commitment_of("v", salt)}
    assert verify_reveal(marker, "v", salt)
    assert not verify_reveal({"heso_redacted": "destroy"}, "v", salt)
    assert not verify_reveal({"commitment": marker["commitment"]}, "v", salt)
    assert not verify_reveal(marker, "v", salt[:31])
    assert not verify_reveal(marker, "v", salt.hex())  # type: ignore[arg-type]
    assert not verify_reveal(marker, float("nan"), salt)
    assert not verify_reveal(marker, object(), salt)
    assert not verify_reveal("not a marker", "v", salt)  # type: ignore[arg-type]


def test_commitment_objects_hide_the_salt_in_repr() -> None:
    c = Commitment("a", "blake3:" + "00" * 32, b"\x01" * 32)
    assert "salt" not in repr(c) and "0101" not in repr(c)
    e = RevealEntry("h", "a", "blake3:" + "00" * 32, b"\x01" * 32)
    assert "0101" not in repr(e)


def test_salt_source_must_give_32_bytes() -> None:
    with pytest.raises(HesoConfigError, match="32 bytes, not 16"):
        redact({"a": 1}, {"a": COMMIT}, salt_source=lambda n: b"\x00" * 16)
    with pytest.raises(HesoConfigError, match="32 bytes"):
        commitment_of(1, b"short")


# --------------------------------------------------------------------------- redact


def test_empty_spec_returns_the_same_fields_without_work() -> None:
    f = fields()

    def no_salt(n: int) -> bytes:
        raise AssertionError("no salt for an empty spec")

    out, commitments = redact(f, {}, salt_source=no_salt)
    assert out is f
    assert commitments == []


def test_nested_paths_and_input_untouched() -> None:
    original = fields()
    f = copy.deepcopy(original)
    spec = normalize_redact_spec(
        {
            "api_key": "commit",
            "headers.authorization": "commit",
            'headers["x.trace"]': "commit",
            "messages.0.content": "destroy",
        }
    )
    out, commitments = redact(f, spec, salt_source=salts())
    assert f == original
    assert out["to"] == "a@example.com"
    assert out["messages"][0] == {"role": "user", "content": {"heso_redacted": "destroy"}}
    assert [c.path for c in commitments] == [
        "headers.authorization",
        'headers["x.trace"]',
        "api_key",
    ]
    cleartext = {
        "headers.authorization": ("authorization", "Bearer xyz"),
        'headers["x.trace"]': ("x.trace", "t-1"),
    }
    for c in commitments:
        if c.path == "api_key":
            assert verify_reveal(out["api_key"], "sk-live-123", c.salt)
        else:
            key, value = cleartext[c.path]
            assert verify_reveal(out["headers"][key], value, c.salt)


def test_untouched_subtrees_are_shared_and_touched_ones_copied() -> None:
    f = {"keep": {"deep": [1, 2]}, "edit": {"x": "secret", "y": [3]}}
    out, _ = redact(f, {"edit.x": DESTROY})
    assert out["keep"] is f["keep"]
    assert out["edit"] is not f["edit"]
    assert out["edit"]["y"] is f["edit"]["y"]
    assert f["edit"]["x"] == "secret"


def test_paths_that_do_not_resolve_are_skipped() -> None:
    f = {"a": {"b": 1}, "list": [0, 1], "s": "text", "n": None}
    spec = normalize_redact_spec(
        ["missing", "a.c", "a.b.c", "list.2", "list.x", "s.0", "n.x", "a.0"]
    )
    out, commitments = redact(f, spec)
    assert out == f
    assert commitments == []


def test_list_indices_and_digit_member_names() -> None:
    f = {"rows": [{"v": "r0"}, {"v": "r1"}], "m": {"0": "zero", "1": "one"}}
    out, commitments = redact(f, normalize_redact_spec(["rows.1.v", "m.0", 'm["1"]']))
    assert out["rows"] == [{"v": "r0"}, out["rows"][1]]
    assert is_marker(out["rows"][1]["v"])
    assert is_marker(out["m"]["0"]) and is_marker(out["m"]["1"])
    assert {c.path for c in commitments} == {"rows.1.v", "m.0", 'm["1"]'}


def test_tuples_on_the_path_are_copied_into_lists() -> None:
    f = {"t": ({"secret": "s"}, "x")}
    out, _ = redact(f, {"t.0.secret": DESTROY})
    assert out == {"t": [{"secret": {"heso_redacted": "destroy"}}, "x"]}
    assert f == {"t": ({"secret": "s"}, "x")}


def test_whole_objects_and_non_string_values_can_be_committed() -> None:
    f = {"card": {"number": "4111", "cvc": 123}, "amount": 19.99, "none": None}
    out, commitments = redact(f, {"card": COMMIT, "amount": COMMIT, "none": COMMIT})
    by_path = {c.path: c for c in commitments}
    assert verify_reveal(out["card"], {"cvc": 123, "number": "4111"}, by_path["card"].salt)
    assert verify_reveal(out["amount"], 19.99, by_path["amount"].salt)
    assert verify_reveal(out["none"], None, by_path["none"].salt)
    assert not verify_reveal(out["card"], {"number": "4111"}, by_path["card"].salt)


def test_deeper_paths_first_parent_commits_to_the_child_marker() -> None:
    f = {"a": {"b": "inner secret", "c": "outer"}}
    out, commitments = redact(f, {"a": COMMIT, "a.b": COMMIT}, salt_source=salts())
    child, parent = commitments
    assert (child.path, parent.path) == ("a.b", "a")
    child_marker = {"heso_redacted": "commit", "commitment": child.commitment}
    assert verify_reveal(out["a"], {"b": child_marker, "c": "outer"}, parent.salt)
    assert not verify_reveal(out["a"], f["a"], parent.salt)


def test_paths_inside_a_destroyed_one_are_skipped() -> None:
    f = {"a": {"b": "x", "c": {"d": "y"}}, "e": "z"}

    out, commitments = redact(
        f, {"a": DESTROY, "a.b": COMMIT, "a.c.d": DESTROY, "e": COMMIT}, salt_source=salts()
    )
    assert out["a"] == {"heso_redacted": "destroy"}
    assert [c.path for c in commitments] == ["e"]
    assert commitments[0].salt == bytes(range(32))  # no salt was spent on a.b


def test_destroy_leaves_no_trace_of_the_value(tmp_path: Path) -> None:
    secret = "4111-1111-1111-1111-UNIQUE"
    token = "tok-ABCDEF-UNIQUE"
    f = {"card": secret, "nested": {"list": [secret, {"t": token}]}, "api": token}
    out, commitments = redact(f, {"card": DESTROY, "nested.list": DESTROY, "api": COMMIT})
    store = RevealStore(tmp_path / "reveal", fsync=False)
    store.add("h" * 64, commitments)
    blobs = [canonical_bytes(out), json.dumps(out).encode(), repr(commitments).encode()]
    blobs += [p.read_bytes() for p in (tmp_path / "reveal").rglob("*") if p.is_file()]
    for blob in blobs:
        assert secret.encode() not in blob
        assert token.encode() not in blob
    assert out["card"] == out["nested"]["list"] == {"heso_redacted": "destroy"}


def test_spec_with_unnormalized_paths_is_accepted() -> None:
    out, [c] = redact({"a": {"b": "v"}}, {'a["b"]': "commit"})  # type: ignore[dict-item]
    assert c.path == "a.b"
    assert verify_reveal(out["a"]["b"], "v", c.salt)


# --------------------------------------------------------------------------- spec page vectors

SALT0 = bytes(range(32))
VALUE_VECTORS = [
    ("sk-live-123", "blake3:d0b96d802a2a3bd90216999539d06b373d3d2a51cd8faf3707ccc706a471b782"),
    (
        {"user": "alice", "pin": 1234},
        "blake3:d171655be3d7d97a38d4f91a8a83e084cdbde18726ec18c98c9ae3d776d87aa2",
    ),
    (19.99, "blake3:ff7d80ced4ea139a7ebb521688ac9b41f73ae62a0fed498cf617b43b531226e5"),
    (None, "blake3:bca914fa2c88889521efec0d07685c65cb83185f1a46679862d3869790758686"),
]
SPEC_EXAMPLE = {
    "api_key": "commit",
    "headers.authorization": "commit",
    "messages.0.content": "destroy",
    'headers["x.trace"]': "commit",
}
SPEC_COMMITMENTS = [
    ("headers.authorization", "797ac53a47be6e29a3e6578fe6def51b305eed84410455d64e8813dbefc73201"),
    ('headers["x.trace"]', "eb4604e517e6cc08178ba323fb2cdb999fbb7f0738045b4633d85b9f8df76d04"),
    ("api_key", "b0476d089fb158a40cf64ebe73b42523a91b410cd9961e67bbebff0d9dc3bdc2"),
]
SPEC_FIELDS_HASH = "589283f48e0c3c500cb527a269a310ce0245811623f9aebf24c59d28ed5a9a58"


@pytest.mark.parametrize(("value", "commitment"), VALUE_VECTORS)
def test_spec_value_vectors(value: Any, commitment: str) -> None:
    assert commitment_of(value, SALT0) == commitment


def test_spec_whole_example() -> None:
    out, commitments = redact(fields(), normalize_redact_spec(SPEC_EXAMPLE), salt_source=salts())
    assert [(c.path, c.commitment) for c in commitments] == [
        (path, "blake3:" + digest) for path, digest in SPEC_COMMITMENTS
    ]
    assert [c.salt for c in commitments] == [bytes(range(32 * i, 32 * i + 32)) for i in range(3)]
    assert blake3.blake3(canonical_bytes(out)).hexdigest() == SPEC_FIELDS_HASH


@pytest.mark.skipif(not SPEC.exists(), reason="the spec page ships with the repository only")
def test_spec_page_states_the_vectors() -> None:
    text = SPEC.read_text(encoding="utf-8")
    for _, commitment in VALUE_VECTORS:
        assert commitment in text
    for path, digest in SPEC_COMMITMENTS:
        assert f"| `{path}` |" in text and digest in text
    assert SPEC_FIELDS_HASH in text


# --------------------------------------------------------------------------- the reveal store


def make_commitments(n: int, tag: str = "") -> list[Commitment]:
    out = []
    for i in range(n):
        salt = os.urandom(SALT_BYTES)
        out.append(Commitment(f"f{tag}{i}", commitment_of(f"v{tag}{i}", salt), salt))
    return out


def test_store_add_and_lookup(tmp_path: Path) -> None:
    store = RevealStore(tmp_path / "data" / "reveal", fsync=False)
    assert store.lookup("h1") == []
    first, second = make_commitments(2)
    store.add("h1", [first, second])
    store.add("h2", [Commitment('a["b.c"]', first.commitment, first.salt)])
    assert store.lookup("h1") == [
        RevealEntry("h1", first.path, first.commitment, first.salt),
        RevealEntry("h1", second.path, second.commitment, second.salt),
    ]
    assert [e.salt for e in store.lookup("h1", "f1")] == [second.salt]
    assert [e.path for e in store.lookup("h2", 'a[ "b.c" ]')] == ['a["b.c"]']
    assert store.lookup("h3") == []
    assert store.lookup("h1", "missing") == []


def test_store_lines_are_canonical_json_with_the_documented_members(tmp_path: Path) -> None:
    store = RevealStore(tmp_path / "reveal")
    c = Commitment("api_key", "blake3:" + "b0" * 32, bytes(range(64, 96)))
    store.add("ab" * 32, [c])
    line = (tmp_path / "reveal" / REVEAL_FILE).read_bytes()
    assert line == (
        b'{"action_hash":"' + b"ab" * 32 + b'","commitment":"blake3:' + b"b0" * 32 + b'",'
        b'"path":"api_key","salt":"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"}\n'
    )
    assert canonical_bytes(loads_strict(line[:-1])) == line[:-1]


def test_store_without_commitments_writes_nothing(tmp_path: Path) -> None:
    store = RevealStore(tmp_path / "reveal")
    store.add("h", [])
    assert not (tmp_path / "reveal").exists()


@posix_only
def test_store_permissions_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = RevealStore(tmp_path / "reveal", fsync=False)
        store.add("h", make_commitments(1))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "reveal").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "reveal" / REVEAL_FILE).stat().st_mode) == 0o600


@posix_only
def test_store_tightens_loose_existing_modes(tmp_path: Path) -> None:
    directory = tmp_path / "reveal"
    directory.mkdir()
    (directory / REVEAL_FILE).write_bytes(b"")
    os.chmod(directory, 0o755)
    os.chmod(directory / REVEAL_FILE, 0o644)
    RevealStore(directory, fsync=False).add("h", make_commitments(1))
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / REVEAL_FILE).stat().st_mode) == 0o600


@posix_only
def test_store_refuses_a_symlinked_file(tmp_path: Path) -> None:
    directory = tmp_path / "reveal"
    directory.mkdir(mode=0o700)
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    (directory / REVEAL_FILE).symlink_to(target)
    with pytest.raises(OSError):
        RevealStore(directory, fsync=False).add("h", make_commitments(1))
    assert target.read_bytes() == b""


def test_store_skips_torn_and_malformed_lines(tmp_path: Path) -> None:
    store = RevealStore(tmp_path / "reveal", fsync=False)
    good = make_commitments(2)
    store.add("h", good[:1])
    with open(store.file, "ab") as f:
        f.write(b"not json\n")
        f.write(b'{"action_hash":"h","commitment":"c","path":"p","salt":"zz"}\n')
        f.write(b'{"action_hash":"h","commitment":"c","path":"p","salt":"00"}\n')
        f.write(b'{"action_hash":"h","path":"p"}\n')
        f.write(b'{"action_hash":1,"commitment":"c","path":"p","salt":"' + b"00" * 32 + b'"}\n')
    store.add("h", good[1:])
    with open(store.file, "ab") as f:
        f.write(b'{"action_hash":"h","commitment":"c","path":"torn","salt":"0')
    assert [e.path for e in store.lookup("h")] == [good[0].path, good[1].path]


def test_store_never_holds_cleartext(tmp_path: Path) -> None:
    secret = "correct horse battery staple"
    out, commitments = redact({"pw": secret, "n": {"pin": "90210"}}, {"pw": COMMIT, "n": COMMIT})
    store = RevealStore(tmp_path / "reveal", fsync=False)
    store.add("h", commitments)
    data = store.file.read_bytes()
    assert secret.encode() not in data and b"90210" not in data
    assert [e.commitment for e in store.lookup("h")] == [
        out["n"]["commitment"],
        out["pw"]["commitment"],
    ]


WRITER = """
import sys
import time
from pathlib import Path
from heso.redaction import Commitment, RevealStore
directory, tag, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
while not go.exists():
    time.sleep(0.001)
store = RevealStore(directory, fsync=False)
for i in range(n):
    store.add(f"{tag}-{i}", [Commitment(f"p{j}.{'x' * 200}", "blake3:" + "ab" * 32,
                                         bytes([j]) * 32) for j in range(3)])
"""


def test_concurrent_appends_from_threads_and_processes_keep_lines_intact(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "reveal"
    go = tmp_path / "go"
    per_writer = 150
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(directory), f"proc{k}", str(per_writer), str(go)]
        )
        for k in range(2)
    ]
    store = RevealStore(directory, fsync=False)
    long_path = "p." + "y" * 300
    errors: list[BaseException] = []

    def thread_writer(tag: str) -> None:
        try:
            for i in range(per_writer):
                salt = bytes([i % 256]) * 32
                store.add(f"{tag}-{i}", [Commitment(long_path, "blake3:" + "cd" * 32, salt)] * 3)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=thread_writer, args=(f"thread{k}",)) for k in range(4)]
    go.touch()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        assert p.wait(timeout=120) == 0
    assert errors == []

    raw = store.file.read_bytes()
    assert raw.endswith(b"\n")
    lines = raw.split(b"\n")[:-1]
    writers = [f"proc{k}" for k in range(2)] + [f"thread{k}" for k in range(4)]
    assert len(lines) == len(writers) * per_writer * 3
    seen: dict[str, int] = {}
    for line in lines:
        entry = loads_strict(line)  # every line is whole, canonical JSON
        assert canonical_bytes(entry) == line
        assert set(entry) == {"action_hash", "commitment", "path", "salt"}
        seen[entry["action_hash"]] = seen.get(entry["action_hash"], 0) + 1
    assert seen == {f"{w}-{i}": 3 for w in writers for i in range(per_writer)}
    assert len(store.lookup("proc1-7")) == 3


def test_a_failed_or_torn_salt_write_never_swallows_the_next_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk-full write is cut back, and a line torn by a killed writer is closed, so the
    next entry stays a line of its own (else its salt would be lost)."""
    store = RevealStore(tmp_path / "reveal", fsync=False)
    h = [f"{k:064x}" for k in range(3)]
    value_salt = b"\x01" * SALT_BYTES
    commit = Commitment("api_key", commitment_of("v", value_salt), value_salt)
    real = os.write

    def full(fd: int, data: Any) -> int:
        real(fd, bytes(data)[:20])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError):
        store.add(h[0], [commit])
    monkeypatch.setattr(os, "write", real)
    assert store.file.read_bytes() == b""
    with open(store.file, "ab") as f:
        f.write(b'{"action_hash":"torn')  # as a killed writer leaves it
    store.add(h[1], [commit])
    store.add(h[2], [commit])
    assert [e.action_hash for e in store.lookup(h[1])] == [h[1]]
    assert [e.action_hash for e in store.lookup(h[2])] == [h[2]]
