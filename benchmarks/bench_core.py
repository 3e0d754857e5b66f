"""Receipt and chain figures: the cryptographic floor, mint+append, chain verify, prefix lookup.

Run: ``python benchmarks/bench_core.py [--store-size 1000000] [--json out.json]``.
Prints figures and ratios against the targets; never asserts. The 1M-receipt store is built
once under ``benchmarks/results/`` (gitignored) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import blake3

from heso import chain as ch
from heso.canonical import canonical_bytes
from heso.keys import SigningKey
from heso.receipt import build_content, mint

RESULTS = Path(__file__).resolve().parent / "results"


def typical_content(key: SigningKey, i: int = 0) -> dict[str, Any]:
    """A realistic receipt content: a tool call with a handful of fields."""
    return build_content(
        captured_at="2026-01-02T03:04:05.123456Z",
        agent_identity=key.public_key().to_str(),
        action={
            "verb": "tool_call",
            "tool_name": "send_email",
            "workflow": "support-triage",
            "account": "acme",
            "fields": {
                "to": "customer@example.com",
                "subject": f"Re: order #{1000 + i}",
                "body": "Thanks for reaching out. Your refund has been processed. " * 3,
                "cc": ["team@example.com"],
                "priority": 2,
            },
        },
        policy={
            "rule_id": "internal-email-ok",
            "rule_display": "recipient is internal",
            "matched_conditions": [
                {"field": "to", "op": "ends_with", "value": "@example.com",
                 "display": "recipient is internal"}
            ],
            "decision_path": "rule:internal-email-ok",
            "decision": "allow",
        },
    )


def per_op(fn: Any, n: int, repeats: int = 5) -> dict[str, float]:
    """Microseconds per call: min/median/max over ``repeats`` runs of ``n`` calls."""
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        for i in range(n):
            fn(i)
        runs.append((time.perf_counter() - t) / n * 1e6)
    return {"min": min(runs), "median": statistics.median(runs), "max": max(runs)}


def floor(key: SigningKey, n: int) -> dict[str, float]:
    content = typical_content(key)
    return per_op(lambda i: key.sign(blake3.blake3(canonical_bytes(content)).digest()), n)


def mint_append(key: SigningKey, n: int, durability: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        c = ch.Chain(d, key=key, durability=durability)
        contents = [typical_content(key, i) for i in range(n)]
        res = per_op(lambda i: c.append(mint(contents[i % n], key)), n, repeats=3)
        c.close()
    return res


def raw_verify_rate(key: SigningKey, n: int) -> float:
    pub = key.public_key()
    msg = b"x" * 87
    sig = key.sign(msg)
    t = time.perf_counter()
    for _ in range(n):
        pub.verify(sig, msg)
    return n / (time.perf_counter() - t)


def build_store(path: Path, size: int, key: SigningKey) -> None:
    """Mint ``size`` receipts into a chain at ``path`` (once; reused across runs)."""
    marker = path / "complete"
    if marker.exists() and int(marker.read_text()) == size:
        return
    if path.exists():
        for f in path.iterdir():
            f.unlink()
    c = ch.Chain(path, key=key, seal_every=100_000, seal_interval=3600)
    t = time.perf_counter()
    for i in range(size):
        c.append(mint(typical_content(key, i), key))
        if i and i % 100_000 == 0:
            print(f"  built {i:,} receipts ({time.perf_counter() - t:.0f}s)", file=sys.stderr)
    c.close()
    marker.write_text(str(size))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store-size", type=int, default=1_000_000)
    ap.add_argument("--n", type=int, default=5000, help="iterations per micro-benchmark")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = ap.parse_args()
    key = SigningKey.generate()
    out: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}

    out["floor_us"] = floor(key, args.n)
    out["mint_append_buffered_us"] = mint_append(key, args.n, "buffered")
    out["mint_append_fsync_us"] = mint_append(key, min(args.n, 2000), "fsync")
    f = out["floor_us"]["median"]
    out["ratio_buffered_to_floor"] = out["mint_append_buffered_us"]["median"] / f
    out["ratio_fsync_to_floor"] = out["mint_append_fsync_us"]["median"] / f

    with tempfile.TemporaryDirectory() as d:
        c = ch.Chain(d, key=key)
        for i in range(20_000):
            c.append(mint(typical_content(key, i), key))
        c.close()
        raw = raw_verify_rate(key, 20_000)
        for label, workers in (("single_core", 1), ("all_cores", os.cpu_count() or 1)):
            t = time.perf_counter()
            verdict = ch.verify_chain(d, workers=workers)
            rate = 20_000 / (time.perf_counter() - t)
            assert verdict.ok, str(verdict)
            out[f"chain_verify_{label}_per_s"] = rate
        out["raw_verify_per_s"] = raw
        cores = os.cpu_count() or 1
        out["chain_verify_vs_raw_all_cores"] = out["chain_verify_all_cores_per_s"] / (raw * cores)

    project = RESULTS / f"store-{args.store_size}"
    store = project / "heso-local-data"
    store.mkdir(parents=True, exist_ok=True)
    build_store(store, args.store_size, key if not (store / "complete").exists() else key)
    target_hash = None
    for _, line in ch.iter_entries(store):
        target_hash = json.loads(line)["receipt"]["content"]["action_hash"]
    assert target_hash is not None
    (project / "heso.toml").write_text("[policy]\ndefault = \"allow\"\n")
    walls = []
    for _ in range(5):
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "heso", "verify", target_hash[:12], "--project",
             str(project), "--json"],
            capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        walls.append(time.perf_counter() - t)
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr, file=sys.stderr)
    out["prefix_verify_wall_s"] = {"min": min(walls), "median": statistics.median(walls),
                                   "max": max(walls), "store_size": args.store_size}

    targets = [
        ("mint+append (buffered) / floor", out["ratio_buffered_to_floor"], "<=", 1.5),
        ("chain verify all cores / (raw verify x cores)", out["chain_verify_vs_raw_all_cores"],
         ">=", 0.8),
        (f"heso verify <prefix> on {args.store_size:,} receipts (s)",
         out["prefix_verify_wall_s"]["median"], "<=", 0.5),
    ]
    print(f"floor (JCS + BLAKE3 + Ed25519 sign)   {f:8.1f} µs median")
    print(f"mint+append buffered                  {out['mint_append_buffered_us']['median']:8.1f} µs")
    print(f"mint+append fsync                     {out['mint_append_fsync_us']['median']:8.1f} µs")
    print(f"raw Ed25519 verify                    {out['raw_verify_per_s']:8.0f} /s (one core)")
    print(f"chain verify single core              {out['chain_verify_single_core_per_s']:8.0f} /s")
    print(f"chain verify all cores                {out['chain_verify_all_cores_per_s']:8.0f} /s")
    print("targets:")
    for label, value, op, target in targets:
        met = value <= target if op == "<=" else value >= target
        print(f"  {'MET ' if met else 'MISS'} {label}: {value:.3f} (target {op} {target})")
    out["targets"] = [
        {"name": n, "value": val, "op": op, "target": t,
         "met": val <= t if op == "<=" else val >= t}
        for n, val, op, t in targets
    ]
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
