"""``examples/mcp_gate.py`` runs offline in a subprocess and tells the whole story."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "mcp_gate.py"


def test_example_runs() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HESO_")}
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert "launch_rocket({'target': 'moon'}) -> ERROR heso: blocked by rule no-rockets" in out
    assert "heso: needs approval by rule escalations-need-oncall" in out
    assert "-> escalated T-7" in out
    assert "tool bodies that ran on the server: ['lookup_order', 'escalate_ticket']" in out
    assert "launch_rocket({'target': 'mars'}) -> ERROR heso: blocked by rule no-rockets" in out
    assert "1 co-signed by approvers (L1)" in out
