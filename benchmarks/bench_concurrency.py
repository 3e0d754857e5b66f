"""Concurrent gating: 8 threads in one process and 4 processes at once, ``fsync`` durability;
8 threads against one thread in ``buffered`` durability (runs interleaved).

Every acknowledged action must be on disk (``fsync``) before its body runs, so the throughput
depends on how many appends share one ``fsync`` (group commit). Each run gates a fixed number
of actions per worker after a common start signal; the figure is actions per second of wall
time. ``fsyncs`` counts ``os.fsync`` calls during the run (chain, signed head and index), so
``actions_per_fsync`` shows the sharing. The chain is verified afterwards.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    call_args,
    gated_tool,
    machine,
    make_project,
    section_main,
    summary,
)

_fsyncs = 0
_real_fsync = os.fsync


def _counting_fsync(fd: int) -> None:
    global _fsyncs
    _fsyncs += 1
    _real_fsync(fd)


def _init(root: Path, durability: str) -> Any:
    import heso

    os.environ["HESO_DURABILITY"] = durability
    heso.init(project_root=root)
    return gated_tool()


def threads_run(root: Path, durability: str, threads: int, per_worker: int) -> dict[str, Any]:
    """One run: ``threads`` threads, ``per_worker`` gated calls each, after one barrier."""
    global _fsyncs
    tool = _init(root, durability)
    tool(*call_args(0))  # open the chain before timing
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def work(w: int) -> None:
        barrier.wait()
        try:
            for i in range(per_worker):
                tool(*call_args(w * per_worker + i))
        except BaseException as exc:  # reported, not swallowed
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for t in pool:
        t.start()
    os.fsync = _counting_fsync
    _fsyncs = 0
    barrier.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    wall = time.perf_counter() - t0
    os.fsync = _real_fsync
    if errors:
        raise errors[0]
    total = threads * per_worker
    return {"per_s": total / wall, "fsyncs": _fsyncs, "actions": total}


def _process_worker(
    root: str, durability: str, per_worker: int, w: int, start: Any, q: Any
) -> None:
    global _fsyncs
    tool = _init(Path(root), durability)
    tool(*call_args(0))
    os.fsync = _counting_fsync
    _fsyncs = 0
    start.wait()
    for i in range(per_worker):
        tool(*call_args(w * per_worker + i))
    os.fsync = _real_fsync
    import heso

    heso.shutdown()
    q.put(_fsyncs)


def processes_run(root: Path, durability: str, procs: int, per_worker: int) -> dict[str, Any]:
    """One run: ``procs`` processes (forked before heso is initialised in them)."""
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    q = ctx.Queue()
    workers = [
        ctx.Process(target=_process_worker, args=(str(root), durability, per_worker, w, start, q))
        for w in range(procs)
    ]
    for p in workers:
        p.start()
    time.sleep(1.0)  # let every worker import, unlock its key and open the chain
    t0 = time.perf_counter()
    start.set()
    fsyncs = sum(q.get(timeout=600) for _ in workers)
    wall = time.perf_counter() - t0
    for p in workers:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"worker exited with {p.exitcode}")
    total = procs * per_worker
    return {"per_s": total / wall, "fsyncs": fsyncs, "actions": total}


def _figure(runs: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    fsyncs = sum(r["fsyncs"] for r in runs)
    actions = sum(r["actions"] for r in runs)
    return {
        "per_s": summary([r["per_s"] for r in runs]),
        "workers": workers,
        "actions_per_fsync": actions / fsyncs if fsyncs else None,
    }


def fsync_latency(directory: Path, n: int) -> dict[str, Any]:
    """This disk right now: append one 1.2 KB line and fsync it, ``n`` times (ms)."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    lat = []
    try:
        for _ in range(n):
            os.write(fd, b"x" * 1200 + b"\n")
            t0 = time.perf_counter()
            os.fsync(fd)
            lat.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    lat.sort()
    return {"p50": lat[len(lat) // 2], "p90": lat[int(len(lat) * 0.9)], "samples": n}


def handoff_us(rounds: int) -> float:
    """This machine right now: what passing control from one Python thread to another costs
    (a lock released for a sleeping thread, which wakes and takes the interpreter lock), µs:
    half of a ping-pong round trip between two threads, median of three runs. Threads gating
    at once only gain when the work they do without the interpreter lock (the signature)
    outweighs the handoffs it takes to run it beside another thread's Python."""
    ping, pong = threading.Lock(), threading.Lock()
    ping.acquire()
    pong.acquire()

    def other() -> None:
        for _ in range(rounds * 3):
            ping.acquire()
            pong.release()

    worker = threading.Thread(target=other)
    worker.start()
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(rounds):
            ping.release()
            pong.acquire()
        runs.append((time.perf_counter() - t0) / rounds / 2 * 1e6)
    worker.join()
    return sorted(runs)[1]


def run(quick: bool) -> dict[str, Any]:
    import heso

    per_thread, repeats = (50, 2) if quick else (600, 7)
    out: dict[str, Any] = {"machine": machine()}
    probe = make_project(rules=1)
    before = fsync_latency(probe, 20 if quick else 200)
    for durability in ("fsync", "buffered"):
        root = make_project(rules=100)
        if durability == "buffered":
            # One thread doing the same actions, interleaved run by run with the 8 threads.
            runs, single = [], []
            for _ in range(repeats):
                single.append(threads_run(root, durability, 1, per_thread * 8))
                runs.append(threads_run(root, durability, 8, per_thread))
            out["threads1_buffered"] = _figure(single, 1)
            one = out["threads1_buffered"]["per_s"]["median"]
            out["ratio_threads8_to_1_buffered"] = _figure(runs, 8)["per_s"]["median"] / one
        else:
            runs = [threads_run(root, durability, 8, per_thread) for _ in range(repeats)]
        out[f"threads8_{durability}"] = _figure(runs, 8)
        heso.shutdown()
        if durability == "fsync":
            runs = [processes_run(root, durability, 4, per_thread * 2) for _ in range(repeats)]
            out["processes4_fsync"] = _figure(runs, 4)
        verdict = heso.ledger.verify_chain(root / "heso-local-data")
        out[f"chain_valid_{durability}"] = verdict.ok
        out[f"chain_entries_{durability}"] = (verdict.details or {}).get("entries")
    after = fsync_latency(probe, 20 if quick else 200)
    out["fsync_latency_ms"] = {
        "p50": (before["p50"] + after["p50"]) / 2,
        "before": before,
        "after": after,
    }
    # With every action waiting for its own durability, 8 threads have at most 8 actions in
    # flight: no commit scheme exceeds 8 per fsync latency.
    out["threads8_fsync_bound_per_s"] = 8 / (out["fsync_latency_ms"]["p50"] / 1000)
    out["thread_handoff_us"] = handoff_us(200 if quick else 2000)
    return out


if __name__ == "__main__":
    section_main(run)
