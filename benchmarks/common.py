"""Shared pieces of the benchmark suite: statistics, timing loops, the machine, a gated project.

Every figure is a set of *runs* (one run = a block of calls, timed as a whole or call by
call) summarised as ``{"min", "median", "p99", "runs"}``. The machines these run on are shared
and noisy, so the suite quotes medians and ratios of medians; ``min`` is the least disturbed
run, a lower bound of the true cost.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# -- statistics ---------------------------------------------------------------------------------


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(values: Sequence[float], **extra: Any) -> dict[str, Any]:
    """``{"min", "median", "p99", "runs"}`` of repeated runs (plus ``extra``)."""
    return {
        "min": min(values),
        "median": statistics.median(values),
        "p99": quantile(values, 0.99),
        "runs": len(values),
        **extra,
    }


def per_call(samples_ns: Sequence[int]) -> dict[str, float]:
    """p50/p99 in µs of individually timed calls."""
    us = [s / 1000.0 for s in samples_ns]
    return {"p50": quantile(us, 0.50), "p99": quantile(us, 0.99), "calls": len(us)}


def time_calls(fn: Callable[[int], Any], n: int, start: int = 0) -> list[int]:
    """Time ``fn(i)`` for ``n`` consecutive ``i``, one by one (ns each)."""
    clock = time.perf_counter_ns
    out = [0] * n
    for k in range(n):
        t0 = clock()
        fn(start + k)
        out[k] = clock() - t0
    return out


def interleaved(
    fns: dict[str, Callable[[int], Any]],
    rounds: int,
    block: int,
    warmup: int = 200,
    setup: dict[str, Callable[[], Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run each function in turn, ``block`` individually timed calls per turn, ``rounds``
    times: load that comes and goes hits all of them alike, so their ratios stay meaningful.
    Every other round runs them in reverse order, so none always runs right after another
    (whose leftovers in the caches, or its absence from them, would favour it).
    ``setup[name]()``, if given, runs (untimed) before each turn of ``name``.

    Returns per name: ``per_call`` (p50/p99 of every call, µs) and ``runs`` (summary of the
    mean µs per call of each block).
    """
    setup = setup or {}
    for name, fn in fns.items():
        setup.get(name, _nothing)()
        for i in range(warmup):
            fn(i)
    samples: dict[str, list[int]] = {name: [] for name in fns}
    means: dict[str, list[float]] = {name: [] for name in fns}
    i = warmup
    order = list(fns.items())
    for r in range(rounds):
        for name, fn in order if r % 2 == 0 else order[::-1]:
            setup.get(name, _nothing)()
            s = time_calls(fn, block, i)
            samples[name].extend(s)
            means[name].append(sum(s) / len(s) / 1000.0)
        i += block
    return {
        name: {"per_call_us": per_call(samples[name]), "run_mean_us": summary(means[name])}
        for name in fns
    }


def _nothing() -> None:
    pass


def timer_overhead_us() -> float:
    clock = time.perf_counter_ns
    out = []
    for _ in range(20_000):
        t0 = clock()
        out.append(clock() - t0)
    return statistics.median(out) / 1000.0


# -- the machine --------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict[str, Any]:
    import blake3
    import nacl

    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "pynacl": getattr(nacl, "__version__", "?"),
        "blake3": getattr(blake3, "__version__", "?"),
        "load_avg": load(),
    }


# -- a gated project ----------------------------------------------------------------------------

GATED_TOOL = "send_email"
GATE_RULE = """
[[rule]]
id = "internal-email-ok"
order = 5
verb = "tool_call"
scope = "send_email"
decision = "allow"
conditions = [
  { field = "to", op = "ends_with", value = "@example.com", display = "recipient is internal" },
]
"""
BODY = "Thanks for reaching out. Your refund has been processed. " * 3


def policy_text(rules: int = 100, *, overlap: bool = False) -> str:
    """A realistic generated policy of ``rules`` rules, one of which allows the gated tool.

    ``overlap``: the policy of overlapping wildcard scopes (``bench_policy.overlapping``),
    with the allowing rule ordered after every other rule, so that each of the many rules
    covering ``send_email`` has to be ruled out before it decides.
    """
    from bench_policy import generate, overlapping

    if overlap:
        text, _ = overlapping(rules - 1)
        return text + GATE_RULE.replace("order = 5", "order = 1000")
    text, _ = generate(rules - 1)
    return text + GATE_RULE


def make_project(root: Path | None = None, *, rules: int | None = 100) -> Path:
    """Scaffold a heso project (fast KDF, dev passphrase) with a ``rules``-rule policy
    (``None``: the starter policy ``heso init`` writes)."""
    os.environ.setdefault("HESO_KDF_PROFILE", "interactive")
    from heso.project import init_project

    root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="heso-bench-"))
    init_project(root)
    if rules is not None:
        (root / "heso.toml").write_text(policy_text(rules), encoding="utf-8")
    return root


def gated_tool() -> Callable[..., str]:
    """``send_email`` under ``@heso.tool``: five arguments, a realistic tool call."""
    import heso

    @heso.tool
    def send_email(to: str, subject: str, body: str, cc: list[str], priority: int = 2) -> str:
        return "queued"

    return send_email


def call_args(i: int) -> tuple[Any, ...]:
    return ("customer@example.com", f"Re: order #{1000 + i}", BODY, ["team@example.com"])


def write_json(path: str | os.PathLike[str] | None, data: Any) -> None:
    text = json.dumps(data, indent=2, sort_keys=True, default=str)
    if path is None or str(path) == "-":
        print(text)
    else:
        Path(path).write_text(text + "\n", encoding="utf-8")


def section_main(run: Callable[[bool], dict[str, Any]]) -> None:
    """``python benchmarks/<section>.py [--quick] [--json PATH]``: run one section alone."""
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    ap.add_argument("--json", default=None, help="write the section's figures here")
    args = ap.parse_args()
    started = load()
    result = run(args.quick)
    result.setdefault("load_avg", {"start": started, "end": load()})
    write_json(args.json, result)
