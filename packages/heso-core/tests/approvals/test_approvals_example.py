"""examples/approval_flow.py runs offline and ends with a valid L1 receipt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "approval_flow.py"


def test_the_approval_flow_example_runs_end_to_end(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HESO_")}
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert "wire_transfer returned heso.SUSPENDED; heso.decision = 'suspended'" in out
    assert "treasurer approved" in out
    assert "wired 25000 to ACME GmbH (INV-2041)" in out
    assert "calling again returns heso.SUSPENDED; heso.decision = 'completed'" in out
    assert "Valid (L1): signed by operator, approver:treasurer" in out
    assert "PASSPHRASE" not in out
