"""The LangChain and LangGraph examples run offline and prove what they claim."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _run(name: str, tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HESO_")}
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_the_agent_example_blocks_and_carries_on(tmp_path):
    out = _run("langchain_agent.py", tmp_path)
    assert "tool lookup_order: order A-7: delivered" in out
    assert (
        "tool wipe_customer_data: heso: blocked by rule no-bulk-wipes: customer data is never "
        "wiped by an agent" in out
    )
    assert "final answer: The order was delivered" in out
    assert "BlockedError: rule no-bulk-wipes" in out
    assert "audit chain: Valid (L0) (4 receipts)" in out


def test_the_approval_example_pauses_and_fires_once_with_an_l1_receipt(tmp_path):
    out = _run("langgraph_approval.py", tmp_path)
    assert "paused: issue_credit({'customer_id': 'cus_9', 'amount': 40}) needs ['billing']" in out
    assert "resumed before a decision: paused again = True" in out
    assert "'credited 40 to cus_9'; the tool ran 1 time(s)" in out
    assert "signed by operator, approver:lead" in out
    assert "PASSPHRASE" not in out
