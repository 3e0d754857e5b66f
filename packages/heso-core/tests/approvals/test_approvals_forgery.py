"""Key rotation between suspend and finalize, forged approvals, a tampered lifecycle."""

from __future__ import annotations

import pytest

import heso
from heso import verdict as v
from heso.approvals.decisions import approver_decision, sign_record
from heso.approvals.file_store import FileApprovalStore
from heso.approvals.identity import load_approver
from heso.errors import LifecycleError, OperatorKeyMismatchError, VerificationError
from heso.keys import SigningKey, resolve_passphrase, write_key_file
from heso.ledger import FileLedger
from heso.receipt import co_sign, verify_receipt

from .conftest import T0


def _refund(calls):
    @heso.gated
    def refund(order: str, amount: int) -> str:
        calls.append(order)
        return "done"

    return refund


def _rotate_operator_key(approvals) -> SigningKey:
    data_dir = approvals.project.data_dir
    new = SigningKey.generate()
    write_key_file(data_dir / "operator.key", new, resolve_passphrase(data_dir), role="operator")
    approvals.init()
    return new


def _alice_part(action_hash: str, *, signed_hash: str | None = None, key=None, name="alice"):
    """Alice's approval; ``signed_hash`` makes her co-signature cover another action."""
    key = key or load_approver(name)
    part = approver_decision(
        key,
        approver=name,
        action_hash=signed_hash or action_hash,
        decision="approved",
        group="oncall",
        threshold=1,
        at=T0,
    )
    if signed_hash is not None:
        record = dict(part["record"], action_hash=action_hash)
        part = sign_record(record, key, f"approver:{name}")
    return part


def test_key_rotation_between_suspend_and_finalize_resuspends(approvals):
    calls: list[str] = []
    refund = _refund(calls)
    from heso.config import current

    old_key = current().key.public_key()
    refund("o-1", 10, _heso_session="s-rot")
    (row,) = approvals.pending()
    old_hash = row["action_hash"]
    approvals.approve(old_hash, "alice")

    new_key = _rotate_operator_key(approvals)
    show = approvals.show(old_hash)
    with pytest.raises(OperatorKeyMismatchError) as err:
        heso.finalize_l1(old_hash, show["suspended_content"], show["relayed_parts"])
    new_hash = err.value.new_action_hash
    assert err.value.action_hash == old_hash and new_hash != old_hash
    # Never minted under a stale key: no L1 for the old action, and the re-suspension is
    # signed by the new key.
    old = FileLedger(approvals.project.data_dir).receipt(old_hash)
    assert len(old["signatures"]) == 1
    resuspended = FileLedger(approvals.project.data_dir).receipt(new_hash)
    assert resuspended["content"]["agent_identity"] == str(new_key.public_key())
    assert resuspended["content"]["action"] == old["content"]["action"]
    assert [r["action_hash"] for r in approvals.pending()] == [new_hash]
    # The old approval does not carry over.
    assert refund("o-1", 10, _heso_session="s-rot") is heso.SUSPENDED
    assert calls == []
    code, err2 = approvals.approve(old_hash, "alice")
    assert code == 2 and "superseded" in err2["message"]

    approvals.approve(new_hash, "alice")
    assert refund("o-1", 10, _heso_session="s-rot") == "done"
    l1 = FileLedger(approvals.project.data_dir).receipt(new_hash)
    registry = approvals.registry()
    verdict = verify_receipt(
        l1, trusted_operators={new_key.public_key()}, approver_keys=registry.approver_keys()
    )
    assert str(verdict) == "Valid (L1)"
    assert verify_receipt(l1, trusted_operators={old_key}).code == v.UNTRUSTED_KEY
    assert approvals.kinds("s-rot") == [
        "suspended",
        "approved/approver",
        "suspended",
        "approved/approver",
        "finalized",
        "fired",
        "completed",
    ]


def test_rotation_detected_on_resume_too(approvals):
    refund = _refund([])
    refund("o-2", 20, _heso_session="s-rot2")
    (row,) = approvals.pending()
    approvals.approve(row["action_hash"], "alice")
    _rotate_operator_key(approvals)
    assert heso.resume("s-rot2") == "suspended"
    (again,) = approvals.pending()
    assert again["action_hash"] != row["action_hash"]


def test_an_approval_signed_by_an_unregistered_key_never_counts(approvals):
    calls: list[str] = []
    refund = _refund(calls)
    refund("o-3", 30, _heso_session="s-forge")
    (row,) = approvals.pending()
    h = row["action_hash"]
    mallory = SigningKey.generate()
    forged = _alice_part(h, key=mallory)  # claims to be alice, signed by another key
    store = FileApprovalStore(approvals.project.data_dir)
    with store.locked("s-forge"):
        store.append("s-forge", forged)
    assert refund("o-3", 30, _heso_session="s-forge") is heso.SUSPENDED
    assert calls == []
    show = approvals.show(h)
    assert show["approvals"] == []
    assert [r["verdict"] for r in show["rejected"]] == [v.UNKNOWN_APPROVER]
    with pytest.raises(VerificationError) as err:
        heso.finalize_l1(h, show["suspended_content"], [forged])
    assert err.value.verdict.code == v.UNKNOWN_APPROVER
    # An L1 receipt carrying that signature does not verify either.
    registry = approvals.registry()
    l1 = co_sign(
        FileLedger(approvals.project.data_dir).receipt(h),
        [("alice", mallory.public_key(), bytes.fromhex(forged["record"]["approval_signature"]))],
        group="oncall",
        threshold=1,
    )
    assert verify_receipt(l1, approver_keys=registry.approver_keys()).code == v.UNKNOWN_APPROVER


def test_an_approval_of_another_action_never_counts(approvals):
    calls: list[str] = []
    refund = _refund(calls)
    refund("o-4", 40, _heso_session="s-other")
    refund("o-5", 50, _heso_session="s-this")
    rows = {r["session"]: r["action_hash"] for r in approvals.pending()}
    other, this = rows["s-other"], rows["s-this"]
    # Alice's genuine co-signature over the other action, in a record for this one.
    forged = _alice_part(this, signed_hash=other)
    store = FileApprovalStore(approvals.project.data_dir)
    with store.locked("s-this"):
        store.append("s-this", forged)
    assert refund("o-5", 50, _heso_session="s-this") is heso.SUSPENDED
    show = approvals.show(this)
    assert [r["verdict"] for r in show["rejected"]] == [v.APPROVAL_MISMATCH]
    with pytest.raises(VerificationError) as err:
        heso.finalize_l1(this, show["suspended_content"], [forged])
    assert err.value.verdict.code == v.APPROVAL_MISMATCH
    # Her whole approval of the other action does not open this one either.
    genuine = _alice_part(other)
    with store.locked("s-this"):
        store.append("s-this", genuine)
    assert refund("o-5", 50, _heso_session="s-this") is heso.SUSPENDED
    assert calls == []
    l1 = co_sign(
        FileLedger(approvals.project.data_dir).receipt(this),
        [
            (
                "alice",
                load_approver("alice").public_key(),
                bytes.fromhex(genuine["record"]["approval_signature"]),
            )
        ],
        group="oncall",
        threshold=1,
    )
    registry = approvals.registry()
    assert verify_receipt(l1, approver_keys=registry.approver_keys()).code == v.APPROVAL_MISMATCH


def test_the_cli_refuses_unregistered_or_mismatched_approvers(approvals, monkeypatch):
    from heso.approvals.identity import new_approver

    refund = _refund([])
    refund("o-6", 60, _heso_session="s-cli")
    (row,) = approvals.pending()
    new_approver("mallory")
    code, err = approvals.approve(row["action_hash"], "mallory")
    assert code == 2 and "not a registered member" in err["message"]
    # Alice's key file replaced by another key: her name alone proves nothing.
    from heso.approvals.identity import key_path

    key_path("alice").rename(key_path("alice").with_suffix(".bak"))
    new_approver("alice")
    code, err = approvals.approve(row["action_hash"], "alice")
    assert code == 2 and "is not the one registered for 'alice'" in err["message"]
    monkeypatch.setenv("HESO_APPROVER_PASSPHRASE", "wrong")
    code, err = approvals.approve(row["action_hash"], "alice")
    assert code == 2 and err["error"] == "KeyDecryptionError"
    assert approvals.show(row["action_hash"])["approvals"] == []


def test_a_tampered_lifecycle_fails_closed(approvals):
    calls: list[str] = []
    refund = _refund(calls)
    refund("o-7", 70, _heso_session="s-tamper")
    (row,) = approvals.pending()
    approvals.deny(row["action_hash"], "alice")
    path = FileApprovalStore(approvals.project.data_dir).session_dir("s-tamper") / "lifecycle.jsonl"
    first, denial = path.read_bytes().splitlines(keepends=True)
    # Rewriting history (here: a later deadline) breaks the links and the operator signature.
    path.write_bytes(first.replace(b'"deadline":"2026-03-03', b'"deadline":"2027-03-03') + denial)
    with pytest.raises(LifecycleError):
        refund("o-7", 70, _heso_session="s-tamper")
    assert calls == []
    code, rows = approvals.cli("approvals", "list", "--all")
    assert code == 0 and rows[0]["status"] == "corrupt"


def test_after_a_rotation_no_record_is_signed_by_a_key_the_session_does_not_trust(approvals):
    refund = _refund([])
    refund("o-8", 80, _heso_session="s-rot3")
    (row,) = approvals.pending()
    _rotate_operator_key(approvals)
    # An operator decision would be signed by the new key: the action is suspended again first.
    with pytest.raises(OperatorKeyMismatchError) as err:
        heso.append_decision("s-rot3", "denied")
    new_hash = err.value.new_action_hash
    assert err.value.action_hash == row["action_hash"] and new_hash != row["action_hash"]
    assert heso.append_decision("s-rot3", "denied") == "denied"
    assert approvals.show(new_hash)["rejected"] == []

    # A timeout of an action suspended under the old key is computed, never recorded anew.
    refund("o-9", 90, _heso_session="s-rot4")
    (row,) = [r for r in approvals.pending() if r["session"] == "s-rot4"]
    _rotate_operator_key(approvals)
    approvals.init("2026-03-04T09:00:00Z")  # past the one-day SLA (deny)
    for _ in range(2):
        assert heso.decision("s-rot4") == "expired"
        assert refund("o-9", 90, _heso_session="s-rot4") is heso.DENIED
    assert approvals.kinds("s-rot4") == ["suspended"]
    assert approvals.show(row["action_hash"])["rejected"] == []
