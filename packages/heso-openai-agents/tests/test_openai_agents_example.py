"""``examples/openai_agents_guardrail.py`` runs offline in a subprocess and tells the whole
story."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "openai_agents_guardrail.py"


def test_example_runs() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HESO_")}
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert "tool result: order A-1: shipped (receipt " in out
    assert "tool result: heso: blocked by rule no-rockets: rocket launches are never allowed" in out
    assert "paused for approval: escalate_ticket(" in out
    assert "pending in heso: ['escalate_ticket']" in out
    assert "approved: ['escalate_ticket']" in out
    assert "the model was told: escalated T-7" in out
    assert "tool bodies that ran: ['lookup_order', 'escalate_ticket']" in out
    assert "signed by operator, approver:alice" in out
    assert "1 co-signed by approvers (L1)" in out
