"""``examples/pydantic_ai_agent.py`` runs offline in a subprocess and tells the whole story."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pydantic_ai_agent.py"


def test_example_runs() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HESO_")}
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert "deferred escalate_ticket({'ticket_id': 'T-7', 'note': 'customer is down'})" in out
    assert "heso: needs approval by rule escalations-need-oncall" in out
    assert 'launch_rocket: {"error":"heso: blocked by rule no-rockets' in out
    assert "escalate_ticket: escalated T-7 (receipt " in out
    assert "tool bodies that ran: ['lookup_order', 'escalate_ticket']" in out
    assert "it already ran once" in out
    assert "1 co-signed by approvers (L1)" in out
