"""heso side by side with other receipt/governance SDKs on the same logical action.

The peers are installed into their own environment, ``benchmarks/.peers-venv`` (gitignored,
created here with uv, pinned versions): they are never a dependency of heso. Their figures come
from ``benchmarks/peers/peer_bench.py`` run inside it; heso's from the same action through
``@heso.tool`` with a 100-rule policy, buffered durability. Every peer row is measured right
after a block of heso's own (``rounds`` times, each row in turn), so load that comes and goes
hits a peer and the heso figure it is compared with alike: a row's ratio is the median over
rounds of its p50 over the heso p50 measured just before it.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import HERE, call_args, gated_tool, machine, make_project, section_main

VENV = HERE / ".peers-venv"
PEERS = (
    "obsigna==0.16.0",
    "agent-receipts==0.12.0",
    "agent-governance-toolkit[core]==4.1.0",
    "provenrail==0.4.3",
    "signet-auth==0.11.0",
    "chain-receipt-core==0.1.4",
)
SIGNING_PEERS = (
    "obsigna",
    "agent_receipts_pem",
    "agent_governance_toolkit",
    "provenrail",
    "signet_auth",
    "chain_receipt_core",
)
"""The rows the 2x target applies to: each signs (or MACs) and chains every action."""
ROWS = (
    "obsigna",
    "obsigna_pem",
    "agent_receipts",
    "agent_receipts_pem",
    "agent_governance_toolkit",
    "provenrail",
    "provenrail_guarded",
    "signet_auth",
    "chain_receipt_core",
)
"""Every row ``peers/peer_bench.py`` reports (``--only`` one of them)."""


def _uv() -> list[str] | None:
    probe = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True)
    if probe.returncode == 0:
        return [sys.executable, "-m", "uv"]
    found = shutil.which("uv")
    return [found] if found else None


def ensure_venv() -> tuple[Path | None, str]:
    """The peers' interpreter (created and filled once), or ``None`` and why not."""
    python = VENV / "bin" / "python"
    marker = VENV / "heso-bench-peers.txt"
    wanted = "\n".join(PEERS)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python, "reused"
    uv = _uv()
    try:
        if uv is not None:
            subprocess.run(
                [*uv, "venv", "--clear", "--python", sys.executable, str(VENV)],
                check=True,
                capture_output=True,
            )
            subprocess.run(
                [*uv, "pip", "install", "--python", str(python), *PEERS],
                check=True,
                capture_output=True,
            )
        else:
            subprocess.run(
                [sys.executable, "-m", "venv", "--clear", str(VENV)],
                check=True,
                capture_output=True,
            )
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", *PEERS], check=True, capture_output=True
            )
    except subprocess.CalledProcessError as exc:
        err = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-3:]
        return None, f"cannot install the peers ({' '.join(exc.cmd[:4])}…): {' '.join(err)}"
    marker.write_text(wanted)
    return python, "installed"


def heso_side(tool: Any, calls: int, runs: int) -> float:
    """p50 µs of the gated call, timed call by call (as the peers are)."""
    clock = time.perf_counter_ns
    samples: list[int] = []
    k = 0
    for _ in range(runs):
        for _ in range(calls):
            t0 = clock()
            tool(*call_args(k))
            samples.append(clock() - t0)
            k += 1
    samples.sort()
    return samples[len(samples) // 2] / 1000


def run(quick: bool) -> dict[str, Any]:
    import heso

    out: dict[str, Any] = {"machine": machine(), "installed": list(PEERS)}
    python, how = ensure_venv()
    out["venv"] = how
    if python is None:
        out["skipped"] = how
        return out
    root = make_project(rules=100)
    os.environ["HESO_DURABILITY"] = "buffered"
    heso.init(project_root=root)
    tool = gated_tool()
    for i in range(500):
        tool(*call_args(i))
    calls, runs, rounds = (200, 2, 1) if quick else (2000, 5, 3)
    heso_p50: dict[str, list[float]] = {row: [] for row in ROWS}
    peer_rows: dict[str, list[dict[str, Any]]] = {row: [] for row in ROWS}
    for _ in range(rounds):
        for row in ROWS:
            heso_p50[row].append(heso_side(tool, calls, runs))
            proc = subprocess.run(
                [
                    str(python),
                    str(HERE / "peers" / "peer_bench.py"),
                    "--calls",
                    str(calls),
                    "--runs",
                    str(runs),
                    "--only",
                    row,
                ],
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
            if proc.returncode != 0:
                out["skipped"] = f"peer_bench failed: {proc.stderr.strip()[-500:]}"
                return out
            peer_rows[row].append(json.loads(proc.stdout.strip().splitlines()[-1])["peers"][row])
    heso.shutdown()
    every = [p for row in ROWS for p in heso_p50[row]]
    out["heso"] = {"p50_us": statistics.median(every), "rounds_p50_us": every}
    peers: dict[str, Any] = {}
    for name in ROWS:
        rows = peer_rows[name]
        first = rows[0]
        if "p50_us" not in first:
            peers[name] = {k: v for k, v in first.items() if k != "run_mean_us"}
            continue
        beside = heso_p50[name]
        speedups = [r["p50_us"] / h for r, h in zip(rows, beside, strict=True)]
        speedup = statistics.median(speedups)
        peers[name] = {
            "version": first.get("version"),
            "p50_us": statistics.median(r["p50_us"] for r in rows),
            "p99_us": statistics.median(r["p99_us"] for r in rows),
            "heso_p50_us": statistics.median(beside),
            "signs": first.get("signs"),
            "persists": first.get("persists"),
            "ratio_heso_to_peer": 1 / speedup,
            "heso_speedup": speedup,
            "rounds_speedup": speedups,
        }
        if "policy_only" in first:
            peers[name]["policy_only_p50_us"] = {
                k: statistics.median(r["policy_only"][k]["p50_us"] for r in rows)
                for k in first["policy_only"]
            }
    out["peers"] = peers
    out["targets_apply_to"] = [p for p in SIGNING_PEERS if "p50_us" in peers.get(p, {})]
    return out


if __name__ == "__main__":
    section_main(run)
