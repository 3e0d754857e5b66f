"""One set of trust inputs, one verifier: ``heso verify <prefix>``, ``heso verify --chain`` and
``heso reveal`` decide with the same pinned operator keys and the same approver rules, and an
approver's label is bound to the key that signed."""

from __future__ import annotations

import json
from typing import Any

import pytest

import heso
from heso.approvals.registry import load_registry
from heso.capture import capture
from heso.cli import main
from heso.keys import SigningKey, load_operator_key
from heso.ledger import FileLedger
from heso.ledger import format as fmt
from heso.ledger import index as idx
from heso.receipt import approval_message, build_content, co_sign, mint, verify_receipt
from heso.redaction import SALT_BYTES, commitment_of
from heso.toml_source import TomlSource

ALICE = SigningKey.from_private_bytes(bytes([1]) * 32)
BOB = SigningKey.from_private_bytes(bytes([2]) * 32)
A, B = ALICE.public_key().to_str(), BOB.public_key().to_str()
APPROVERS = f"""
[approvers.oncall]
members = {{ alice = "{A}" }}

[approvers.finance]
members = {{ alice = "{A}", bob = "{B}" }}
threshold = 2
"""


def run(capsys: Any, *argv: str) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def content(op: SigningKey, **fields: Any) -> dict[str, Any]:
    return build_content(
        captured_at="2026-01-02T03:04:05Z",
        agent_identity=op.public_key().to_str(),
        action={
            "verb": "tool_call",
            "tool_name": "wire_transfer",
            "workflow": "default",
            "account": "default",
            "fields": fields or {"amount": 4200},
        },
        policy={
            "rule_id": "wires",
            "rule_display": "wires need approval",
            "matched_conditions": [],
            "decision_path": "rule:wires",
            "decision": "require_approval",
        },
    )


def l1(
    op: SigningKey, signers: list[tuple[str, SigningKey]], group: str, threshold: int, **f: Any
) -> dict[str, Any]:
    """An L1 receipt: each ``(label, key)`` signs the approval; the entry is labelled
    ``approver:<label>`` whoever the key belongs to."""
    base = mint(content(op, **f), op)
    msg = approval_message(base["content"]["action_hash"], group=group, threshold=threshold)
    legs = [(label, key.public_key(), key.sign(msg)) for label, key in signers]
    return co_sign(base, legs, group=group, threshold=threshold)


# --------------------------------------------------------------------------- item 14


def test_an_approver_label_must_name_the_registered_owner_of_the_key() -> None:
    registry = load_registry(TomlSource(APPROVERS))
    op = SigningKey.generate()
    opts = {"approver_keys": registry.approver_keys(), "approver_groups": registry.groups}
    assert str(verify_receipt(l1(op, [("alice", ALICE)], "oncall", 1), **opts)) == "Valid (L1)"
    for label in ("ceo", "bob"):
        verdict = verify_receipt(l1(op, [(label, ALICE)], "oncall", 1), **opts)
        assert verdict.code == "WrongApprover", (label, str(verdict))
        assert f"approver:{label}" in verdict.reason and "alice" in verdict.reason
    # One leg of a quorum relabelled is enough.
    quorum = l1(op, [("alice", ALICE), ("alice", BOB)], "finance", 2)
    assert verify_receipt(quorum, **opts).code == "WrongApprover"
    assert verify_receipt(l1(op, [("alice", ALICE), ("bob", BOB)], "finance", 2), **opts).ok


# ------------------------------------------------------------- the same rules, prefix and chain


def _project_with(heso_project: Any, *receipts_of: Any) -> list[str]:
    """Write the approvers into heso.toml and append (then seal) the given L1 receipts, minted
    by the project's own operator key: the chain itself is intact."""
    heso_project.write_policy('[policy]\ndefault = "allow"\n' + APPROVERS)
    op = load_operator_key(heso_project.data_dir)
    writer = FileLedger(heso_project.data_dir, key=op)
    hashes = []
    for make in receipts_of:
        receipt = make(op)
        writer.append(receipt)
        hashes.append(receipt["content"]["action_hash"])
    writer.close()
    return hashes


@pytest.mark.parametrize(
    ("signers", "group", "threshold", "code", "why"),
    [
        ([("bob", BOB)], "oncall", 1, "UnknownApprover", "not a member of group 'oncall'"),
        ([("alice", BOB)], "oncall", 1, "WrongApprover", "approver:alice"),
        ([("ceo", ALICE), ("bob", BOB)], "finance", 2, "WrongApprover", "approver:ceo"),
    ],
    ids=["signer-outside-the-group", "relabelled", "relabelled-quorum-leg"],
)
def test_verify_prefix_and_verify_chain_apply_the_same_approver_rules(
    heso_project: Any, capsys: Any, signers: Any, group: str, threshold: int, code: str, why: str
) -> None:
    (h,) = _project_with(heso_project, lambda op: l1(op, signers, group, threshold))
    root = str(heso_project.root)
    prefix_code, by_prefix = run(capsys, "verify", h[:16], "--project", root)
    chain_code, by_chain = run(capsys, "verify", "--chain", "--project", root)
    assert (prefix_code, by_prefix["verdict"]) == (1, code), by_prefix
    assert (chain_code, by_chain["verdict"]) == (1, code), by_chain
    assert why in by_prefix["reason"] and by_prefix["reason"] == by_chain["reason"]
    assert by_chain["entry"] == 0


def test_a_correctly_labelled_quorum_is_valid_by_prefix_and_by_chain(
    heso_project: Any, capsys: Any
) -> None:
    (h,) = _project_with(
        heso_project, lambda op: l1(op, [("alice", ALICE), ("bob", BOB)], "finance", 2)
    )
    root = str(heso_project.root)
    assert run(capsys, "verify", h[:16], "--project", root)[1]["summary"] == "Valid (L1)"
    code, out = run(capsys, "verify", "--chain", "--project", root)
    assert code == 0 and out["l1_receipts"] == 1


# --------------------------------------------------------------------------- item 9


@pytest.fixture
def committed(heso_project: Any) -> tuple[Any, str]:
    """A project with one receipt whose ``api_key`` is committed (its salt in the reveal
    store); the operator key is pinned in heso.toml."""
    heso_project.write_policy('[policy]\ndefault = "allow"\n')
    heso.init(project_root=heso_project.root)
    h = capture(
        "tool_call",
        "send_email",
        {"to": "x@example.com", "api_key": "sk-live-123"},
        redact_fields=["api_key"],
    ).action_hash
    heso.shutdown()
    op = load_operator_key(heso_project.data_dir).public_key()
    heso_project.write_policy(f'[policy]\ndefault = "allow"\n\n[heso]\noperator_keys = ["{op}"]\n')
    return heso_project, h


def _reveal(capsys: Any, project: Any, h: str, *extra: str) -> tuple[int, dict[str, Any]]:
    return run(
        capsys, "reveal", h[:12], "--field", "api_key", "--project", str(project.root), *extra
    )


def test_reveal_refuses_a_forged_commitment(committed: Any, capsys: Any) -> None:
    """An attacker who can write the data directory swaps the commitment for one of a value of
    their choosing: reveal must check the receipt before trusting the commitment in it."""
    project, h = committed
    assert _reveal(capsys, project, h, "--value", "sk-live-123") == (
        0,
        {"ok": True, "action_hash": h, "field": "api_key"},
    )
    salt = bytes(range(SALT_BYTES))
    path = project.data_dir / fmt.CHAIN_FILE
    line = path.read_bytes()
    genuine = json.loads(line.splitlines()[-1])["receipt"]["content"]["action"]["fields"]
    forged = commitment_of("attacker-chosen", salt)
    path.write_bytes(line.replace(genuine["api_key"]["commitment"].encode(), forged.encode()))
    code, out = _reveal(capsys, project, h, "--value", "attacker-chosen", "--salt", salt.hex())
    assert code == 1 and out["ok"] is False, out
    assert out["verdict"] == "HashMismatch"


def test_reveal_pins_the_operator_key_as_verify_does(committed: Any, capsys: Any) -> None:
    project, h = committed
    other = SigningKey.generate().public_key().to_str()
    code, out = _reveal(capsys, project, h, "--value", "sk-live-123", "--trust", other)
    assert code == 1 and out["verdict"] == "UntrustedKey" and out["operator_pinned_by"] == "--trust"


def test_reveal_refuses_a_store_re_signed_under_another_key(committed: Any, capsys: Any) -> None:
    """The whole store re-minted (same values, own commitment, own head) under a key that is not
    the pinned operator key: every hash and signature checks out, the origin does not."""
    project, _ = committed
    receipt = project.receipts()[-1]
    other = SigningKey.generate()
    salt = bytes(range(SALT_BYTES))
    fields = dict(receipt["content"]["action"]["fields"])
    fields["api_key"] = {"heso_redacted": "commit", "commitment": commitment_of("guess", salt)}
    forged_content = {k: v for k, v in receipt["content"].items() if k != "action_hash"}
    forged_content["agent_identity"] = other.public_key().to_str()
    forged_content["action"] = {**receipt["content"]["action"], "fields": fields}
    for name in (fmt.CHAIN_FILE, fmt.HEAD_FILE, idx.INDEX_FILE):
        (project.data_dir / name).unlink(missing_ok=True)
    writer = FileLedger(project.data_dir, key=other)
    forged_hash = mint(forged_content, other)["content"]["action_hash"]
    writer.append(mint(forged_content, other))
    writer.close()
    code, out = _reveal(capsys, project, forged_hash, "--value", "guess", "--salt", salt.hex())
    assert code == 1 and out["ok"] is False, out
    assert out["verdict"] == "UntrustedKey"


def test_reveal_refuses_a_receipt_out_of_its_chain_position(committed: Any, capsys: Any) -> None:
    """A genuine line copied to the end of the chain: the receipt verifies on its own, but the
    chain it is read from does not (the copy is where the lookup finds it)."""
    project, h = committed
    path = project.data_dir / fmt.CHAIN_FILE
    data = path.read_bytes()
    path.write_bytes(data + data.splitlines(keepends=True)[-1])
    code, out = _reveal(capsys, project, h, "--value", "sk-live-123")
    assert code == 1 and out["ok"] is False, out
    assert out["verdict"] == "SequenceMismatch"
