"""Fixtures for the approval tests: approver keys on their own "device", a project whose
policy parks wire transfers and refunds, and helpers that drive the real CLI in-process."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

T0 = "2026-03-02T09:00:00Z"
PASSPHRASE = "correct horse battery staple"
NAMES = ("alice", "bob", "carol", "dave")


@dataclass
class Approvals:
    """A project with registered approvers, and the CLI as those approvers use it."""

    project: Any
    keys: dict[str, str]
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch

    @property
    def root(self) -> Path:
        return self.project.root

    def init(self, clock: str = T0, **kwargs: Any) -> Any:
        """(Re)initialise heso at ``clock``; the CLI sees the same clock."""
        import heso

        self.monkeypatch.setenv("HESO_CLOCK", clock)
        return heso.init(project_root=self.root, clock_override=clock, **kwargs)

    def cli(self, *argv: str, clock: str | None = None) -> tuple[int, Any]:
        """Run ``heso <argv> --project <root> --json`` in-process; returns (code, JSON)."""
        from heso.cli import main

        if clock is not None:
            self.monkeypatch.setenv("HESO_CLOCK", clock)
        self.capsys.readouterr()
        code = main([*argv, "--project", str(self.root), "--json"])
        out = self.capsys.readouterr().out
        return code, json.loads(out) if out.strip() else None

    def approve(self, action_hash: str, name: str, **kw: Any) -> tuple[int, Any]:
        return self._decide("approve", action_hash, name, **kw)

    def deny(self, action_hash: str, name: str, **kw: Any) -> tuple[int, Any]:
        return self._decide("deny", action_hash, name, **kw)

    def _decide(
        self,
        verb: str,
        action_hash: str,
        name: str,
        *,
        reason: str | None = None,
        clock: str | None = None,
        group: str | None = None,
    ) -> tuple[int, Any]:
        argv = [verb, action_hash[:16], "--as", name]
        if reason:
            argv += ["--reason", reason]
        if group:
            argv += ["--group", group]
        return self.cli(*argv, clock=clock)

    def pending(self) -> list[dict[str, Any]]:
        code, rows = self.cli("approvals", "list")
        assert code == 0
        return rows

    def show(self, action_hash: str) -> dict[str, Any]:
        code, data = self.cli("approvals", "show", action_hash[:16])
        assert code == 0, data
        return data

    def registry(self) -> Any:
        from heso.approvals.registry import load_project_registry

        return load_project_registry(self.root)

    def lifecycle(self, session: str) -> list[dict[str, Any]]:
        from heso.approvals.file_store import FileApprovalStore

        return [line.record for line in FileApprovalStore(self.project.data_dir).lines(session)]

    def kinds(self, session: str) -> list[str]:
        return [
            r["kind"] if r["kind"] != "decision" else f"{r['decision']}/{r['by']}"
            for r in self.lifecycle(session)
        ]


POLICY = """
[policy]
default = "allow"

[[rule]]
id = "refunds-need-oncall"
verb = "tool_call"
scope = "refund"
decision = "require_approval"
approvers = ["oncall"]

[[rule]]
id = "wires-need-finance"
verb = "tool_call"
scope = "wire_transfer"
decision = "require_approval"
approvers = ["finance"]

[[rule]]
id = "quick-approvals"
verb = "tool_call"
scope = "page_someone"
decision = "require_approval"
approvers = ["oncall"]
sla_minutes = 10

[[rule]]
id = "never-nuke"
verb = "tool_call"
scope = "nuke"
decision = "block"

[approvers.oncall]
members = {{ alice = "{alice}" }}
escalate_to = "managers"

[approvers.managers]
members = {{ dave = "{dave}" }}

[approvers.finance]
members = {{ alice = "{alice}", bob = "{bob}", carol = "{carol}" }}
threshold = 2
"""


@pytest.fixture(scope="session")
def _approver_device(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Approver keys for NAMES, made once (Argon2id is deliberately slow)."""
    from heso.approvals.identity import new_approver

    home = tmp_path_factory.mktemp("approver-keys")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HESO_KDF_PROFILE", "interactive")
        mp.setenv("HESO_APPROVER_HOME", str(home))
        mp.setenv("HESO_APPROVER_PASSPHRASE", PASSPHRASE)
        keys = {name: str(new_approver(name)[1]) for name in NAMES}
    return home, keys


@pytest.fixture
def approvals(
    _approver_device: tuple[Path, dict[str, str]],
    heso_project: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Approvals]:
    made, keys = _approver_device
    home = tmp_path / "approver-device"
    shutil.copytree(made, home)
    monkeypatch.setenv("HESO_APPROVER_HOME", str(home))
    monkeypatch.setenv("HESO_APPROVER_PASSPHRASE", PASSPHRASE)
    heso_project.write_policy(textwrap.dedent(POLICY.format(**keys)))
    ctx = Approvals(heso_project, keys, capsys, monkeypatch)
    ctx.init()
    yield ctx
