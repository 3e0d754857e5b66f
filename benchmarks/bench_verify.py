"""Verification: ``heso verify --chain`` throughput against raw Ed25519 verification, ``heso verify
<prefix>`` on a 1,000,000-receipt store, and the peak memory of verifying that store.

* **raw verify**: PyNaCl ``VerifyKey.verify`` of operator messages (what each receipt needs at
  least), one core; and the same split over every core.
* **chain verify**: ``heso.ledger.verify_chain`` of the 100,000-receipt store (realistic receipts)
  with one worker and with one worker per core (every line parsed, structure-checked, hashed,
  linked, verified), alternating with the raw runs.
* **prefix**: the wall time of the CLI process ``heso verify <12 hex> --json`` (interpreter
  start-up included) on the big store, found through the hash-prefix index.
* **memory**: peak resident memory (all processes of the verification summed, sampled every
  20 ms) of ``heso verify --chain --workers <cores>`` on a store a tenth of the size and on the
  full store: a bounded verifier uses about the same on both.

The big store is built once under ``benchmarks/results/`` (gitignored) and reused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, call_args, machine, section_main, summary


def receipt_content(key: Any, i: int) -> dict[str, Any]:
    """A realistic receipt content (the gated ``send_email`` call), distinct per ``i``."""
    from heso.receipt import build_content

    to, subject, body, cc = call_args(i)
    return build_content(
        captured_at=f"2026-01-02T03:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 1_000_000:06d}Z",
        agent_identity=key.public_key().to_str(),
        action={
            "verb": "tool_call",
            "tool_name": "send_email",
            "workflow": "default",
            "account": "default",
            "fields": {"to": to, "subject": subject, "body": body, "cc": cc, "priority": 2},
        },
        policy={
            "rule_id": "internal-email-ok",
            "rule_display": "recipient is internal",
            "matched_conditions": [
                {
                    "field": "to",
                    "op": "ends_with",
                    "value": "@example.com",
                    "display": "recipient is internal",
                }
            ],
            "decision_path": "lane:write(verb) > rule:internal-email-ok=allow",
            "decision": "allow",
        },
    )


def build_store(project: Path, size: int) -> float:
    """A project whose chain holds ``size`` receipts; built once, reused. Returns build secs."""
    from heso.keys import SigningKey
    from heso.ledger import FileLedger
    from heso.receipt import mint

    data = project / "heso-local-data"
    marker = project / "complete"
    if marker.exists() and marker.read_text().split()[0] == str(size):
        return float(marker.read_text().split()[1])
    data.mkdir(parents=True, exist_ok=True)
    for f in data.iterdir():
        f.unlink()
    (project / "heso.toml").write_text('[policy]\ndefault = "allow"\n', encoding="utf-8")
    key = SigningKey.generate()
    c = FileLedger(data, key=key, seal_every=1 << 30, seal_interval=1e9)
    t = time.perf_counter()
    for i in range(size):
        c.append(mint(receipt_content(key, i), key))
        if i and i % 200_000 == 0:
            print(f"  store: {i:,} receipts ({time.perf_counter() - t:.0f}s)", file=sys.stderr)
    c.close()
    secs = time.perf_counter() - t
    marker.write_text(f"{size} {secs:.1f}\n")
    return secs


def _raw_verify(n: int) -> float:
    """Raw Ed25519 verifications per second, in this process."""
    import nacl.signing

    from heso.receipt import OPERATOR_DOMAIN

    key = nacl.signing.SigningKey.generate()
    vk = key.verify_key
    msgs = [OPERATOR_DOMAIN + os.urandom(32).hex().encode() for _ in range(64)]
    sigs = [key.sign(m).signature for m in msgs]
    t = time.perf_counter()
    for i in range(n):
        vk.verify(msgs[i & 63], sigs[i & 63])
    return n / (time.perf_counter() - t)


def _raw_verify_binding(n: int) -> float:
    """The same through ``nacl.bindings.crypto_sign_open`` (no ``VerifyKey`` wrapper)."""
    import nacl.bindings
    import nacl.signing

    from heso.receipt import OPERATOR_DOMAIN

    key = nacl.signing.SigningKey.generate()
    public = bytes(key.verify_key)
    signed = [key.sign(OPERATOR_DOMAIN + os.urandom(32).hex().encode()) for _ in range(64)]
    t = time.perf_counter()
    for i in range(n):
        nacl.bindings.crypto_sign_open(signed[i & 63], public)
    return n / (time.perf_counter() - t)


def raw_verify_all_cores(n: int, cores: int) -> float:
    with ProcessPoolExecutor(cores) as pool:
        list(pool.map(_raw_verify, [100] * cores))  # start the workers
        t = time.perf_counter()
        list(pool.map(_raw_verify, [n] * cores))
        return n * cores / (time.perf_counter() - t)


def _tree_rss_kib(pid: int) -> int:
    """Resident memory (KiB) of ``pid`` and all its descendants."""
    total = 0
    pids = [pid]
    seen = set()
    while pids:
        p = pids.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except (OSError, ValueError):
            continue
        pids.extend(int(c) for c in children)
    return total


def run_measured(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd``; its wall time, exit code, and peak RSS of its process tree (MiB)."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_kib(proc.pid))
        time.sleep(0.02)
    out, err = proc.communicate()
    wall = time.perf_counter() - t
    return {
        "wall_s": wall,
        "rc": proc.returncode,
        "peak_rss_mib": peak / 1024,
        "stdout": out.decode(errors="replace")[-2000:],
        "stderr": err.decode(errors="replace")[-2000:],
    }


def last_hash(data: Path) -> str:
    from heso.ledger import index as idx

    rec = idx.last_record(data / "receipts.idx")
    assert rec is not None
    return rec[0]


def run(quick: bool) -> dict[str, Any]:
    from heso.ledger import verify_chain

    cores = os.cpu_count() or 1
    store_n, repeats = (5_000, 2) if quick else (1_000_000, 5)
    out: dict[str, Any] = {"machine": machine(), "cores": cores}
    big = RESULTS / f"store-{store_n}"
    small = RESULTS / f"store-{store_n // 10}"
    out["store_build_s"] = {
        str(store_n): build_store(big, store_n),
        str(store_n // 10): build_store(small, store_n // 10),
    }

    # -- chain verify vs raw verify ------------------------------------------------------------
    # Throughput on the tenth store (100,000 receipts): long enough that starting the worker
    # processes is noise. Raw and chain runs alternate, so load that comes and goes hits both.
    chain_dir = small / "heso-local-data"
    chain_n = store_n // 10
    raw_n = 2_000 if quick else 20_000
    series: dict[str, list[float]] = {
        "raw_verify_per_s_1core": [],
        "raw_verify_binding_per_s_1core": [],
        "raw_verify_per_s_all_cores": [],
        "chain_verify_per_s_1core": [],
        "chain_verify_per_s_all_cores": [],
    }
    for _ in range(repeats):
        series["raw_verify_per_s_1core"].append(_raw_verify(raw_n))
        series["raw_verify_binding_per_s_1core"].append(_raw_verify_binding(raw_n))
        series["raw_verify_per_s_all_cores"].append(raw_verify_all_cores(raw_n, cores))
        for label, workers in (("1core", 1), ("all_cores", cores)):
            t = time.perf_counter()
            verdict = verify_chain(chain_dir, workers=workers)
            series[f"chain_verify_per_s_{label}"].append(chain_n / (time.perf_counter() - t))
            if not verdict.ok:
                raise RuntimeError(f"chain does not verify: {verdict}")
    for name, values in series.items():
        extra = {"receipts": chain_n} if name.startswith("chain") else {}
        out[name] = summary(values, **extra)
    r1 = out["raw_verify_per_s_1core"]["median"]
    out["ratio_chain_1core_to_raw_1core"] = out["chain_verify_per_s_1core"]["median"] / r1
    out["ratio_chain_1core_to_raw_binding_1core"] = (
        out["chain_verify_per_s_1core"]["median"] / out["raw_verify_binding_per_s_1core"]["median"]
    )
    out["ratio_chain_all_to_raw_x_cores"] = out["chain_verify_per_s_all_cores"]["median"] / (
        r1 * cores
    )
    out["ratio_chain_all_to_raw_all_cores"] = (
        out["chain_verify_per_s_all_cores"]["median"] / out["raw_verify_per_s_all_cores"]["median"]
    )

    # -- the big store: prefix lookup and bounded memory ---------------------------------------
    prefix = last_hash(big / "heso-local-data")[:12]
    heso_cli = [sys.executable, "-m", "heso"]
    walls = []
    for _ in range(repeats):
        r = run_measured([*heso_cli, "verify", prefix, "--project", str(big), "--json"])
        if r["rc"] != 0:
            raise RuntimeError(f"heso verify {prefix} failed: {r['stdout']} {r['stderr']}")
        walls.append(r["wall_s"])
    out["prefix_verify_wall_s"] = summary(walls, store_receipts=store_n, prefix=prefix)
    base = [run_measured([sys.executable, "-c", "pass"])["wall_s"] for _ in range(repeats)]
    out["python_c_pass_wall_s"] = summary(base)

    memory: dict[str, Any] = {}
    for label, project, n in (("tenth", small, store_n // 10), ("full", big, store_n)):
        r = run_measured(
            [
                *heso_cli,
                "verify",
                "--chain",
                "--project",
                str(project),
                "--json",
                "--workers",
                str(cores),
            ]
        )
        if r["rc"] != 0:
            raise RuntimeError(f"heso verify --chain failed: {r['stdout']} {r['stderr']}")
        memory[label] = {
            "receipts": n,
            "peak_rss_mib": r["peak_rss_mib"],
            "wall_s": r["wall_s"],
            "per_s": n / r["wall_s"],
        }
    memory["growth_ratio"] = memory["full"]["peak_rss_mib"] / memory["tenth"]["peak_rss_mib"]
    out["verify_chain_memory"] = memory
    return out


if __name__ == "__main__":
    section_main(run)
