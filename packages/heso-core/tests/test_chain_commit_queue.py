"""``fsync`` durability goes through a commit queue: threads appending at once share one write
and one ``fsync``, every append still gets its own entry, and a bad receipt fails alone."""

import multiprocessing
import os
import threading
import time

import pytest

from heso.errors import ChainError
from heso.keys import SigningKey
from heso.ledger import FileLedger, verify_chain
from heso.ledger import format as fmt
from heso.ledger.file_store import LOCK_FILE
from heso.receipt import build_content, mint


@pytest.fixture(scope="module")
def key():
    return SigningKey.generate()


def _receipt(key, i, size=1):
    return mint(
        build_content(
            captured_at="2026-01-02T03:04:05Z",
            agent_identity=key.public_key().to_str(),
            action={
                "verb": "tool_call",
                "tool_name": "send_email",
                "workflow": "default",
                "account": "default",
                "fields": {"i": i, "pad": "x" * size},
            },
            policy={
                "rule_id": "r",
                "rule_display": "r",
                "matched_conditions": [],
                "decision_path": "rule:r",
                "decision": "allow",
            },
        ),
        key,
    )


def test_threads_share_fsyncs_and_each_gets_its_entry(tmp_path, key, monkeypatch):
    fsyncs = []
    real = os.fsync

    def counting(fd):
        fsyncs.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    c = FileLedger(tmp_path, key=key, durability="fsync")
    threads, per = 8, 40
    results: dict[int, list] = {}
    barrier = threading.Barrier(threads)

    def work(w):
        barrier.wait()
        results[w] = [(c.append(r := _receipt(key, w * per + i)), r) for i in range(per)]

    pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    c.close()
    pairs = [p for w in range(threads) for p in results[w]]
    assert sorted(e.seq for e, _ in pairs) == list(range(threads * per))
    lines = (tmp_path / fmt.CHAIN_FILE).read_bytes()
    for entry, receipt in pairs:
        line = lines[entry.offset : lines.index(b"\n", entry.offset)]
        assert fmt.entry_hash(line) == entry.entry_hash
        assert receipt.canonical in line
    assert verify_chain(tmp_path).ok
    assert len(fsyncs) < threads * per  # appends waiting together shared their fsync
    assert [h for h, _ in FileLedger(tmp_path).find(pairs[-1][1]["content"]["action_hash"][:16])]


def test_a_receipt_that_cannot_be_written_fails_alone(tmp_path, key, monkeypatch):
    c = FileLedger(tmp_path, key=key, durability="fsync")
    c.append(_receipt(key, 0))
    monkeypatch.setattr(fmt, "MAX_ENTRY_BYTES", 4096)
    with pytest.raises(ChainError, match="refusing to append"):
        c.append(_receipt(key, 1, size=10_000))
    entry = c.append(_receipt(key, 2))
    c.close()
    assert entry.seq == 1
    assert verify_chain(tmp_path).ok


def _child_appends(path, seed):
    child_key = SigningKey.from_private_bytes(seed)
    c = FileLedger(path, key=child_key, durability="fsync")
    c.append(_receipt(child_key, 100))
    c.close()


def test_a_forked_child_appends_through_its_own_queue(tmp_path, key):
    seed = os.urandom(32)
    k = SigningKey.from_private_bytes(seed)
    c = FileLedger(tmp_path, key=k, durability="fsync")
    c.append(_receipt(k, 0))
    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=_child_appends, args=(str(tmp_path), seed))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    assert c.append(_receipt(k, 1)).seq == 2
    c.close()
    assert verify_chain(tmp_path).details["entries"] == 3


def test_buffered_appends_that_find_the_chain_busy_queue_and_link_in_order(tmp_path, key):
    """In ``buffered`` durability an append that finds another thread holding the chain waits
    in the commit queue (one write for the batch) instead of contending for the lock; every
    append still gets its own entry and the chain verifies."""
    c = FileLedger(tmp_path, key=key, durability="buffered")
    c.append(_receipt(key, -1))  # the first append opens and seals the chain
    queued = []
    real_queued = c._append_queued

    def counting(receipt):
        queued.append(receipt)
        return real_queued(receipt)

    c._append_queued = counting
    threads, per = 8, 10
    receipts = [[_receipt(key, w * per + i) for i in range(per)] for w in range(threads)]
    results: dict[int, list] = {}

    def work(w):
        results[w] = [(c.append(r), r) for r in receipts[w]]

    pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    with c._lock:  # another thread is linking: every first append finds the chain busy
        for t in pool:
            t.start()
        deadline = time.monotonic() + 30
        while len(queued) < threads and time.monotonic() < deadline:
            time.sleep(0.001)
        assert len(queued) == threads
    for t in pool:
        t.join()
    c.close()
    pairs = [p for w in range(threads) for p in results[w]]
    assert sorted(e.seq for e, _ in pairs) == list(range(1, threads * per + 1))
    lines = (tmp_path / fmt.CHAIN_FILE).read_bytes()
    for entry, receipt in pairs:
        line = lines[entry.offset : lines.index(b"\n", entry.offset)]
        assert fmt.entry_hash(line) == entry.entry_hash
        assert receipt.canonical in line
    for w in range(threads):  # each thread's appends land in its own order
        seqs = [e.seq for e, _ in results[w]]
        assert seqs == sorted(seqs)
    assert verify_chain(tmp_path).ok


def test_appends_queued_while_another_process_holds_the_chain_join_the_leaders_write(tmp_path, key):
    """The leader waits for the chain lock another process holds; the appends that queue
    meanwhile are written with its line, in one ``write`` and one ``fsync``."""
    import fcntl

    c = FileLedger(tmp_path, key=key, durability="fsync")
    c.append(_receipt(key, 0))
    writes: list[bytes] = []
    real_write = c._write_line

    def counting(data):
        writes.append(data)
        real_write(data)

    c._write_line = counting
    other = os.open(tmp_path / LOCK_FILE, os.O_RDWR)  # another process's hold
    fcntl.flock(other, fcntl.LOCK_EX)
    entries = []
    leader = threading.Thread(target=lambda: entries.append(c.append(_receipt(key, 1))))
    leader.start()
    deadline = time.monotonic() + 30
    while not c._committing and time.monotonic() < deadline:
        time.sleep(0.005)
    followers = [
        threading.Thread(target=lambda i=i: entries.append(c.append(_receipt(key, i))))
        for i in range(2, 7)
    ]
    for t in followers:
        t.start()
    while len(c._queue) < len(followers) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(c._queue) == len(followers)
    fcntl.flock(other, fcntl.LOCK_UN)
    os.close(other)
    for t in (leader, *followers):
        t.join(30)
    c.close()
    assert sorted(e.seq for e in entries) == [1, 2, 3, 4, 5, 6]
    assert len(writes) == 1 and writes[0].count(b"\n") == 6
    assert verify_chain(tmp_path).ok
