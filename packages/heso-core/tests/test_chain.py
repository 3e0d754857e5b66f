import json
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from heso import verdict as v
from heso.errors import AmbiguousPrefixError, ChainError, ReceiptNotFoundError
from heso.keys import SigningKey
from heso.ledger import FileLedger, file_store, verify_chain
from heso.ledger import format as fmt
from heso.ledger import index as idx
from heso_testing.receipts import signed_receipt as _receipt


@pytest.fixture(scope="module")
def key():
    return SigningKey.generate()


def _fill(tmp_path, key, n, **kwargs):
    c = FileLedger(tmp_path, key=key, **kwargs)
    entries = [c.append(_receipt(key, i)) for i in range(n)]
    c.close()
    return entries


def _lines(tmp_path):
    return (tmp_path / fmt.CHAIN_FILE).read_bytes().splitlines(keepends=True)


def _write_lines(tmp_path, lines):
    (tmp_path / fmt.CHAIN_FILE).write_bytes(b"".join(lines))


def test_appends_link_and_verify(tmp_path, key):
    entries = _fill(tmp_path, key, 20)
    assert [e.seq for e in entries] == list(range(20))
    verdict = verify_chain(tmp_path)
    assert verdict.ok, str(verdict)
    assert verdict.details["entries"] == 20 and verdict.details["sealed"] == 20
    first = json.loads(_lines(tmp_path)[0])
    assert first["prev"] == fmt.GENESIS and first["seq"] == 0
    second = json.loads(_lines(tmp_path)[1])
    assert second["prev"] == fmt.entry_hash(_lines(tmp_path)[0].rstrip(b"\n"))


def test_files_are_private(tmp_path, key):
    _fill(tmp_path, key, 1)
    for name in (fmt.CHAIN_FILE, idx.INDEX_FILE, fmt.HEAD_FILE, file_store.LOCK_FILE):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name


def test_empty_chain_is_valid(tmp_path):
    assert verify_chain(tmp_path).ok


def test_altered_entry_is_named(tmp_path, key):
    _fill(tmp_path, key, 10)
    lines = _lines(tmp_path)
    lines[4] = lines[4].replace(b'"i":4', b'"i":5')
    _write_lines(tmp_path, lines)
    verdict = verify_chain(tmp_path)
    assert (verdict.code, verdict.entry) == (v.HASH_MISMATCH, 4)


@pytest.mark.parametrize(
    "mutate, code, entry",
    [
        (lambda ls: ls.pop(3), v.SEQUENCE_MISMATCH, 3),
        (lambda ls: ls.insert(5, ls[5]), v.SEQUENCE_MISMATCH, 6),
        (lambda ls: ls.__setitem__(slice(2, 4), [ls[3], ls[2]]), v.SEQUENCE_MISMATCH, 2),
        (lambda ls: ls.__setitem__(7, b"{not json\n"), v.MALFORMED_JSON, 7),
        (lambda ls: ls.__setitem__(7, b'{"a":1}\n'), v.MALFORMED_ENTRY, 7),
    ],
    ids=["delete", "duplicate", "reorder", "garbage", "wrong-shape"],
)
def test_structural_tampering_is_detected_at_the_first_broken_entry(
    tmp_path, key, mutate, code, entry
):
    _fill(tmp_path, key, 10)
    lines = _lines(tmp_path)
    mutate(lines)
    _write_lines(tmp_path, lines)
    verdict = verify_chain(tmp_path)
    assert (verdict.code, verdict.entry) == (code, entry), str(verdict)


def _relink(lines):
    """What an insider without the key can do: fix every seq and prev after editing."""
    out, prev = [], fmt.GENESIS
    for i, raw in enumerate(lines):
        entry = json.loads(raw)
        line = fmt.encode_entry(i, prev, entry["receipt"])
        prev = fmt.entry_hash(line)
        out.append(line + b"\n")
    return out


def test_relinked_deletion_is_caught_by_the_signed_head(tmp_path, key):
    _fill(tmp_path, key, 10)
    lines = _lines(tmp_path)
    del lines[2]
    _write_lines(tmp_path, _relink(lines))
    verdict = verify_chain(tmp_path)
    assert verdict.code == v.CHAIN_TRUNCATED


def test_relinked_substitution_is_caught_by_the_signed_head(tmp_path, key):
    _fill(tmp_path, key, 10)
    lines = _lines(tmp_path)
    lines[2] = fmt.encode_entry(2, "x", _receipt(key, 99)) + b"\n"
    _write_lines(tmp_path, _relink(lines))
    verdict = verify_chain(tmp_path)
    assert verdict.code == v.HEAD_MISMATCH


def test_truncated_tail_is_detected(tmp_path, key):
    _fill(tmp_path, key, 10)
    _write_lines(tmp_path, _lines(tmp_path)[:7])
    verdict = verify_chain(tmp_path)
    assert verdict.code == v.CHAIN_TRUNCATED and "10" in verdict.reason


def test_missing_or_forged_head(tmp_path, key):
    _fill(tmp_path, key, 3)
    head_path = tmp_path / fmt.HEAD_FILE
    doc = json.loads(head_path.read_text())
    doc["content"]["length"] = 2
    head_path.write_text(json.dumps(doc))
    assert verify_chain(tmp_path).code == v.HEAD_INVALID
    head_path.unlink()
    assert verify_chain(tmp_path).code == v.HEAD_MISSING


def test_receipt_from_another_operator_is_rejected(tmp_path, key):
    _fill(tmp_path, key, 5)
    other = SigningKey.generate()
    lines = _lines(tmp_path)
    lines[3] = fmt.encode_entry(3, json.loads(lines[3])["prev"], _receipt(other, 3)) + b"\n"
    _write_lines(tmp_path, lines)
    verdict = verify_chain(tmp_path)
    assert (verdict.code, verdict.entry) == (v.OPERATOR_MISMATCH, 3)


def test_pinned_trust_anchor_rejects_a_wholesale_re_signed_store(tmp_path, key):
    attacker = SigningKey.generate()
    _fill(tmp_path, attacker, 4)
    assert verify_chain(tmp_path).ok
    verdict = verify_chain(tmp_path, trusted_operators={key.public_key()})
    assert verdict.code == v.HEAD_INVALID and "untrusted" in verdict.reason


def test_torn_tail_is_reported_then_recovered_without_losing_acknowledged_entries(tmp_path, key):
    _fill(tmp_path, key, 5)
    with open(tmp_path / fmt.CHAIN_FILE, "ab") as f:
        f.write(b'{"prev":"abc","receipt":{"al')
    verdict = verify_chain(tmp_path)
    assert (verdict.code, verdict.entry) == (v.TORN_TAIL, 5)
    c = FileLedger(tmp_path, key=key)
    c.append(_receipt(key, 5))
    assert c.recovered and c.recovered[0]["length"] == len(b'{"prev":"abc","receipt":{"al')
    c.close()
    verdict = verify_chain(tmp_path)
    assert verdict.ok, str(verdict)
    assert verdict.details["entries"] == 6
    assert verdict.details["torn_tails_recovered"] == 1
    assert (tmp_path / fmt.TORN_FILE).exists()


def test_writer_refuses_to_extend_a_truncated_chain(tmp_path, key):
    _fill(tmp_path, key, 5)
    _write_lines(tmp_path, _lines(tmp_path)[:3])
    with pytest.raises(ChainError, match="truncated"):
        FileLedger(tmp_path, key=key).append(_receipt(key, 9))


def test_prefix_lookup(tmp_path, key):
    entries = _fill(tmp_path, key, 30)
    hashes = [json.loads(line)["receipt"]["content"]["action_hash"] for line in _lines(tmp_path)]
    r = FileLedger(tmp_path).receipt(hashes[7][:10])
    assert r["content"]["action_hash"] == hashes[7]
    assert (
        FileLedger(tmp_path).receipt(hashes[7].upper()[:12])["content"]["action_hash"] == hashes[7]
    )
    with pytest.raises(AmbiguousPrefixError):
        FileLedger(tmp_path).receipt(_common_prefix(hashes))
    with pytest.raises(ReceiptNotFoundError):
        FileLedger(tmp_path).receipt("f" * 64)
    with pytest.raises(ReceiptNotFoundError):
        FileLedger(tmp_path).receipt("not-hex")
    assert len(entries) == 30


def _common_prefix(hashes):
    for c in "0123456789abcdef":
        if sum(h.startswith(c) for h in hashes) > 1:
            return c
    raise AssertionError("30 random hashes always share a first digit")


def test_lookup_survives_a_missing_or_lagging_index(tmp_path, key):
    _fill(tmp_path, key, 6)
    target = json.loads(_lines(tmp_path)[5])["receipt"]["content"]["action_hash"]
    idx_path = tmp_path / idx.INDEX_FILE
    idx_path.write_bytes(idx_path.read_bytes()[: 3 * 83])
    assert FileLedger(tmp_path).receipt(target[:12])["content"]["action_hash"] == target
    idx_path.unlink()
    assert FileLedger(tmp_path).receipt(target[:12])["content"]["action_hash"] == target
    c = FileLedger(tmp_path, key=key)
    c.append(_receipt(key, 6))
    c.close()
    assert idx_path.stat().st_size == 7 * 83


def test_threads_share_one_consistent_chain(tmp_path, key):
    c = FileLedger(tmp_path, key=key, durability="fsync")
    receipts = [_receipt(key, i) for i in range(200)]

    def worker(chunk):
        for r in chunk:
            c.append(r)

    threads = [threading.Thread(target=worker, args=(receipts[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c.close()
    verdict = verify_chain(tmp_path)
    assert verdict.ok and verdict.details["entries"] == 200


def _process_writer(path, n, tag, seed):
    k = SigningKey.from_private_bytes(seed)
    c = FileLedger(path, key=k)
    for i in range(n):
        c.append(_receipt(k, i, tool=f"tool_{tag}"))
    c.close()


def test_processes_share_one_consistent_chain(tmp_path, key):
    seed = os.urandom(32)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_process_writer, args=(tmp_path, 60, t, seed)) for t in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    verdict = verify_chain(tmp_path)
    assert verdict.ok, str(verdict)
    assert verdict.details["entries"] == 240
    tools = [
        json.loads(line)["receipt"]["content"]["action"]["tool_name"] for line in _lines(tmp_path)
    ]
    assert sorted(set(tools)) == [f"tool_{t}" for t in range(4)]


def _endless_writer(path, seed, ready):
    k = SigningKey.from_private_bytes(seed)
    c = FileLedger(path, key=k, seal_every=7)
    i = 0
    while True:
        c.append(_receipt(k, i))
        i += 1
        if i == 5:
            ready.set()


def test_a_writer_killed_mid_stream_leaves_a_verifiable_chain(tmp_path):
    seed = os.urandom(32)
    k = SigningKey.from_private_bytes(seed)
    ctx = multiprocessing.get_context("fork")
    for _trial in range(3):
        ready = ctx.Event()
        p = ctx.Process(target=_endless_writer, args=(tmp_path, seed, ready))
        p.start()
        assert ready.wait(30)
        time.sleep(0.05)
        os.kill(p.pid, signal.SIGKILL)
        p.join()
        c = FileLedger(tmp_path, key=k)
        c.append(_receipt(k, -1))
        c.close()
        verdict = verify_chain(tmp_path)
        assert verdict.ok, str(verdict)


def test_parallel_verification_matches_single_process(tmp_path, key):
    _fill(tmp_path, key, 120)
    single = verify_chain(tmp_path, workers=1)
    multi = verify_chain(tmp_path, workers=3)
    assert single.ok and multi.ok
    assert single.details == multi.details
    lines = _lines(tmp_path)
    lines[90] = lines[90].replace(b'"i":90', b'"i":91')
    _write_lines(tmp_path, lines)
    assert (
        verify_chain(tmp_path, workers=3).code,
        verify_chain(tmp_path, workers=3).entry,
    ) == (
        v.HASH_MISMATCH,
        90,
    )
    lines = _lines(tmp_path)
    del lines[60]
    _write_lines(tmp_path, lines)
    verdict = verify_chain(tmp_path, workers=3)
    assert verdict.entry == 60 and verdict.code == v.SEQUENCE_MISMATCH


def test_disk_write_failure_is_a_chain_error_and_leaves_no_partial_line(tmp_path, key, monkeypatch):
    c = FileLedger(tmp_path, key=key)
    c.append(_receipt(key, 0))
    real_write = os.write
    chain_fd = c._fd

    def short_write(fd, data):
        if fd == chain_fd:
            real_write(fd, data[:10])
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", short_write)
    with pytest.raises(ChainError, match="No space left"):
        c.append(_receipt(key, 1))
    monkeypatch.setattr(os, "write", real_write)
    c.append(_receipt(key, 2))
    c.close()
    verdict = verify_chain(tmp_path)
    assert verdict.ok and verdict.details["entries"] == 2


# -- hardening (issue #9): each test pins a bug the reliability suites found -----------------


def test_a_deeply_nested_line_is_malformed_json_not_a_crash(tmp_path, key):
    _fill(tmp_path, key, 2)
    _write_lines(tmp_path, [*_lines(tmp_path), b"[" * 100_000 + b"\n"])
    verdict = verify_chain(tmp_path)
    assert verdict.code == v.MALFORMED_JSON and verdict.entry == 2
    assert "nested deeper than" in verdict.reason


def test_a_damaged_torn_record_file_does_not_break_verification(tmp_path, key):
    _fill(tmp_path, key, 2)
    (tmp_path / fmt.TORN_FILE).write_bytes(b"not json\n\xff\xfe{")
    verdict = verify_chain(tmp_path)
    assert verdict.ok and verdict.details["torn_tails_recovered"] == 2


def test_a_line_that_is_not_canonical_is_refused_even_past_the_seal(tmp_path, key):
    _fill(tmp_path, key, 2)
    c = FileLedger(tmp_path, key=key, seal_every=10**9, seal_interval=10**9)
    c.append(_receipt(key, 2))  # unsealed: only its own bytes can betray a change
    lines = _lines(tmp_path)
    entry = json.loads(lines[2])
    content = entry["receipt"]["content"]
    content["action_hash"] = content.pop("action_hash")  # moved to the end: same meaning
    for changed in (
        json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode() + b"\n",
        lines[2].replace(b'"seq":', b'"seq": '),
        lines[2].replace(b'"i":2', b'"i":2.0'),
    ):
        assert changed != lines[2]
        _write_lines(tmp_path, [*lines[:2], changed])
        verdict = verify_chain(tmp_path)
        assert verdict.code == v.MALFORMED_ENTRY and verdict.entry == 2, verdict
        assert "canonical" in verdict.reason


def test_a_line_over_the_limit_is_refused_by_the_writer_and_the_verifier(
    tmp_path, key, monkeypatch
):
    monkeypatch.setattr(fmt, "MAX_ENTRY_BYTES", 4096)
    c = FileLedger(tmp_path, key=key)
    c.append(_receipt(key, 0))
    big = _receipt(key, 1)
    big["content"]["action"]["fields"]["blob"] = "x" * 5000
    del big.canonical
    with pytest.raises(ChainError, match="limit is 4096 bytes"):
        c.append(big)
    c.close()
    _write_lines(tmp_path, [*_lines(tmp_path), b'{"prev":"' + b"a" * 10_000 + b'"}\n'])
    verdict = verify_chain(tmp_path)
    assert (
        verdict.code == v.MALFORMED_ENTRY and verdict.entry == 1 and "longer than" in verdict.reason
    )
    assert FileLedger(tmp_path).find("ab") == []


def test_a_refused_writer_keeps_refusing(tmp_path, key):
    """A second append must not extend (and re-seal) a chain the first one refused."""
    _fill(tmp_path, key, 5)
    _write_lines(tmp_path, _lines(tmp_path)[:2])
    writer = FileLedger(tmp_path, key=key)
    for _ in range(3):
        with pytest.raises(ChainError, match="truncated"):
            writer.append(_receipt(key, 9))
    assert verify_chain(tmp_path).code == v.CHAIN_TRUNCATED


def test_a_deleted_head_is_not_laundered_by_the_next_append(tmp_path, key):
    _fill(tmp_path, key, 5)
    _write_lines(tmp_path, _lines(tmp_path)[:2])
    (tmp_path / fmt.HEAD_FILE).unlink()
    with pytest.raises(ChainError, match=r"chain\.head\.json is missing"):
        FileLedger(tmp_path, key=key).append(_receipt(key, 9))
    assert verify_chain(tmp_path).code == v.HEAD_MISSING


def test_a_new_chain_is_sealed_before_its_first_line(tmp_path, key):
    """A crash between the first line and its seal leaves a verifiable chain, not HeadMissing."""
    c = FileLedger(tmp_path, key=key)
    assert c.length == 0
    assert json.loads((tmp_path / fmt.HEAD_FILE).read_text())["content"]["length"] == 0
    os.close(os.open(tmp_path / fmt.CHAIN_FILE, os.O_RDONLY))
    line = fmt.encode_entry(0, fmt.GENESIS, _receipt(key, 0)) + b"\n"
    (tmp_path / fmt.CHAIN_FILE).write_bytes(line)  # as if killed right after the write
    verdict = verify_chain(tmp_path)
    assert verdict.ok and verdict.details["unsealed"] == 1
    other = FileLedger(tmp_path, key=key)  # and another writer carries on
    other.append(_receipt(key, 1))
    other.close()
    assert verify_chain(tmp_path, require_sealed=True).ok


def test_a_writer_refuses_a_chain_file_deleted_under_it(tmp_path, key):
    c = FileLedger(tmp_path, key=key)
    c.append(_receipt(key, 0))
    (tmp_path / fmt.CHAIN_FILE).unlink()
    with pytest.raises(ChainError, match="was deleted while heso had it open"):
        c.append(_receipt(key, 1))


def test_a_failed_index_write_never_fails_the_append_nor_leaves_a_hole(tmp_path, key, monkeypatch):
    c = FileLedger(tmp_path, key=key, seal_every=1)  # each append seals: its record is written
    c.append(_receipt(key, 0))
    real = os.write

    def full_index(fd, data):
        if fd == c._idx_fd:
            real(fd, bytes(data)[:10])  # a short write, then the disk is full
            raise OSError(28, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(os, "write", full_index)
    entries = [c.append(_receipt(key, i)) for i in (1, 2)]
    monkeypatch.setattr(os, "write", real)
    entries.append(c.append(_receipt(key, 3)))
    c.close()
    from heso.ledger import index as idx

    assert idx.count(tmp_path / idx.INDEX_FILE) == 4
    assert (tmp_path / idx.INDEX_FILE).stat().st_size % idx.RECORD_SIZE == 0
    for entry in entries:
        h = json.loads(_lines(tmp_path)[entry.seq])["receipt"]["content"]["action_hash"]
        assert FileLedger(tmp_path).receipt(h[:12])["content"]["action_hash"] == h


def test_a_short_write_reports_the_real_error(tmp_path, key, monkeypatch):
    c = FileLedger(tmp_path, key=key)
    c.append(_receipt(key, 0))
    real, calls = os.write, []

    def short(fd, data):
        if fd == c._fd:
            calls.append(len(data))
            if len(calls) == 1:
                return real(fd, bytes(data)[:7])
            raise OSError(28, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(os, "write", short)
    with pytest.raises(ChainError, match="No space left on device"):
        c.append(_receipt(key, 1))
    monkeypatch.setattr(os, "write", real)
    assert verify_chain(tmp_path).ok  # the partial line was cut off


def test_a_damaged_index_never_returns_another_receipt(tmp_path, key):
    entries = _fill(tmp_path, key, 6)
    hashes = [json.loads(x)["receipt"]["content"]["action_hash"] for x in _lines(tmp_path)]
    records = [idx.record(h, e.offset) for h, e in zip(hashes, entries, strict=True)]
    records[2] = idx.record(hashes[2], entries[4].offset)  # points at another entry
    records.append(b"#" + b"z" * 81 + b"\n")  # and ends in garbage
    (tmp_path / idx.INDEX_FILE).write_bytes(b"".join(records))
    for h in hashes:
        assert FileLedger(tmp_path).receipt(h[:12])["content"]["action_hash"] == h


def test_the_head_signature_must_be_lowercase_hex(tmp_path, key):
    _fill(tmp_path, key, 2)
    head_path = tmp_path / fmt.HEAD_FILE
    doc = json.loads(head_path.read_text())
    doc["signature"] = doc["signature"].upper()  # the same signature bytes
    head_path.write_text(json.dumps(doc, sort_keys=True) + "\n")
    assert verify_chain(tmp_path).code == v.HEAD_INVALID


def test_require_sealed_fails_on_entries_after_the_head(tmp_path, key):
    _fill(tmp_path, key, 3)
    c = FileLedger(tmp_path, key=key, seal_every=10**9, seal_interval=10**9)
    c.append(_receipt(key, 3))
    plain = verify_chain(tmp_path)
    assert plain.ok and plain.details["unsealed"] == 1 and plain.details["sealed"] == 3
    sealed = verify_chain(tmp_path, require_sealed=True)
    assert sealed.code == v.UNSEALED and sealed.entry == 3
    c.close()
    assert verify_chain(tmp_path, require_sealed=True).ok


def test_a_head_larger_than_the_limit_is_invalid(tmp_path, key):
    _fill(tmp_path, key, 1)
    (tmp_path / fmt.HEAD_FILE).write_bytes(b" " * (fmt.MAX_HEAD_BYTES + 1))
    assert verify_chain(tmp_path).code == v.HEAD_INVALID


@pytest.mark.parametrize("durability", ["buffered", "fsync"])
def test_a_writer_inherited_through_fork_reopens_its_files_in_the_child(tmp_path, durability):
    """Parent and child must not share open file descriptions: an flock on a shared one does
    not exclude the other process. The inherited writer notices the fork and opens its own."""
    k = SigningKey.generate()
    c = FileLedger(tmp_path, key=k, durability=durability)
    c.append(_receipt(k, 0))
    parent_fd = c._fd
    pid = os.fork()
    if pid == 0:  # the child: append through the inherited object, then leave at once
        code = 1
        try:
            entry = c.append(_receipt(k, 1))
            code = 0 if entry.seq == 1 and c._fd not in (None, parent_fd) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert c._fd == parent_fd  # the parent keeps its own descriptors
    assert c.append(_receipt(k, 2)).seq == 2  # and catches up with the child's entry
    c.close()
    verdict = verify_chain(tmp_path)
    assert verdict.ok and verdict.details["entries"] == 3, str(verdict)


def test_close_syncs_the_lines_before_the_head_that_covers_them(tmp_path, key, monkeypatch):
    """In fsync durability the head is written only once every line it covers is on disk: a
    power cut in between leaves an older head, never one past the durable end of the chain
    (here another writer's buffered lines are still in the page cache when this one closes)."""
    writer = FileLedger(tmp_path, key=key, durability="fsync", seal_every=10**9, seal_interval=1e9)
    writer.append(_receipt(key, 0))  # the first append seals
    writer.append(_receipt(key, 1))  # this one does not
    other = FileLedger(tmp_path, key=key, seal_every=10**9, seal_interval=1e9)
    other.append(_receipt(key, 2))  # buffered: written, not synced
    chain = tmp_path / fmt.CHAIN_FILE
    synced = {"size": 0}
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        real_fsync(fd)
        if os.fstat(fd).st_ino == chain.stat().st_ino:
            synced["size"] = os.fstat(fd).st_size

    def replace(src, dst):
        if os.path.basename(dst) == fmt.HEAD_FILE:
            covered = json.loads(Path(src).read_bytes())["content"]["size"]
            assert synced["size"] >= covered, "the head was written before the lines it covers"
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    writer.close()
    monkeypatch.undo()
    verdict = verify_chain(tmp_path, require_sealed=True)
    assert verdict.ok and verdict.details["sealed"] == 3, verdict


def test_temp_files_of_a_killed_head_writer_are_removed_on_open(tmp_path, key):
    """A writer killed between writing the head's temp file and renaming it leaves the temp
    file behind; the next writer removes it (under the lock, so never a live writer's)."""
    _fill(tmp_path, key, 2)
    stale = [
        tmp_path / f".{fmt.HEAD_FILE}.4242.139872.tmp",  # an older writer's naming
        tmp_path / f".{fmt.HEAD_FILE}.0123456789abcdef.tmp",
    ]
    for path in stale:
        path.write_bytes(b'{"alg": "torn')
    unrelated = tmp_path / ".receipts.jsonl.keep.tmp"
    unrelated.write_bytes(b"not ours")
    c = FileLedger(tmp_path, key=key)
    c.append(_receipt(key, 2))
    c.close()
    assert not any(path.exists() for path in stale)
    assert unrelated.read_bytes() == b"not ours"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(f".{fmt.HEAD_FILE}.")]
    assert verify_chain(tmp_path).ok


def _index_matches_chain(path):
    """Every index record names its own entry: the index is a consistent prefix of the chain.
    Returns how many records it holds."""
    lines = _lines(path)
    data = (path / idx.INDEX_FILE).read_bytes()
    assert len(data) % idx.RECORD_SIZE == 0
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    n = len(data) // idx.RECORD_SIZE
    assert n <= len(lines)
    for seq in range(n):
        h, offset = idx.parse_record(data[seq * idx.RECORD_SIZE : (seq + 1) * idx.RECORD_SIZE])
        entry = json.loads(lines[seq])
        assert (offset, entry["seq"]) == (offsets[seq], seq)
        assert entry["receipt"]["content"]["action_hash"] == h
    return n


def test_a_lone_writer_indexes_at_its_seals_and_readers_find_the_entries_past_the_index(
    tmp_path, key
):
    c = FileLedger(tmp_path, key=key, seal_every=5, seal_interval=3600)
    for i in range(8):
        c.append(_receipt(key, i))
    assert _index_matches_chain(tmp_path) == 6  # the seals after entries 0 and 5 wrote them
    reader = FileLedger(tmp_path)
    hashes = [json.loads(line)["receipt"]["content"]["action_hash"] for line in _lines(tmp_path)]
    for seq, h in enumerate(hashes):
        assert reader.receipt(h[:16])["content"]["action_hash"] == h
        assert json.loads(reader.line(seq))["seq"] == seq
        assert [s for s, _ in reader.entries(seq)] == list(range(seq, 8))
    c.close()
    assert _index_matches_chain(tmp_path) == 8


def test_writers_sharing_a_chain_keep_its_index_in_chain_order(tmp_path, key):
    a = FileLedger(tmp_path, key=key, seal_every=1000, seal_interval=3600)
    b = FileLedger(tmp_path, key=key, seal_every=1000, seal_interval=3600)
    n = 0
    for turn in range(12):
        # runs of different lengths: one writer alone for a while, then they alternate
        writer = a if turn % 2 == 0 else b
        for _ in range(1 + (turn * 5) % 7):
            writer.append(_receipt(key, n))
            n += 1
            _index_matches_chain(tmp_path)
    a.close()
    b.close()
    assert _index_matches_chain(tmp_path) == n
    verdict = verify_chain(tmp_path)
    assert verdict.ok and verdict.details["entries"] == n


def _killed_with_deferred_records(path, seed):
    k = SigningKey.from_private_bytes(seed)
    c = FileLedger(path, key=k, seal_every=1000, seal_interval=3600)
    for i in range(6):
        c.append(_receipt(k, 100 + i))
    os._exit(0)  # no close, no seal: its index records die with it


def test_records_a_killed_writer_deferred_are_rebuilt_from_the_chain(tmp_path):
    seed = os.urandom(32)
    k = SigningKey.from_private_bytes(seed)
    survivor = FileLedger(tmp_path, key=k, seal_every=1000, seal_interval=3600)
    survivor.append(_receipt(k, 0))
    survivor.append(_receipt(k, 1))
    survivor.seal()  # the other writer starts alone, so it defers its records
    proc = multiprocessing.get_context("fork").Process(
        target=_killed_with_deferred_records, args=(tmp_path, seed)
    )
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0
    assert _index_matches_chain(tmp_path) == 3  # a new writer seals at its first append
    survivor.append(_receipt(k, 2))
    survivor.close()
    assert _index_matches_chain(tmp_path) == 9
    for line in _lines(tmp_path):
        h = json.loads(line)["receipt"]["content"]["action_hash"]
        assert FileLedger(tmp_path).receipt(h)["content"]["action_hash"] == h
