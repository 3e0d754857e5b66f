"""``examples/claude_agent_hooks.py`` runs offline in a subprocess and tells the whole story."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "claude_agent_hooks.py"


def test_example_runs() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HESO_")}
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert (
        "mcp__support__launch_rocket({'target': 'moon'}) -> the model read: PreToolUse:"
        "mcp__support__launch_rocket hook error: heso: blocked by rule no-rockets: rocket "
        "launches are never allowed"
    ) in out
    assert "heso: needs approval by rule escalations-need-oncall" in out
    assert (
        "receipts (tool, decision): [('lookup_order', 'allow'), ('launch_rocket', 'block'), "
        "('escalate_ticket', 'require_approval')]"
    ) in out
    assert "-> the model read: escalated T-7" in out
    assert "tool bodies that ran: ['lookup_order', 'escalate_ticket']" in out
    assert "1 co-signed by approvers (L1)" in out
