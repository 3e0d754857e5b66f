"""The PostgreSQL store: durable gated actions per second and gate latency with 1, 2 and 4
processes x 8 threads against one server on loopback (``synchronous_commit`` on), the file
store's ``fsync`` figure at 4 x 8 in the same run; ``verify --chain`` of the big store read from
the database against the same entries read from the file; and a prefix lookup in it.
Each gate run also reports the CPU time per action spent in the clients and in the server
(on a 2-core machine their sum bounds the rate).

The server is started from Debian's binaries (``initdb`` / ``pg_ctl``) in a temporary directory,
as the tests do. Each process gates ``per_thread`` actions per thread after a common start; the
figure is actions per second of wall time, and each call's latency is recorded.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
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
    before = resource.getrusage(resource.RUSAGE_SELF)
    barrier.wait()
    for t in threads:
        t.join()
    heso.shutdown()
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    q.put((lat, cpu))


def _server_cpu(data: Path | None) -> float:
    """CPU seconds the server's processes have used (live ones and reaped ones)."""
    if data is None:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pm = int((data / "postmaster.pid").read_text().split()[0])
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == pm:
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        elif ppid == pm:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def gate_run(
    root: Path,
    store: str,
    durability: str,
    procs: int,
    per_thread: int,
    server_data: Path | None = None,
) -> dict[str, Any]:
    """``procs`` processes x 8 threads gating at once: actions/s of wall time, latencies, and
    CPU microseconds per action in the clients and (given its data directory) the server."""
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
    server0 = _server_cpu(server_data)
    t0 = time.perf_counter()
    start.set()
    lat: list[float] = []
    client = 0.0
    for _ in workers:
        got, cpu = q.get(timeout=900)
        lat.extend(got)
        client += cpu
    wall = time.perf_counter() - t0
    server = _server_cpu(server_data) - server0
    for p in workers:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"worker exited with {p.exitcode}")
    lat.sort()
    total = procs * THREADS * per_thread
    return {
        "per_s": total / wall,
        "p50_ms": quantile(lat, 0.5),
        "p99_ms": quantile(lat, 0.99),
        "client_cpu_us": client / total * 1e6,
        "server_cpu_us": server / total * 1e6,
    }


def _figure(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "per_s": summary([r["per_s"] for r in runs]),
        **{
            k: summary([r[k] for r in runs])["median"]
            for k in ("p50_ms", "p99_ms", "client_cpu_us", "server_cpu_us")
        },
    }


def run(
    quick: bool,
    *,
    throughput_only: bool = False,
    procs_list: tuple[int, ...] = (1, 2, 4),
    repeats: int | None = None,
) -> dict[str, Any]:
    from bench_verify import build_store

    from heso.database import Database, migrate
    from heso.ledger import FileLedger, verify_ledger
    from heso.ledger.postgres_store import PostgresLedger
    from heso.ledger.transfer import copy_to_database
    from heso_testing.postgres import find_bindir, running_postgres

    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found (install Debian's postgresql)")
    per_thread, default_repeats = (20, 1) if quick else (250, 3)
    repeats = repeats or default_repeats
    store_n = 5_000 if quick else 1_000_000
    out: dict[str, Any] = {"machine": machine(), "threads": THREADS}
    with running_postgres(bindir) as server:
        # -- gated actions/s ---------------------------------------------------------------
        # Interleaved: each repeat runs every configuration once, the file store's included.
        series: dict[str, list[dict[str, Any]]] = {}
        for _ in range(repeats):
            for procs in procs_list:
                url = server.new_database()
                migrate(Database(url))
                series.setdefault(f"pg_{procs}x{THREADS}", []).append(
                    gate_run(
                        make_project(rules=100),
                        url,
                        "buffered",
                        procs,
                        per_thread,
                        server.root / "data",
                    )
                )
            series.setdefault(f"file_fsync_4x{THREADS}", []).append(
                gate_run(make_project(rules=100), "file", "fsync", 4, per_thread)
            )
        out.update({name: _figure(runs) for name, runs in series.items()})
        if throughput_only:
            return out

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


def main() -> None:
    """As :func:`common.section_main`, plus ``--throughput-only`` (skip the 1M-entry verify)
    and ``--procs 4`` (only those process counts)."""
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--throughput-only", action="store_true", help="skip the verify part")
    ap.add_argument("--procs", default="1,2,4", help="process counts, comma-separated")
    ap.add_argument("--repeats", type=int, default=None, help="interleaved repeats")
    args, rest = ap.parse_known_args()
    procs = tuple(int(p) for p in args.procs.split(","))
    sys.argv[1:] = rest

    def section(quick: bool) -> dict[str, Any]:
        return run(
            quick, throughput_only=args.throughput_only, procs_list=procs, repeats=args.repeats
        )

    section_main(section)


if __name__ == "__main__":
    main()
