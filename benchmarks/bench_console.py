"""``heso console`` on large stores: how fast the first page lists, and the server's memory.

For a 200,000- and a 1,000,000-receipt store (valid, sealed, written by
:func:`heso_testing.bigstore.write_ledger`), each run starts ``heso console`` afresh and, over
loopback HTTP:

* **cold first page**: from the server's start line to the first ``/api/receipts`` page (the
  index has not been built: the newest page is read from the store's end);
* **index build**: until the index has caught up (built in the background, from the store);
* **warm pages**: the first page, a page deep in the list, a filtered page and the timeline,
  once the index is built (medians of repeated requests);
* **append**: one entry appended, then the next page (only the new entry is read);
* **server memory**: peak resident memory of the server process while listing;
* **restart**: the console started again on the same store, taking up the index it kept on
  disk (``console-index``): the first page, the time until the index is taken up (filters
  cover every entry), the first filtered page then, and the time until the background
  rebuild from the store has checked the saved index (``index_check`` no longer
  ``checking``).

Verification (``/api/status``) is timed on the smaller store only: it is ``heso verify --chain``
(see ``bench_verify``), done once and then only for appended entries.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, machine, section_main

CONSOLE = (sys.executable, "-m", "heso", "console")


def build(root: Path, n: int) -> float:
    """A project with an ``n``-entry ledger under ``root`` (built once, reused)."""
    from heso.keys import SigningKey
    from heso_testing.bigstore import write_ledger

    marker = root / "complete"
    if marker.exists() and marker.read_text().split()[0] == str(n):
        return float(marker.read_text().split()[1])
    root.mkdir(parents=True, exist_ok=True)
    (root / "heso.toml").write_text('[policy]\ndefault = "allow"\n', encoding="utf-8")
    t = time.perf_counter()
    write_ledger(root / "heso-local-data", n, SigningKey.generate(), distinct=500)
    secs = time.perf_counter() - t
    marker.write_text(f"{n} {secs}")
    return secs


class Server:
    """``heso console`` on an ephemeral port, logged in, its peak RSS sampled."""

    def __init__(self, root: Path) -> None:
        self.proc = subprocess.Popen(
            [*CONSOLE, "--project", str(root), "--port", "0", "--no-browser", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.started = time.perf_counter()
        self.base = f"http://127.0.0.1:{info['port']}"
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.opener.open(info["url"]).read()
        self.peak_kib = 0
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.peak_kib = max(self.peak_kib, int(line.split()[1]))
            except OSError:
                return
            time.sleep(0.02)

    def get(self, path: str) -> tuple[float, Any]:
        t = time.perf_counter()
        with self.opener.open(self.base + path) as response:
            data = json.loads(response.read())
        return time.perf_counter() - t, data

    def close(self) -> None:
        self._stop.set()
        self.proc.terminate()
        self.proc.wait(timeout=30)


def median_get(server: Server, path: str, n: int = 5) -> float:
    return statistics.median(server.get(path)[0] for _ in range(n))


def first_page(server: Server, n: int, name: str) -> dict[str, Any]:
    """The first page's time, from the request and from the server's start line."""
    elapsed, first = server.get("/api/receipts?limit=100")
    since_start = time.perf_counter() - server.started
    assert first["total"] >= n and len(first["rows"]) == 100, first["total"]
    return {f"{name}_first_page_s": elapsed, f"{name}_first_page_since_start_s": since_start}


def until_indexed(server: Server, poll: float) -> float:
    """Seconds until the server's index covers the whole store."""
    t = time.perf_counter()
    while not server.get("/api/receipts?limit=1")[1]["complete"]:
        time.sleep(poll)
    return time.perf_counter() - t


def until_checked(server: Server, poll: float) -> float:
    """Seconds until the saved index taken up has been checked against the store."""
    t = time.perf_counter()
    while (check := server.get("/api/receipts?limit=1")[1]["index_check"]) == "checking":
        time.sleep(poll)
    assert check == "passed", check
    return time.perf_counter() - t


def append_one(root: Path) -> None:
    from heso.canonical import loads_strict
    from heso.ledger import FileLedger
    from heso.ledger import format as fmt

    data = root / "heso-local-data"
    last = FileLedger(data).line(_count(data) - 1)
    entry = loads_strict(last)
    line = fmt.encode_entry(entry["seq"] + 1, fmt.entry_hash(last), entry["receipt"])
    with open(data / fmt.CHAIN_FILE, "ab") as f:
        f.write(line + b"\n")


def _count(data: Path) -> int:
    from heso.ledger import index as idx

    return idx.count(data / idx.INDEX_FILE)


def one_run(root: Path, n: int, verify: bool) -> dict[str, Any]:
    server = Server(root)
    try:
        out = first_page(server, n, "cold")
        out["index_build_s"] = until_indexed(server, 0.2)
        out["warm_first_page_s"] = median_get(server, "/api/receipts?limit=100")
        out["deep_page_s"] = median_get(server, f"/api/receipts?limit=100&offset={n // 2}")
        out["filtered_page_s"] = median_get(
            server, "/api/receipts?limit=100&decision=block&account=acme", 3
        )
        out["timeline_s"] = median_get(server, "/api/timeline", 3)
        out["listing_peak_rss_mib"] = server.peak_kib / 1024
        if verify:
            t = time.perf_counter()
            server.get("/api/status")  # starts the check, waits for it a few seconds
            while server.get("/api/status")[1]["verdict"] is None:
                time.sleep(0.5)
            out["first_verification_s"] = time.perf_counter() - t
        append_one(root)
        t = time.perf_counter()
        _, page = server.get("/api/receipts?limit=100")
        out["page_after_append_s"] = time.perf_counter() - t
        assert page["rows"][0]["seq"] == page["total"] - 1
        if verify:
            out["verification_after_append_s"] = server.get("/api/status")[0]
        out["peak_rss_mib"] = server.peak_kib / 1024
        return out
    finally:
        server.close()
        _truncate_appended(root, n)


def restarted_run(root: Path, n: int) -> dict[str, Any]:
    """A console started again on the same store: it takes up the index it kept on disk
    (nothing to time for a store too small for the index to be kept)."""
    if not (root / "heso-local-data" / "console-index").exists():
        return {}
    server = Server(root)
    try:
        out = first_page(server, n, "restart")
        out["restart_index_ready_s"] = until_indexed(server, 0.05)
        elapsed, page = server.get("/api/receipts?limit=100&decision=block&account=acme")
        out["restart_filtered_page_s"] = elapsed
        assert page["complete"] and page["indexed"] >= n
        out["restart_index_checked_s"] = until_checked(server, 0.2)
        out["restart_peak_rss_mib"] = server.peak_kib / 1024
        return out
    finally:
        server.close()


def _truncate_appended(root: Path, n: int) -> None:
    """Put the store back to ``n`` entries (the appended one removed)."""
    from heso.ledger import format as fmt
    from heso.ledger import reader

    data = root / "heso-local-data"
    offset = reader.offset_of(data, n)
    if offset is not None:
        os.truncate(data / fmt.CHAIN_FILE, offset)


def run(quick: bool) -> dict[str, Any]:
    sizes = (5_000, 20_000) if quick else (200_000, 1_000_000)
    repeats = 1 if quick else 3
    out: dict[str, Any] = {"machine": machine(), "stores": {}}
    runs: dict[int, list[dict[str, Any]]] = {n: [] for n in sizes}
    roots = {n: RESULTS / f"console-store-{n}" for n in sizes}
    out["store_build_s"] = {str(n): build(roots[n], n) for n in sizes}
    for _ in range(repeats):  # interleaved: load that comes and goes hits every size
        for n in sizes:
            (roots[n] / "heso-local-data" / "console-index").unlink(missing_ok=True)
            fresh = one_run(roots[n], n, verify=n == sizes[0])
            runs[n].append({**fresh, **restarted_run(roots[n], n)})
    for n in sizes:
        keys = runs[n][0].keys()
        out["stores"][str(n)] = {
            k: {"median": statistics.median(r[k] for r in runs[n]), "runs": [r[k] for r in runs[n]]}
            for k in keys
        }
    return out


if __name__ == "__main__":
    section_main(run)
