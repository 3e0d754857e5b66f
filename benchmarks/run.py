"""heso's benchmark suite: one command, a table of figures and ratios, the same as JSON.

    python -m uv run --all-packages python benchmarks/run.py [--quick] [--json out.json]
                                                            [--only gate,policy] [--skip peers]

Each section runs in its own fresh process (``benchmarks/bench_<section>.py``, runnable alone)
so state, caches and memory never leak between them:

    gate         the cryptographic floor vs the full @heso.tool gate (buffered, fsync); the
                 gate under a 10,000-rule policy of overlapping wildcard scopes vs 100 rules
    concurrency  8 threads and 4 processes gating at once, fsync (group commit)
    policy       Policy.evaluate at 1, 100 and 10,000 rules; the overlapping-scope policy
    verify       heso verify --chain vs raw Ed25519; heso verify <prefix> on 1M receipts;
                 peak memory verifying that store
    startup      import heso vs python -c pass, imported modules, RSS over 100k actions
    adapters     each framework adapter's added latency per tool call (fake model)
    peers        obsigna/agent-receipts, agent-governance-toolkit, provenrail, signet-auth and
                 chain-receipt-core side by side
    transparency Merkle proofs on a 1M-entry tree; a tree append against the gate
    store        the PostgreSQL store: gated actions/s at 1, 2, 4 processes x 8 threads (the
                 file store's fsync figure beside it); verify 1M entries from the database
    telemetry    the gate with telemetry off, a span per decision (SDK, OTLP), log records
    console      heso console's first page and memory on 200,000 and 1,000,000 receipts

Figures are ``min / median / p99`` over repeated runs (or p50/p99 of individually timed
calls). The machines are shared and noisy: read medians and ratios, not single times; the
load average at the start and end of each section is recorded. ``--quick`` is a smoke run with
tiny sizes (its figures mean nothing). The full run takes about 10-20 minutes (the 1M-receipt
store is built once under ``benchmarks/results/``, which is gitignored, and reused).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import RESULTS, load, machine  # noqa: E402

SECTIONS = (
    "gate",
    "concurrency",
    "policy",
    "verify",
    "startup",
    "adapters",
    "peers",
    "transparency",
    "telemetry",
    "console",
    "store",
)


def run_section(name: str, quick: bool) -> dict[str, Any]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"section-{name}{'-quick' if quick else ''}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, str(HERE / f"bench_{name}.py"), "--json", str(out)]
    if quick:
        cmd.append("--quick")
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent)
    secs = time.perf_counter() - t
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-12:]
        return {"error": f"exit {proc.returncode}", "stderr_tail": tail, "seconds": secs}
    data: dict[str, Any] = json.loads(out.read_text())
    data["seconds"] = secs
    return data


# -- targets --------------------------------------------------------------------------------


def _get(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


TARGETS: list[tuple[str, str, str, str, float, str]] = [
    # (name, section, path, op, bound, unit)
    (
        "full gate p50 / floor p50 (buffered, 100 rules)",
        "gate",
        "ratio_gate_buffered_to_floor",
        "<=",
        1.6,
        "x",
    ),
    (
        "full gate p50 / floor p50 (buffered, starter policy)",
        "gate",
        "ratio_gate_starter_to_floor",
        "<=",
        1.6,
        "x",
    ),
    (
        "gated actions/s, buffered, 8 threads / 1 thread",
        "concurrency",
        "ratio_threads8_to_1_buffered",
        ">=",
        1.3,
        "x",
    ),
    (
        "gate p50 at 10k overlapping rules / 100-rule gate p50",
        "gate",
        "ratio_gate_10k_to_gate",
        "<=",
        1.15,
        "x",
    ),
    (
        "gated actions/s, fsync, 8 threads",
        "concurrency",
        "threads8_fsync.per_s.median",
        ">=",
        5000,
        "/s",
    ),
    ("policy p50 at 100 rules", "policy", "rules_100.p50_us", "<=", 5.0, "µs"),
    ("policy p50 at 10,000 rules", "policy", "rules_10000.p50_us", "<=", 10.0, "µs"),
    (
        "chain verify (all cores) / (raw verify x cores)",
        "verify",
        "ratio_chain_all_to_raw_x_cores",
        ">=",
        0.8,
        "x",
    ),
    (
        "heso verify <prefix> wall on the big store",
        "verify",
        "prefix_verify_wall_s.median",
        "<=",
        0.5,
        "s",
    ),
    (
        "verify --chain peak RSS, full store / tenth",
        "verify",
        "verify_chain_memory.growth_ratio",
        "<=",
        1.25,
        "x",
    ),
    ("import heso added over python -c pass", "startup", "import_heso_added_ms", "<=", 60.0, "ms"),
    ("no framework or provider SDK imported", "startup", "no_framework_imported", "==", 1, ""),
    (
        "RSS growth, second half of the gated actions",
        "startup",
        "memory.growth_second_half_mib",
        "<=",
        1.0,
        "MiB",
    ),
    *[
        (
            f"{label} on a 1M-entry tree (p50)",
            "transparency",
            f"{key}.per_call_us.p50",
            "<=",
            1000.0,
            "µs",
        )
        for label, key in (
            ("inclusion proof produced", "inclusion_produce"),
            ("inclusion proof verified", "inclusion_verify"),
            ("consistency proof produced", "consistency_produce"),
            ("consistency proof verified", "consistency_verify"),
        )
    ],
    (
        "telemetry off: the gate's check, share of the gate p50",
        "telemetry",
        "off_check_pct_of_gate",
        "<=",
        0.5,
        "%",
    ),
    (
        "tree append p50 / gate p50",
        "transparency",
        "ratio_tree_append_to_gate",
        "<=",
        0.10,
        "x",
    ),
    (
        "gate p50 with the ledger's tree / without, minus 1",
        "transparency",
        "tree_share_of_gate",
        "<=",
        0.10,
        "x",
    ),
]


PEER_SPEEDUP = 2.0
"""heso at least this many times faster than each peer per signed, chained action."""


TARGETS += [
    (
        "gated actions/s on PostgreSQL, 4 processes x 8 threads",
        "store",
        "pg_4x8.per_s.median",
        ">=",
        3000,
        "/s",
    ),
    (
        "verify --chain 1M from the database / from the file",
        "store",
        "ratio_verify_db_to_file",
        "<=",
        1.5,
        "x",
    ),
    (
        "prefix lookup + verify on the database (1M entries)",
        "store",
        "prefix_verify_db_ms.median",
        "<=",
        50.0,
        "ms",
    ),
]


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, section, path, op, bound, unit in TARGETS:
        value = _get(results.get(section, {}), path)
        if value is None:
            rows.append(
                {"name": name, "value": None, "op": op, "target": bound, "unit": unit, "met": None}
            )
            continue
        v = float(value)
        met = {"<=": v <= bound, ">=": v >= bound, "==": v == bound}[op]
        rows.append({"name": name, "value": v, "op": op, "target": bound, "unit": unit, "met": met})
    peers = results.get("peers", {})
    for peer in peers.get("targets_apply_to", []):
        row = peers["peers"][peer]
        rows.append(
            {
                "name": f"heso faster per signed, chained action than {peer}",
                "value": row["heso_speedup"],
                "op": ">=",
                "target": PEER_SPEEDUP,
                "unit": "x",
                "met": row["heso_speedup"] >= PEER_SPEEDUP,
            }
        )
    if "skipped" in peers:
        rows.append(
            {
                "name": "heso vs peers",
                "value": None,
                "op": ">=",
                "target": PEER_SPEEDUP,
                "unit": "x",
                "met": None,
                "note": peers["skipped"],
            }
        )
    return rows


# -- the table ------------------------------------------------------------------------------


def _fmt(v: Any, digits: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.{digits}f}"
    return str(v)


def _stat_row(label: str, s: dict[str, Any] | None, unit: str, digits: int = 1) -> str:
    if not s:
        return f"  {label:<46} {'-':>10} {'-':>10} {'-':>10}  {unit}"
    return (
        f"  {label:<46} {_fmt(s.get('min'), digits):>10} {_fmt(s.get('median'), digits):>10} "
        f"{_fmt(s.get('p99'), digits):>10}  {unit}"
    )


def _call_row(label: str, s: dict[str, Any] | None, unit: str = "µs") -> str:
    if not s:
        return f"  {label:<46} {'-':>10} {'-':>10} {'-':>10}  {unit}"
    return (
        f"  {label:<46} {'':>10} {_fmt(s.get('p50')):>10} {_fmt(s.get('p99')):>10}  {unit} per call"
    )


def _line(label: str, value: Any, unit: str = "", digits: int = 2) -> str:
    return f"  {label:<46} {_fmt(value, digits):>32}  {unit}"


def table(results: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    out: list[str] = []
    m = results.get("machine", {})
    out.append(
        f"heso benchmarks — {m.get('cpu_model')} ({m.get('cpus')} cpus), Python "
        f"{m.get('python')}, load {m.get('load_avg')}"
    )
    out.append(f"  {'':<46} {'min':>10} {'median':>10} {'p99':>10}")
    g = results.get("gate", {})
    if g and "error" not in g:
        out.append("gate (one @heso.tool call, 100-rule policy)")
        out.append(
            _call_row("floor: orjson+guards, BLAKE3, libsodium", _get(g, "floor.per_call_us"))
        )
        out.append(_call_row("floor, heso JCS + PyNaCl sign", _get(g, "floor_pynacl.per_call_us")))
        out.append(_call_row("full gate, buffered", _get(g, "gate_buffered.per_call_us")))
        out.append(_call_row("full gate, buffered, starter", _get(g, "gate_starter.per_call_us")))
        out.append(
            _stat_row(
                "full gate, buffered (mean per run)", _get(g, "gate_buffered.run_mean_us"), "µs"
            )
        )
        out.append(_call_row("full gate, fsync (one thread)", _get(g, "gate_fsync.per_call_us")))
        p10k = g.get("policy_10k", {})
        out.append(
            _call_row(
                f"full gate, buffered, {_fmt(p10k.get('rules'))} overlapping rules",
                _get(g, "gate_10k.per_call_us"),
            )
        )
        out.append(
            _line(
                "  rules covering the gated tool / policy load",
                f"{p10k.get('candidates_for_gated_tool')} / {_fmt(p10k.get('load_s'), 2)} s",
            )
        )
        out.append(_line("ratio gate / floor (p50)", g.get("ratio_gate_buffered_to_floor"), "x"))
        out.append(_line("ratio gate 10k rules / gate (p50)", g.get("ratio_gate_10k_to_gate"), "x"))
        out.append(
            _line("ratio starter gate / floor (p50)", g.get("ratio_gate_starter_to_floor"), "x")
        )
        stages = g.get("stages_us_p50", {})
        out.append(
            "  stages alone, p50 µs: " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items())
        )
        inside = g.get("in_gate_us_p50", {})
        if inside:
            out.append(
                "  inside the gate, p50 µs: " + ", ".join(f"{k} {v:.1f}" for k, v in inside.items())
            )
    c = results.get("concurrency", {})
    if c and "error" not in c:
        out.append("concurrency (gated actions per second of wall time)")
        for key, label in (
            ("threads8_fsync", "8 threads, fsync"),
            ("processes4_fsync", "4 processes, fsync"),
            ("threads8_buffered", "8 threads, buffered"),
            ("threads1_buffered", "1 thread, buffered"),
        ):
            out.append(_stat_row(label, _get(c, f"{key}.per_s"), "/s", 0))
            apf = _get(c, f"{key}.actions_per_fsync")
            if apf:
                out.append(_line(f"  actions per fsync ({label})", apf, ""))
        ratio = c.get("ratio_threads8_to_1_buffered")
        out.append(_line("8 threads / 1 thread, buffered", ratio, "x"))
        out.append(_line("fsync latency alone (p50)", _get(c, "fsync_latency_ms.p50"), "ms"))
        out.append(_line("one handoff between two threads", c.get("thread_handoff_us"), "µs"))
    p = results.get("policy", {})
    if p and "error" not in p:
        out.append("policy (Policy.evaluate, warm)")
        for key, label in (
            *((f"rules_{n}", f"{n:,} rules") for n in (1, 100, 10_000)),
            *((f"overlap_{n}", f"{n:,} overlapping") for n in (100, 10_000)),
        ):
            r = p.get(key, {})
            out.append(_stat_row(f"{label}: p50 of each run", r.get("run_p50_us"), "µs", 2))
            out.append(
                _line(
                    f"{label}: p50 / p99 / cold p50 / load",
                    f"{_fmt(r.get('p50_us'), 2)} / {_fmt(r.get('p99_us'), 2)} / "
                    f"{_fmt(r.get('cold_p50_us'), 2)} µs / {_fmt(r.get('load_ms'), 0)} ms",
                    "",
                )
            )
    v = results.get("verify", {})
    if v and "error" not in v:
        out.append("verification")
        out.append(
            _stat_row("raw Ed25519 verify, 1 core", v.get("raw_verify_per_s_1core"), "/s", 0)
        )
        out.append(
            _stat_row(
                "raw Ed25519 verify, 1 core, libsodium binding",
                v.get("raw_verify_binding_per_s_1core"),
                "/s",
                0,
            )
        )
        out.append(
            _stat_row("raw Ed25519 verify, all cores", v.get("raw_verify_per_s_all_cores"), "/s", 0)
        )
        out.append(
            _stat_row(
                "heso verify --chain, 1 core", v.get("chain_verify_per_s_1core"), "receipts/s", 0
            )
        )
        out.append(
            _stat_row(
                "heso verify --chain, all cores",
                v.get("chain_verify_per_s_all_cores"),
                "receipts/s",
                0,
            )
        )
        out.append(_line("chain 1 core / raw 1 core", v.get("ratio_chain_1core_to_raw_1core"), "x"))
        out.append(
            _line(
                "chain 1 core / raw binding 1 core",
                v.get("ratio_chain_1core_to_raw_binding_1core"),
                "x",
            )
        )
        out.append(
            _line("chain all cores / (raw x cores)", v.get("ratio_chain_all_to_raw_x_cores"), "x")
        )
        out.append(
            _line(
                "chain all cores / raw all cores (measured)",
                v.get("ratio_chain_all_to_raw_all_cores"),
                "x",
            )
        )
        pv = v.get("prefix_verify_wall_s", {})
        out.append(
            _stat_row(f"heso verify <prefix>, {pv.get('store_receipts', 0):,} receipts", pv, "s", 3)
        )
        out.append(_stat_row("python -c pass (for scale)", v.get("python_c_pass_wall_s"), "s", 3))
        mem = v.get("verify_chain_memory", {})
        for key in ("tenth", "full"):
            r = mem.get(key, {})
            out.append(
                _line(
                    f"verify --chain {r.get('receipts', 0):,}: peak RSS / wall",
                    f"{_fmt(r.get('peak_rss_mib'))} MiB / {_fmt(r.get('wall_s'))} s",
                    "",
                )
            )
    s = results.get("startup", {})
    if s and "error" not in s:
        out.append("start-up and memory")
        out.append(_stat_row("python -c pass", _get(s, "python_c_pass_s"), "s", 3))
        out.append(_stat_row("python -c 'import heso'", _get(s, "import_heso_s"), "s", 3))
        out.append(
            _stat_row(
                "import heso + init + one gated call", _get(s, "import_heso_init_gate_s"), "s", 3
            )
        )
        out.append(_line("import heso added (median)", s.get("import_heso_added_ms"), "ms", 1))
        gate_mods = _get(s, "imported.gate.third_party") or []
        out.append(_line("third-party modules after a gated call", ", ".join(gate_mods) or "-", ""))
        mem = s.get("memory", {})
        out.append(
            _line(
                f"RSS growth over {mem.get('actions', 0):,} gated actions",
                mem.get("growth_mib"),
                "MiB",
            )
        )
    a = results.get("adapters", {})
    if a and "error" not in a:
        out.append("adapters (one agent run with one tool call; *_wrap: one model call)")
        out.append(
            f"  {'':<46} {'without':>10} {'with':>10} {'added':>10}  ms  (heso core / share)"
        )
        for name, r in a.get("adapters", {}).items():
            if "skipped" in r:
                out.append(f"  {name:<46} skipped: {r['skipped'][:70]}")
                continue
            out.append(
                f"  {name:<46} {_fmt(r['without_ms'], 2):>10} {_fmt(r['with_ms'], 2):>10} "
                f"{_fmt(r['added_ms'], 2):>10}  ms  ({_fmt(r['in_core_ms'], 3)} ms core, "
                f"{100 * (r['share'] or 0):.0f}% of the run)"
            )
    t = results.get("transparency", {})
    if t and "error" not in t:
        tree = t.get("tree", {})
        out.append(f"transparency (Merkle tree of {tree.get('entries', 0):,} entries, file store)")
        for label, key in (
            ("inclusion proof, produce", "inclusion_produce"),
            ("inclusion proof, verify", "inclusion_verify"),
            ("consistency proof, produce", "consistency_produce"),
            ("consistency proof, verify", "consistency_verify"),
            ("full gate, buffered (same run)", "gate_buffered"),
            ("tree append, file store", "append_file"),
            ("tree append, memory store", "append_memory"),
            ("tree append, hashing only", "append_hash_only"),
            ("full gate, tree hook off (same run)", "gate_no_tree"),
        ):
            out.append(_call_row(label, _get(t, f"{key}.per_call_us")))
        out.append(_line("ratio tree append / gate (p50)", t.get("ratio_tree_append_to_gate"), "x"))
        out.append(_line("tree's share of the gate (p50)", t.get("tree_share_of_gate"), "x"))
        out.append(_line("  ... of its mean", t.get("tree_share_of_gate_mean"), "x"))
        out.append(
            _line("tree append, batched, per leaf", t.get("append_batched_per_leaf_us"), "µs")
        )
    te = results.get("telemetry", {})
    if te and "error" not in te:
        out.append("telemetry (one @heso.tool call, 100-rule policy, buffered)")
        for label, key in (
            ("off (nothing configured)", "off"),
            ("a span per decision (SDK, batch processor)", "span"),
            ("  ... with fields = true", "span_fields"),
            ("  ... exported over OTLP/HTTP to loopback", "span_otlp"),
            ("INFO log record per decision, no span", "log"),
        ):
            out.append(_call_row(label, _get(te, f"{key}.per_call_us")))
        added = te.get("added_us_p50", {})
        out.append("  added p50 µs: " + ", ".join(f"{k} {v:.1f}" for k, v in added.items()))
        out.append(_line("check when off, per call", te.get("off_check_ns"), "ns", 0))
    pe = results.get("peers", {})
    if pe and "error" not in pe:
        out.append(
            "peers (same logical action: policy + sign/MAC + chain + append), p50 per action"
        )
        if "skipped" in pe:
            out.append(f"  skipped: {pe['skipped']}")
        else:
            out.append(
                _line("heso (@heso.tool, 100 rules, buffered)", _get(pe, "heso.p50_us"), "µs")
            )
            for name, r in pe.get("peers", {}).items():
                if "p50_us" not in r:
                    out.append(
                        f"  {name + ' ' + str(r.get('version')):<46} n/a: "
                        f"{str(r.get('error'))[:60]}"
                    )
                    continue
                out.append(
                    _line(
                        f"{name} {r['version']}",
                        f"{_fmt(r['p50_us'])} µs  heso {_fmt(r['heso_speedup'])}x faster",
                        "",
                    )
                )
    out.append("targets")
    for r in rows:
        status = {True: "MET ", False: "MISS", None: "n/a "}[r["met"]]
        value = _fmt(r["value"], 3) if r["value"] is not None else "-"
        out.append(
            f"  {status} {r['name']}: {value} {r['unit']} (target {r['op']} {_fmt(r['target'], 2)})"
        )
    return "\n".join(line.rstrip() for line in out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run with tiny sizes")
    ap.add_argument(
        "--json",
        type=Path,
        default=None,
        help="also write the results here (always written to benchmarks/results/latest.json, "
        "latest-quick.json with --quick)",
    )
    ap.add_argument("--only", default="", help="comma-separated sections to run")
    ap.add_argument("--skip", default="", help="comma-separated sections to leave out")
    args = ap.parse_args()
    only = [s for s in args.only.split(",") if s]
    skip = {s for s in args.skip.split(",") if s}
    unknown = (set(only) | skip) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    chosen = [s for s in (only or SECTIONS) if s not in skip]
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick, "load_start": load()}
    for name in chosen:
        print(
            f"[{time.strftime('%H:%M:%S')}] {name} (load {load()}) ...", file=sys.stderr, flush=True
        )
        results[name] = run_section(name, args.quick)
    results["load_end"] = load()
    rows = targets(results)
    results["targets"] = rows
    text = table(results, rows)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(results, indent=2, sort_keys=True, default=str) + "\n"
    # A smoke run (the test suite makes one) never overwrites the figures of a full run.
    latest = "latest-quick" if args.quick else "latest"
    (RESULTS / f"{latest}.json").write_text(payload)
    (RESULTS / f"{latest}.txt").write_text(text + "\n")
    if args.json is not None:
        args.json.write_text(payload)
    failed = [n for n in chosen if "error" in results[n]]
    for n in failed:
        print(f"section {n} failed: {results[n]['error']}", file=sys.stderr)
        for line in results[n].get("stderr_tail", []):
            print(f"  {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
