"""The benchmark suite runs end to end (``benchmarks/run.py --quick``: tiny sizes) and writes the
figures and targets as JSON. No timing is asserted: figures from a smoke run mean nothing.

The peers section is left out: it installs other SDKs from the package index into their own
environment, which a test run must not depend on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EXPECTED = {
    "gate": [
        "floor",
        "floor_pynacl",
        "gate_buffered",
        "gate_starter",
        "gate_fsync",
        "ratio_gate_buffered_to_floor",
        "ratio_gate_starter_to_floor",
        "gate_10k",
        "ratio_gate_10k_to_gate",
        "in_gate_us_p50",
    ],
    "concurrency": [
        "threads8_fsync",
        "processes4_fsync",
        "threads8_buffered",
        "threads1_buffered",
        "ratio_threads8_to_1_buffered",
        "fsync_latency_ms",
        "thread_handoff_us",
    ],
    "policy": ["rules_1", "rules_100", "rules_10000", "overlap_100", "overlap_10000"],
    "verify": [
        "raw_verify_per_s_1core",
        "chain_verify_per_s_1core",
        "chain_verify_per_s_all_cores",
        "prefix_verify_wall_s",
        "verify_chain_memory",
    ],
    "startup": ["import_heso_added_ms", "no_framework_imported", "imported", "memory"],
    "adapters": ["adapters"],
    "transparency": [
        "inclusion_produce",
        "inclusion_verify",
        "consistency_produce",
        "consistency_verify",
        "append_file",
        "ratio_tree_append_to_gate",
    ],
    "telemetry": ["off", "span", "span_fields", "span_otlp", "log", "added_us_p50", "off_check_ns"],
    "console": ["stores", "store_build_s"],
    "store": ["pg_1x8", "pg_2x8", "pg_4x8", "file_fsync_4x8", "ratio_verify_db_to_file"],
}


def test_quick_suite_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    results = ROOT / "benchmarks" / "results"
    full = results / "latest.json"
    before = full.read_bytes() if full.exists() else None
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--quick",
            "--skip",
            "peers",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "targets" in proc.stdout
    data = json.loads(out.read_text())
    for section, keys in EXPECTED.items():
        assert "error" not in data[section], (section, data[section])
        for key in keys:
            assert key in data[section], (section, key)
    for key in ("min", "median", "p99"):
        assert key in data["gate"]["gate_buffered"]["run_mean_us"]
    names = {row["name"] for row in data["targets"]}
    assert any("floor" in n for n in names) and any("import heso" in n for n in names)
    assert any("10k overlapping rules" in n for n in names)
    # The smoke run keeps its own copy and leaves a full run's figures alone.
    assert json.loads((results / "latest-quick.json").read_text())["quick"] is True
    assert (full.read_bytes() if full.exists() else None) == before
    assert data["startup"]["no_framework_imported"] is True
    assert data["gate"]["chain_valid_after"] is True
    parts = {"gate", "rest", "signing", "chain_append", "policy"}
    assert set(data["gate"]["in_gate_us_p50"]) == parts
    # Spans went over the real OTLP exporter to the loopback receiver.
    assert data["telemetry"]["otlp_spans_received"] > 0
