"""Concurrency: 4 processes x 8 threads, plus asyncio tasks, gating against one project.

The result must be one consistent chain: every action exactly once (no lost, duplicated or
forked entries), every body run exactly once and after its receipt, every entry found by its
hash prefix, the head covering everything once the writers closed. Then the same crowd resumes
approved ``@heso.gated`` sessions at once: each body fires exactly once, with one L1 receipt.
Both campaigns run against both stores (``store``: files, and PostgreSQL on the test session's
server) and read the result only through the store-independent ledger API.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from heso.ledger import verify_chain

PROCESSES = 4
THREADS = 8
TASKS = 16
PASSPHRASE = "approver passphrase for the concurrency suite"


def _append(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _gating_process(
    root: str, effects: str, proc: int, per_thread: int, barrier: Any, errors: Any
) -> None:
    """One process: THREADS threads and an event loop with TASKS tasks, all gating."""
    import heso

    try:
        heso.init(project_root=root)

        @heso.tool(redact=["token"])
        def deliver(uid: str, token: str) -> None:
            _append(effects, f"{uid} {heso.current_action_hash()}\n")

        @heso.tool(redact=["token"])
        async def deliver_async(uid: str, token: str) -> None:
            await asyncio.sleep(0)
            _append(effects, f"{uid} {heso.current_action_hash()}\n")

        def thread(t: int) -> None:
            try:
                for k in range(per_thread):
                    deliver(f"p{proc}-t{t}-{k}", f"secret-{proc}-{t}-{k}")
            except BaseException as exc:
                errors.put(f"process {proc} thread {t}: {type(exc).__name__}: {exc}")

        async def tasks() -> None:
            await asyncio.gather(
                *(deliver_async(f"p{proc}-a{k}", f"secret-a-{proc}-{k}") for k in range(TASKS))
            )

        threads = [threading.Thread(target=thread, args=(t,)) for t in range(THREADS)]
        barrier.wait(timeout=120)
        for t in threads:
            t.start()
        asyncio.run(tasks())
        for t in threads:
            t.join()
        heso.shutdown()
    except BaseException as exc:  # reported to the parent, which fails the test
        errors.put(f"process {proc}: {type(exc).__name__}: {exc}")
        raise


PER_THREAD = {"buffered": 100, "fsync": 20, "database": 25}
"""Actions per thread: on files by durability; on PostgreSQL durability is the database's."""


@pytest.mark.parametrize(
    ("store", "durability"),
    [("file", "buffered"), ("file", "fsync"), ("postgresql", "database")],
    indirect=["store"],
)
def test_processes_threads_and_tasks_share_one_consistent_chain(
    tmp_path: Path,
    clean_heso_env: None,
    monkeypatch: pytest.MonkeyPatch,
    store: Any,
    durability: str,
    figures: Any,
    soak: bool,
) -> None:
    from heso_testing.project import make_project

    if not store.postgresql:
        monkeypatch.setenv("HESO_DURABILITY", durability)
    per_thread = PER_THREAD[durability] * (10 if soak else 1)
    root = tmp_path / "p"
    make_project(root, '[policy]\ndefault = "allow"\n')
    store.env(root, monkeypatch)
    effects = tmp_path / "effects.log"
    ctx = multiprocessing.get_context("fork")
    barrier, errors = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [
        ctx.Process(
            target=_gating_process,
            args=(str(root), str(effects), p, per_thread, barrier, errors),
        )
        for p in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=600)
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    assert problems == [] and [p.exitcode for p in procs] == [0] * PROCESSES

    expected = {
        *(
            f"p{p}-t{t}-{k}"
            for p in range(PROCESSES)
            for t in range(THREADS)
            for k in range(per_thread)
        ),
        *(f"p{p}-a{k}" for p in range(PROCESSES) for k in range(TASKS)),
    }
    ledger = store.reader(root)
    verdict = verify_chain(ledger, require_sealed=True)
    assert verdict.ok, verdict
    assert verdict.details["entries"] == len(expected)
    in_chain = Counter()
    hashes = []
    for _, line in ledger.entries():
        receipt = json.loads(line)["receipt"]
        in_chain[receipt["content"]["action"]["fields"]["uid"]] += 1
        hashes.append(receipt["content"]["action_hash"])
    assert set(in_chain) == expected and set(in_chain.values()) == {1}  # none lost, none twice
    ran = Counter()
    for row in effects.read_text().splitlines():
        uid, action_hash = row.split()
        ran[uid] += 1
        assert action_hash in hashes
    assert set(ran) == expected and set(ran.values()) == {1}  # every body once
    for seq, h in enumerate(hashes):  # the lookups (index, or lookup column) are complete
        assert ledger.find(h) == [(h, seq)]
    for h in random.sample(hashes, 50):
        assert ledger.receipt(h[:16])["content"]["action_hash"] == h
    figures.add(f"concurrency.{store.kind}.{durability}.entries", len(expected))
    figures.set_max("concurrency.writer_processes", PROCESSES)
    figures.set_max("concurrency.threads_per_process", THREADS)
    figures.set_max("concurrency.asyncio_tasks_per_process", TASKS)


# -- exactly-once @heso.gated ------------------------------------------------------------------

APPROVAL_POLICY = """
[policy]
default = "allow"

[[rule]]
id = "wires-need-finance"
verb = "tool_call"
scope = "wire_transfer"
decision = "require_approval"
approvers = ["finance"]

[approvers.finance]
members = {{ alice = "{alice}" }}
"""


def _wire(fired: str) -> Any:
    import heso

    @heso.gated
    def wire_transfer(to: str, amount: int) -> str:
        _append(fired, f"{to}\n")
        return "sent"

    return wire_transfer


def _resuming_process(
    root: str, fired: str, sessions: list[str], proc: int, barrier: Any, results: Any
) -> None:
    """THREADS threads, each resuming every session once, in its own order."""
    import heso

    try:
        heso.init(project_root=root)
        wire = _wire(fired)
        outcomes: list[str] = []
        lock = threading.Lock()

        def thread(t: int) -> None:
            order = list(sessions)
            random.Random(proc * 100 + t).shuffle(order)
            for s in order:
                try:
                    out = repr(wire(s, 1_000, _heso_session=s))
                except BaseException as exc:
                    out = f"error: {type(exc).__name__}: {exc}"
                with lock:
                    outcomes.append(f"{s}:{out}")

        threads = [threading.Thread(target=thread, args=(t,)) for t in range(THREADS)]
        barrier.wait(timeout=120)
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        heso.shutdown()
        results.put((proc, outcomes))
    except BaseException as exc:
        results.put((proc, [f"error: {type(exc).__name__}: {exc}"]))
        raise


SESSIONS = {"file": 24, "postgresql": 12}


@pytest.mark.parametrize("store", ["file", "postgresql"], indirect=True)
def test_a_crowd_resuming_approved_sessions_fires_each_body_exactly_once(
    tmp_path: Path,
    clean_heso_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    store: Any,
    figures: Any,
    soak: bool,
) -> None:
    import heso
    from heso.approvals.identity import new_approver
    from heso.approvals.registry import load_project_registry
    from heso.cli import main
    from heso_testing.project import make_project

    monkeypatch.setenv("HESO_APPROVER_PASSPHRASE", PASSPHRASE)
    _, alice = new_approver("alice")
    root = tmp_path / "p"
    make_project(root, APPROVAL_POLICY.format(alice=alice))
    store.env(root, monkeypatch)
    fired = tmp_path / "fired.log"
    sessions = [f"s-{k}" for k in range(SESSIONS[store.kind] * (5 if soak else 1))]
    heso.init(project_root=root)
    wire = _wire(str(fired))
    for s in sessions:
        assert wire(s, 1_000, _heso_session=s) is heso.SUSPENDED
    heso.shutdown()
    code, pending = _cli(main, capsys, root, "approvals", "list")
    assert code == 0 and len(pending) == len(sessions)
    for row in pending:
        code, out = _cli(main, capsys, root, "approve", row["action_hash"][:16], "--as", "alice")
        assert code == 0, out

    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [
        ctx.Process(
            target=_resuming_process,
            args=(str(root), str(fired), sessions, p, barrier, results),
        )
        for p in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    outcomes = [o for _ in procs for o in results.get(timeout=600)[1]]
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * PROCESSES, outcomes

    by_session = Counter(o.split(":")[0] for o in outcomes if o.endswith(":'sent'"))
    assert by_session == Counter(sessions), outcomes  # exactly one caller fired each
    others = {o.split(":", 1)[1] for o in outcomes if not o.endswith(":'sent'")}
    assert others == {"heso.SUSPENDED"}, others
    assert Counter(fired.read_text().split()) == Counter(sessions)  # each body ran once
    registry = load_project_registry(root)
    verdict = verify_chain(
        store.reader(root), approver_keys=registry.approver_keys(), require_sealed=True
    )
    assert verdict.ok and verdict.details["l1_receipts"] == len(sessions), verdict
    figures.add(f"concurrency.{store.kind}.gated_sessions_fired_exactly_once", len(sessions))
    figures.add(f"concurrency.{store.kind}.gated_concurrent_resume_calls", len(outcomes))


def _cli(main: Any, capsys: pytest.CaptureFixture[str], root: Path, *argv: str) -> Any:
    capsys.readouterr()
    code = main([*argv, "--project", str(root), "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None
