"""Exactly once: eight processes resume the same approved session at the same moment."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import heso
from heso.ledger import verify_chain

WORKERS = 8


def _wire(fired_log: Path):
    @heso.gated
    def wire_transfer(to: str, amount: int) -> str:
        fd = os.open(fired_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{os.getpid()}\n".encode())
        finally:
            os.close(fd)
        return "sent"

    return wire_transfer


def _resume_in_child(root: str, fired_log: str, barrier, results) -> None:
    try:
        heso.init(project_root=root)
        wire = _wire(Path(fired_log))
        barrier.wait(timeout=60)
        outcome = wire("ACME", 250_000, _heso_session="s-race")
        results.put((os.getpid(), repr(outcome)))
    except BaseException as exc:  # reported to the parent, which fails the test
        results.put((os.getpid(), f"error: {type(exc).__name__}: {exc}"))


def test_eight_processes_fire_the_body_exactly_once(approvals, tmp_path):
    fired_log = tmp_path / "fired.log"
    wire = _wire(fired_log)
    assert wire("ACME", 250_000, _heso_session="s-race") is heso.SUSPENDED
    (row,) = approvals.pending()
    approvals.approve(row["action_hash"], "alice")
    approvals.approve(row["action_hash"], "bob")
    heso.shutdown()

    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_resume_in_child,
            args=(str(approvals.root), str(fired_log), barrier, results),
        )
        for _ in range(WORKERS)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0

    by_result = sorted(r for _, r in outcomes)
    assert by_result == ["'sent'"] + ["heso.SUSPENDED"] * (WORKERS - 1), outcomes
    fired = fired_log.read_text().split()
    winner = next(pid for pid, r in outcomes if r == "'sent'")
    assert fired == [str(winner)]

    approvals.init()
    assert heso.decision("s-race") == "completed"
    kinds = approvals.kinds("s-race")
    assert kinds.count("finalized") == 1 and kinds.count("fired") == 1
    assert approvals.lifecycle("s-race")[-2]["pid"] == winner
    # One L1 receipt, appended once, and the chain is intact.
    l1s = [r for r in approvals.project.receipts() if "multi_approval" in r]
    assert len(l1s) == 1 and l1s[0]["content"]["action_hash"] == row["action_hash"]
    verdict = verify_chain(
        approvals.project.data_dir, approver_keys=approvals.registry().approver_keys()
    )
    assert verdict.ok and verdict.details["l1_receipts"] == 1


def test_threads_of_one_process_fire_the_body_exactly_once(approvals, tmp_path):
    import threading

    fired_log = tmp_path / "fired.log"
    wire = _wire(fired_log)
    wire("Initech", 99_000, _heso_session="s-threads")
    (row,) = approvals.pending()
    approvals.approve(row["action_hash"], "alice")
    approvals.approve(row["action_hash"], "carol")
    barrier = threading.Barrier(WORKERS)
    results: list[object] = []

    def resume() -> None:
        barrier.wait(timeout=60)
        results.append(wire("Initech", 99_000, _heso_session="s-threads"))

    threads = [threading.Thread(target=resume) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(map(repr, results)) == ["'sent'"] + ["heso.SUSPENDED"] * (WORKERS - 1)
    assert len(fired_log.read_text().split()) == 1
