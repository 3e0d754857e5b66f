"""examples/crewai_crew.py runs offline: a refusal in each mode, then a valid chain."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "crewai_crew.py"


def test_the_crewai_example_runs_offline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HESO_")}
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert "model reads: heso: blocked by rule no-rockets: rocket launches are never allowed" in out
    assert "model reads: order A-1: shipped" in out
    assert "kickoff() raised BlockedError: rule no-rockets" in out
    assert "tool bodies that ran: ['lookup_order']" in out
    assert "Valid (L0)" in out
