"""Reliability on the PostgreSQL store: hosts that share nothing but the database URL append to
one chain and fire an approved action exactly once; a stopped database fails the gate closed
and work resumes when it returns. (The SIGKILL, tamper and concurrency campaigns run against
both stores: test_rel_crash, test_rel_tamper, test_rel_concurrency.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import heso
from heso.errors import BridgeError
from heso.ledger import verify_ledger
from heso.ledger.postgres_store import PostgresLedger

HOSTS = "ABCD"
THREADS = 8
PER_THREAD = 25
PASSPHRASE = "fleet approver passphrase"

POLICY = """
[policy]
default = "allow"

[[rule]]
id = "refunds-need-oncall"
verb = "tool_call"
scope = "refund"
decision = "require_approval"
approvers = ["oncall"]

[approvers.oncall]
members = {{ alice = "{alice}" }}
"""

HOST = r"""
import json, os, sys, threading, time
import heso
from heso.capture import capture

role, fired_log, out = sys.argv[1], sys.argv[2], sys.argv[3]
PER_THREAD, THREADS = int(sys.argv[4]), int(sys.argv[5])
heso.init()

@heso.gated
def refund(order: str, amount: int) -> str:
    fd = os.open(fired_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(fd, f"{role}\n".encode())
    os.close(fd)
    return "refunded"

report = {"role": role}
if role == "A":
    report["first"] = repr(refund("o-1", 40, _heso_session="s-fleet"))

errors = []
def work(t):
    try:
        for i in range(PER_THREAD):
            assert capture("tool_call", "ping", {"host": role, "t": t, "i": i}).allowed
    except BaseException as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
report["errors"] = errors
if role in "ACD":
    # Host A may not have suspended the action yet (wait() knows no session until then).
    deadline = time.monotonic() + 120
    while (decided := heso.wait("s-fleet", timeout=120)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    report["decision"] = decided
    report["again"] = repr(refund("o-1", 40, _heso_session="s-fleet"))
heso.shutdown()
with open(out, "w") as f:
    json.dump(report, f)
"""


def _host(base: Path, project: Path, name: str) -> tuple[Path, dict[str, str]]:
    """A "host": its own copy of the project (the shared operator key), cwd and HOME."""
    root = base / f"host-{name}"
    shutil.copytree(project, root / "project")
    (root / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HESO_")}
    env.update(HOME=str(root / "home"), HESO_KDF_PROFILE="interactive")
    return root / "project", env


def test_four_hosts_one_chain_one_firing(
    heso_project: Any, postgres_store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heso.approvals.identity import new_approver

    approver_home = tmp_path / "approver-device"
    monkeypatch.setenv("HESO_APPROVER_HOME", str(approver_home))
    monkeypatch.setenv("HESO_APPROVER_PASSPHRASE", PASSPHRASE)
    alice = str(new_approver("alice")[1])
    heso_project.write_policy(textwrap.dedent(POLICY.format(alice=alice)))
    script = tmp_path / "host.py"
    script.write_text(HOST)
    fired = tmp_path / "fired.log"
    hosts = {name: _host(tmp_path, heso_project.root, name) for name in HOSTS}
    procs = {}
    for name in "ACD":
        cwd, env = hosts[name]
        env["HESO_STORE"] = postgres_store_url
        procs[name] = subprocess.Popen(
            [
                sys.executable,
                str(script),
                name,
                str(fired),
                str(tmp_path / f"{name}.json"),
                str(PER_THREAD),
                str(THREADS),
            ],
            cwd=cwd,
            env=env,
        )
    # Host B: an approver somewhere else lists the action and approves it with her own key.
    cwd_b, env_b = hosts["B"]
    env_b.update(
        HESO_STORE=postgres_store_url,
        HESO_APPROVER_HOME=str(approver_home),
        HESO_APPROVER_PASSPHRASE=PASSPHRASE,
    )

    def heso_b(*argv: str) -> Any:
        done = subprocess.run(
            [sys.executable, "-m", "heso", *argv, "--json"],
            cwd=cwd_b,
            env=env_b,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    deadline = time.monotonic() + 120
    rows: list[Any] = []
    while not rows and time.monotonic() < deadline:
        rows = heso_b("approvals", "list")
        time.sleep(0.2)
    (row,) = rows
    heso_b("approve", row["action_hash"][:16], "--as", "alice")
    for name, proc in procs.items():
        assert proc.wait(timeout=300) == 0, name
    reports = {n: json.loads((tmp_path / f"{n}.json").read_text()) for n in "ACD"}
    assert reports["A"]["first"] == "heso.SUSPENDED"
    for name, report in reports.items():
        assert report["errors"] == [] and report["decision"] == "approved", (name, report)
    agains = sorted(r["again"] for r in reports.values())
    assert agains == ["'refunded'", "heso.SUSPENDED", "heso.SUSPENDED"], reports
    assert len(fired.read_text().split()) == 1  # the body ran once, on one host

    store = PostgresLedger(postgres_store_url)
    from heso.approvals.registry import load_project_registry

    verdict = verify_ledger(
        store, approver_keys=load_project_registry(heso_project.root).approver_keys()
    )
    assert verdict.ok, verdict
    # 3 hosts x 8 threads x 25 pings, the suspension, and the L1 firing receipt: no fork, no gap.
    assert verdict.details["entries"] == 3 * THREADS * PER_THREAD + 2
    seqs = [s for s, _ in store.entries()]
    assert seqs == list(range(len(seqs)))


def test_a_stopped_database_fails_the_gate_closed_and_work_resumes(
    heso_project: Any,
    postgres_store_url: str,
    postgres_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    heso_project.write_policy('[policy]\ndefault = "allow"\n')
    monkeypatch.setenv("HESO_STORE", postgres_store_url)
    heso_project.init(timeout=1.0)
    ran: list[int] = []

    @heso.tool
    def charge(n: int) -> int:
        ran.append(n)
        return n

    assert charge(1) == 1
    postgres_server.stop("fast")
    try:
        with pytest.raises(BridgeError, match="PostgreSQL store") as err:
            charge(2)
        assert ran == [1]  # no body without a committed receipt
        assert postgres_server.password not in str(err.value)
    finally:
        postgres_server.start()
    assert charge(3) == 3 and ran == [1, 3]
    heso.shutdown()
    verdict = verify_ledger(PostgresLedger(postgres_store_url), require_sealed=True)
    assert verdict.ok and verdict.details["entries"] == 2
