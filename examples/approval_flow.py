"""Human approval that proves itself, end to end and offline.

An agent tries a wire transfer; policy parks it for the treasury group. A second identity, the
treasurer, with a key of their own on their own "device" (a temporary HESO_APPROVER_HOME),
approves it from the CLI. The agent resumes the session, the transfer fires exactly once, and
anyone can check the L1 receipt offline: the operator's signature and the treasurer's
co-signature over the exact action.

    python examples/approval_flow.py
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

POLICY = """\
[policy]
default = "allow"

[[rule]]
id = "wires-need-treasury"
verb = "tool_call"
scope = "wire_transfer"
conditions = [{{ field = "amount", op = "gte", value = 10000, display = "10,000 or more" }}]
decision = "require_approval"
approvers = ["treasury"]
sla_minutes = 240

[approvers.treasury]
members = {{ treasurer = "{treasurer}" }}
"""


def heso_cli(*args: str, env: dict[str, str], cwd: Path) -> str:
    """Run the real ``heso`` command line; returns its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "heso", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"heso {' '.join(args)} failed:\n{done.stderr}{done.stdout}")
    return done.stdout


def step(text: str) -> None:
    print(f"\n== {text}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="heso-approval-") as tmp:
        base = Path(tmp)
        project = base / "bank-agent"
        for name in [k for k in os.environ if k.startswith("HESO_")]:
            del os.environ[name]  # this demo brings its own settings
        os.environ["HESO_KDF_PROFILE"] = "interactive"  # fast key derivation for a demo
        env = dict(os.environ, HESO_PROJECT_ROOT=str(project))

        step("the operator scaffolds a project (operator key in heso-local-data/)")
        heso_cli("init", str(project), env=env, cwd=base)

        step("the treasurer creates their own approver key, on their own device")
        treasurer_env = dict(
            env,
            HESO_APPROVER_HOME=str(base / "treasurer-laptop"),
            HESO_APPROVER_PASSPHRASE=secrets.token_urlsafe(16),
        )
        created = json.loads(
            heso_cli("approver", "new", "treasurer", "--json", env=treasurer_env, cwd=base)
        )
        print(f"treasurer's public key: {created['public_key']}")
        (project / "heso.toml").write_text(POLICY.format(treasurer=created["public_key"]))

        step("the agent tries a wire transfer: policy parks it")
        import heso

        heso.init(project_root=project)

        @heso.gated(sla="1d", on_timeout="deny")
        def wire_transfer(to: str, amount: int, reference: str) -> str:
            return (
                f"wired {amount} to {to} ({reference}) under receipt {heso.current_action_hash()}"
            )

        result = wire_transfer("ACME GmbH", 25_000, "INV-2041", _heso_session="wire-2041")
        print(f"wire_transfer returned {result!r}; heso.decision = {heso.decision('wire-2041')!r}")
        print(heso_cli("approvals", "list", env=env, cwd=base).rstrip())
        pending = json.loads(heso_cli("approvals", "list", "--json", env=env, cwd=base))
        action_hash = pending[0]["action_hash"]

        step("the treasurer approves it from the CLI with their own key")
        print(
            heso_cli(
                "approve",
                action_hash[:12],
                "--as",
                "treasurer",
                "--reason",
                "invoice checked",
                env=treasurer_env,
                cwd=base,
            ).rstrip()
        )

        step("the agent resumes the session: the transfer fires, exactly once")
        print(wire_transfer("ACME GmbH", 25_000, "INV-2041", _heso_session="wire-2041"))
        again = wire_transfer("ACME GmbH", 25_000, "INV-2041", _heso_session="wire-2041")
        print(f"calling again returns {again!r}; heso.decision = {heso.decision('wire-2041')!r}")
        heso.shutdown()

        step("anyone verifies the L1 receipt offline")
        receipt = heso_cli("show", action_hash[:12], "--json", env=env, cwd=base)
        auditor = base / "auditor"
        auditor.mkdir()
        (auditor / "receipt.json").write_text(receipt)
        (auditor / "approvers.toml").write_text((project / "heso.toml").read_text())
        audit_env = {k: v for k, v in env.items() if k != "HESO_PROJECT_ROOT"}
        verdict = heso_cli(
            "verify", "receipt.json", "--approvers", "approvers.toml", env=audit_env, cwd=auditor
        ).strip()
        signers = [s["key_id"] for s in json.loads(receipt)["signatures"]]
        print(f"{verdict}: signed by {', '.join(signers)}")
        print(heso_cli("verify", "--chain", env=env, cwd=base).rstrip())
        return 0 if verdict == "Valid (L1)" else 1


if __name__ == "__main__":
    sys.exit(main())
