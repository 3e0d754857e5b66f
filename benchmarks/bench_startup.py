"""Start-up and footprint: ``import heso`` next to ``python -c pass``, what it imports, and the
resident memory over 100,000 gated actions.

* **import**: wall time of a fresh interpreter running ``pass``, ``import heso``, and
  ``import heso`` plus ``heso.init()`` and one gated call, interleaved so load hits all alike.
* **no framework**: the top-level modules each of those processes loaded, checked against the
  agent frameworks and provider SDKs heso has adapters for (none may appear), and against the
  runtime dependencies heso declares.
* **memory**: RSS after a warm-up and then every 20,000 gated actions up to 100,000 in a fresh
  process; a leak shows as steady growth, a bounded gate levels off.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import HERE, machine, make_project, section_main, summary

FRAMEWORKS = frozenset(
    {
        "openai",
        "anthropic",
        "langchain",
        "langchain_core",
        "langgraph",
        "crewai",
        "agents",
        "pydantic_ai",
        "mcp",
        "claude_agent_sdk",
        "litellm",
        "google",
        "boto3",
        "httpx",
        "requests",
        "pydantic",
        "opentelemetry",
        "heso_langchain",
        "heso_crewai",
        "heso_openai_agents",
        "heso_pydantic_ai",
        "heso_mcp",
        "heso_claude_agent",
    }
)
"""Agent frameworks, provider SDKs (and their HTTP/model stacks), OpenTelemetry (imported only
when telemetry is configured) and heso's own adapters."""

ALLOWED = frozenset({"heso", "nacl", "blake3", "cffi", "_cffi_backend", "tomli", "re2"})
"""heso and its declared runtime dependencies (``_cffi_backend``/``cffi``: PyNaCl's; ``re2``:
google-re2, loaded by the first policy regex that is not plain text)."""

_PROBE = """
import json, sys
base = set(sys.modules)
{body}
mods = sorted({{m.split(".")[0] for m in sys.modules}} - {{m.split(".")[0] for m in base}})
print(json.dumps(mods))
"""

_GATE = """
import heso
heso.init(project_root={root!r})
@heso.tool
def send_email(to: str, subject: str) -> str:
    return "queued"
send_email("a@example.com", "hi")
"""


def _wall(code: str, env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return time.perf_counter() - t


def _third_party(mods: list[str]) -> list[str]:
    std = getattr(sys, "stdlib_module_names", frozenset())
    return [m for m in mods if m not in std and not m.startswith("_")]


def memory_child(total: int, step: int) -> None:
    """Run in a fresh process: gate ``total`` actions, printing RSS (KiB) every ``step``."""
    import gc

    from common import call_args, gated_tool

    import heso

    def rss_kib() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    heso.init(project_root=os.environ["HESO_BENCH_PROJECT"])
    tool = gated_tool()
    for i in range(2_000):  # warm-up: caches, allocator arenas
        tool(*call_args(i))
    gc.collect()
    points = [(0, rss_kib())]
    for i in range(total):
        tool(*call_args(i))
        if (i + 1) % step == 0:
            gc.collect()
            points.append((i + 1, rss_kib()))
    print(json.dumps(points))


def run(quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"machine": machine()}
    root = make_project(rules=100)
    env = {**os.environ, "HESO_KDF_PROFILE": "interactive", "PYTHONWARNINGS": "ignore"}
    repeats = 5 if quick else 30
    codes = {
        "python_c_pass": "pass",
        "import_heso": "import heso",
        "import_heso_init_gate": _GATE.format(root=str(root)),
    }
    walls: dict[str, list[float]] = {k: [] for k in codes}
    for _ in range(repeats):
        for name, code in codes.items():
            walls[name].append(_wall(code, env))
    for name in codes:
        out[f"{name}_s"] = summary(walls[name])
    base = out["python_c_pass_s"]["median"]
    out["import_heso_added_ms"] = (out["import_heso_s"]["median"] - base) * 1000
    out["import_heso_added_ms_min"] = (
        out["import_heso_s"]["min"] - out["python_c_pass_s"]["min"]
    ) * 1000

    imported: dict[str, Any] = {}
    for name, body in (("import_heso", "import heso"), ("gate", _GATE.format(root=str(root)))):
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE.format(body=body)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        mods = json.loads(proc.stdout.strip().splitlines()[-1])
        third = _third_party(mods)
        imported[name] = {
            "third_party": third,
            "frameworks": sorted(set(mods) & FRAMEWORKS),
            "undeclared": sorted(set(third) - ALLOWED),
        }
    out["imported"] = imported
    out["no_framework_imported"] = not any(v["frameworks"] for v in imported.values())

    total, step = (5_000, 1_000) if quick else (100_000, 20_000)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import bench_startup; bench_startup.memory_child({total}, {step})",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=HERE,
        env={**env, "HESO_BENCH_PROJECT": str(root), "PYTHONPATH": str(HERE)},
    )
    points = json.loads(proc.stdout.strip().splitlines()[-1])
    first, last = points[0][1], points[-1][1]
    half = points[len(points) // 2][1]
    out["memory"] = {
        "actions": total,
        "rss_kib": points,
        "growth_mib": (last - first) / 1024,
        "growth_second_half_mib": (last - half) / 1024,
        "bytes_per_action": (last - first) * 1024 / total,
    }
    return out


if __name__ == "__main__":
    section_main(run)
