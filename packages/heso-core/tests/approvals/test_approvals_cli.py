"""The CLI verbs as people read them, approver keys, and offline verification by a third party."""

from __future__ import annotations

import json
import os
import stat

import pytest

import heso
from heso.cli import main
from heso.ledger import FileLedger

from .conftest import PASSPHRASE


def test_approver_new_creates_an_encrypted_key_and_prints_what_to_register(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("HESO_KDF_PROFILE", "interactive")
    monkeypatch.setenv("HESO_APPROVER_HOME", str(tmp_path / "device"))
    monkeypatch.delenv("HESO_APPROVER_PASSPHRASE", raising=False)
    assert main(["approver", "new", "erin"]) == 2
    assert "HESO_APPROVER_PASSPHRASE is not set" in capsys.readouterr().err

    monkeypatch.setenv("HESO_APPROVER_PASSPHRASE", PASSPHRASE)
    assert main(["approver", "new", "erin"]) == 0
    out = capsys.readouterr().out
    path = tmp_path / "device" / "erin.key"
    doc = json.loads(path.read_text())
    assert (doc["role"], doc["require_passphrase"]) == ("approver", True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert f'members = {{ erin = "{doc["public_key"]}" }}' in out
    assert PASSPHRASE not in out and PASSPHRASE not in path.read_text()

    assert main(["approver", "new", "erin"]) == 2
    assert "already has a key" in capsys.readouterr().err
    assert main(["approver", "show", "erin", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["public_key"] == doc["public_key"]
    assert main(["approver", "new", "../evil"]) == 2
    assert "invalid approver name" in capsys.readouterr().err


def test_human_output_of_list_show_and_approve(approvals, monkeypatch):
    @heso.gated
    def wire_transfer(to: str, amount: int) -> str:
        return "sent"

    wire_transfer("ACME", 9_000, _heso_session="s-human")
    (row,) = approvals.pending()
    h = row["action_hash"]
    root = str(approvals.root)
    approvals.capsys.readouterr()

    assert main(["approvals", "list", "--project", root]) == 0
    out = approvals.capsys.readouterr().out
    assert h[:12] in out and "tool_call wire_transfer" in out and "wires-need-finance" in out
    assert "finance 0/2" in out and "1d left → deny" in out

    assert (
        main(["approve", h[:12], "--as", "bob", "--reason", "invoice #42", "--project", root]) == 0
    )
    out = approvals.capsys.readouterr().out
    assert "bob approved" in out and "for finance: 1 of 2" in out
    assert main(["approve", h[:12], "--as", "carol", "--project", root]) == 0
    assert "quorum met" in approvals.capsys.readouterr().out

    assert main(["approvals", "show", h[:12], "--project", root]) == 0
    out = approvals.capsys.readouterr().out
    assert "approved by bob (finance)" in out and "invoice #42" in out
    assert '"amount": 9000' in out
    assert main(["approvals", "list", "--project", root]) == 0
    assert "no actions awaiting approval" in approvals.capsys.readouterr().out


def test_usage_without_a_subcommand(capsys):
    with pytest.raises(SystemExit):
        main(["approvals", "nope"])
    assert main(["approvals"]) == 2
    assert main(["approver"]) == 2


def test_unknown_prefix_is_a_clear_error(approvals):
    code, err = approvals.cli("approve", "abcdef", "--as", "alice")
    assert code == 2 and "no suspended action matches 'abcdef'" in err["message"]
    code, err = approvals.cli("approvals", "show", "xyz")
    assert code == 2 and "not an action_hash prefix" in err["message"]


def test_a_third_party_verifies_the_l1_receipt_offline(approvals, tmp_path, monkeypatch):
    @heso.gated
    def refund(order: str) -> str:
        return "ok"

    refund("o-1", _heso_session="s-3p")
    (row,) = approvals.pending()
    approvals.approve(row["action_hash"], "alice")
    refund("o-1", _heso_session="s-3p")
    l1 = FileLedger(approvals.project.data_dir).receipt(row["action_hash"])
    outside = tmp_path / "auditor"
    outside.mkdir()
    (outside / "receipt.json").write_text(json.dumps(l1))
    (outside / "approvers.toml").write_text(approvals.project.policy_path.read_text())
    monkeypatch.chdir(outside)
    approvals.capsys.readouterr()
    assert main(["verify", "receipt.json", "--json"]) == 1
    assert json.loads(approvals.capsys.readouterr().out)["verdict"] == "UnknownApprover"
    assert main(["verify", "receipt.json", "--approvers", "approvers.toml", "--json"]) == 0
    assert json.loads(approvals.capsys.readouterr().out)["summary"] == "Valid (L1)"
