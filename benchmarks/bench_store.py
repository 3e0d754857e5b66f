"""The PostgreSQL store: durable gated actions per second and gate latency with 1, 2 and 4
processes x 8 threads against one server on loopback (``synchronous_commit`` on), the file
store's ``fsync`` figure at 4 x 8 in the same run; ``verify --chain`` of the big store read from
the database against the same entries read from the file; and a prefix lookup in it.

The server is started from Debian's binaries (``initdb`` / ``pg_ctl``) in a temporary directory,
as the tests do. Each process gates ``per_thread`` actions per thread after a common start; the
figure is actions per second of wall time, and each call's latency is recorded.
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
    RESULTS,
    call_args,
    gated_tool,
    machine,
    make_project,
    quantile,
    section_main,
    summary,
)

THREADS = 8


def _worker(
    root: str, store: str, durability: str, per_thread: int, start: Any, ready: Any, q: Any
) -> None:
    import heso

    os.environ["HESO_STORE"] = store
    os.environ["HESO_DURABILITY"] = durability
    heso.init(project_root=root)
    tool = gated_tool()
    tool(*call_args(0))  # open the store before timing
    lat: list[float] = []
    barrier = threading.Barrier(THREADS + 1)

    def work(w: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            t = time.perf_counter_ns()
            tool(*call_args(w * per_thread + i))
            lat.append((time.perf_counter_ns() - t) / 1e6)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(THREADS)]
    for t in threads:
        t.start()
    ready.put(os.getpid())
    start.wait()
    barrier.wait()
    for t in threads:
        t.join()
    heso.shutdown()
    q.put(lat)


def gate_run(
    root: Path, store: str, durability: str, procs: int, per_thread: int
) -> dict[str, Any]:
    """``procs`` processes x 8 threads gating at once: actions/s of wall time, and latencies."""
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    q = ctx.Queue()
    ready = ctx.Queue()
    workers = [
        ctx.Process(
            target=_worker, args=(str(root), store, durability, per_thread, start, ready, q)
        )
        for _ in range(procs)
    ]
    for p in workers:
        p.start()
    for _ in workers:  # every worker imported, unlocked its key and opened the store
        ready.get(timeout=300)
    t0 = time.perf_counter()
    start.set()
    lat: list[float] = []
    for _ in workers:
        lat.extend(q.get(timeout=900))
    wall = time.perf_counter() - t0
    for p in workers:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"worker exited with {p.exitcode}")
    lat.sort()
    total = procs * THREADS * per_thread
    return {"per_s": total / wall, "p50_ms": quantile(lat, 0.5), "p99_ms": quantile(lat, 0.99)}


def _figure(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "per_s": summary([r["per_s"] for r in runs]),
        "p50_ms": summary([r["p50_ms"] for r in runs])["median"],
        "p99_ms": summary([r["p99_ms"] for r in runs])["median"],
    }


def run(quick: bool) -> dict[str, Any]:
    from bench_verify import build_store

    from heso.database import Database, migrate
    from heso.ledger import FileLedger, verify_ledger
    from heso.ledger.postgres_store import PostgresLedger
    from heso.ledger.transfer import copy_to_database
    from heso_testing.postgres import find_bindir, running_postgres

    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found (install Debian's postgresql)")
    per_thread, repeats = (20, 1) if quick else (250, 3)
    store_n = 5_000 if quick else 1_000_000
    out: dict[str, Any] = {"machine": machine(), "threads": THREADS}
    with running_postgres(bindir) as server:
        # -- gated actions/s ---------------------------------------------------------------
        for procs in (1, 2, 4):
            runs = []
            for _ in range(repeats):
                url = server.new_database()
                migrate(Database(url))
                runs.append(gate_run(make_project(rules=100), url, "buffered", procs, per_thread))
            out[f"pg_{procs}x{THREADS}"] = _figure(runs)
        runs = [
            gate_run(make_project(rules=100), "file", "fsync", 4, per_thread)
            for _ in range(repeats)
        ]
        out[f"file_fsync_4x{THREADS}"] = _figure(runs)

        # -- verify the big store from the database and from the file ------------------------
        big = RESULTS / f"store-{store_n}"
        build_store(big, store_n)
        url = server.new_database()
        migrate(Database(url))
        t = time.perf_counter()
        copy_to_database(FileLedger(big / "heso-local-data"), url, verify_ledger)
        out["copy_to_database_s"] = time.perf_counter() - t
        file_s, db_s = [], []
        for _ in range(max(repeats, 2)):
            for label, store, series in (
                ("file", FileLedger(big / "heso-local-data"), file_s),
                ("db", PostgresLedger(url), db_s),
            ):
                t = time.perf_counter()
                verdict = verify_ledger(store)
                series.append(time.perf_counter() - t)
                if not verdict.ok or verdict.details["entries"] != store_n:
                    raise RuntimeError(f"{label}: {verdict}")
        out["verify_chain_file_s"] = summary(file_s, entries=store_n)
        out["verify_chain_db_s"] = summary(db_s, entries=store_n)
        out["ratio_verify_db_to_file"] = (
            out["verify_chain_db_s"]["median"] / out["verify_chain_file_s"]["median"]
        )
        reader = PostgresLedger(url)
        last = reader.line(store_n - 1)
        import json

        prefix = json.loads(last)["receipt"]["content"]["action_hash"][:12]
        from heso.receipt import verify_receipt

        walls = []
        for _ in range(20):
            t = time.perf_counter()
            receipt = reader.receipt(prefix)
            assert verify_receipt(receipt).ok
            walls.append((time.perf_counter() - t) * 1000)
        out["prefix_verify_db_ms"] = summary(walls, entries=store_n)
        reader.db.close()
    return out


if __name__ == "__main__":
    section_main(run)
