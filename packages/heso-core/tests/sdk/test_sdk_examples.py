"""The runnable examples work offline, from a directory outside any heso project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"


def _run(name: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HESO_")}
    env["HESO_KDF_PROFILE"] = "interactive"
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout


def test_quickstart(tmp_path):
    out = _run("quickstart.py", tmp_path)
    assert "search_docs -> ['doc about refund policy']" in out
    assert "send_email  -> sent 'Your refund' to ann@example.com" in out
    assert "suspended   -> rule external-email-needs-approval" in out
    assert "suspended   -> rule heso:floor:delete" in out
    assert "chain       -> Valid" in out
    assert "sk-demo" not in out


def test_quickstart_uses_the_enclosing_project(heso_project):
    out = _run("quickstart.py", heso_project.root)
    assert "scaffolded" not in out
    actions = [r["content"]["action"] for r in heso_project.receipts()]
    assert [a["tool_name"] for a in actions] == [
        "search_docs",
        "send_email",
        "send_email",
        "delete_customer",
    ]
    assert {(a["workflow"], a["account"]) for a in actions} == {("support", "acme")}
    assert all(a["fields"]["api_key"]["heso_redacted"] for a in actions[1:3])


def test_wrap_openai(tmp_path):
    import openai  # noqa: F401  (the example needs it; CI installs it)

    out = _run("wrap_openai.py", tmp_path)
    assert "allowed     -> echo: Summarise ticket #4521" in out
    assert "streamed    -> echo: Summarise ticket #4521" in out
    assert "blocked     -> rule no-preview-models" in out
    assert "provider    -> 3 requests reached the server" in out
    assert "chain       -> Valid" in out
