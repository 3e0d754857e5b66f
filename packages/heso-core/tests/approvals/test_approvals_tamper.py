"""A local process that can write ``heso-local-data/`` attacks the approvals store.

Unsigned or invalid lifecycle records never change a session's state (they are reported),
what is pending is derived from the signed lifecycles rather than marker files, the fact that an
approved action fired lives in the sealed audit chain (trimming ``approvals/`` never lets it
fire twice), and nothing on disk confirms a guess of a ``destroy``-redacted argument.
"""

from __future__ import annotations

import json
import shutil

import pytest

import heso
from heso import verdict as v
from heso.approvals import reentry
from heso.approvals.admission import admit
from heso.approvals.file_store import FileApprovalStore
from heso.canonical import loads_strict
from heso.cli import main
from heso.errors import BlockedError, SuspendedError
from heso.ledger import FileLedger

AFTER_DEADLINE = "2026-03-02T11:00:00Z"
SOON = "2026-03-02T09:10:00Z"
LATER = "2026-03-02T09:20:00Z"


def _refund(calls: list[str], **options):
    @heso.gated(**options)
    def refund(order: str, amount: int) -> str:
        calls.append(order)
        return "done"

    return refund


def _append_raw(approvals, session: str, record: dict, signer: dict) -> None:
    """Append a well-linked lifecycle line holding ``record`` as ``signer`` says (no key)."""
    store = FileApprovalStore(approvals.project.data_dir)
    with store.locked(session):
        store.append(session, {"record": record, "signer": signer})


def _verify_sealed(root) -> dict:
    code = main(["verify", "--chain", "--sealed", "--json", "--project", str(root)])
    return {"code": code}


# -- item 5: unsigned or invalid records never change state --------------------------------------


@pytest.mark.parametrize(
    "signer",
    [
        {},
        {"key_id": "approver:alice", "public_key": "ed25519:" + "00" * 32, "signature": "00"},
        {"key_id": "operator", "public_key": "ed25519:" + "11" * 32, "signature": "ab" * 64},
    ],
    ids=["no-key", "bad-approver-signature", "forged-operator"],
)
def test_an_unsigned_record_dated_after_the_deadline_changes_nothing(approvals, signer):
    calls: list[str] = []
    refund = _refund(calls, sla="1h", on_timeout="auto_approve")
    assert refund("o-1", 1, _heso_session="s-early") is heso.SUSPENDED
    (row,) = approvals.pending()
    h = row["action_hash"]
    forged = {
        "kind": "decision",
        "by": "approver" if signer.get("key_id") != "operator" else "operator",
        "decision": "denied",
        "action_hash": h,
        "at": AFTER_DEADLINE,
    }
    _append_raw(approvals, "s-early", forged, signer)

    approvals.init(SOON)  # ten minutes in: the SLA (1h) has not elapsed
    assert refund("o-1", 1, _heso_session="s-early") is heso.SUSPENDED
    assert calls == []
    assert heso.decision("s-early") == "suspended"
    # Reported, never counted.
    (row,) = approvals.pending()
    assert row["action_hash"] == h and row["status"] == "suspended"
    assert row["rejected"] == 1
    shown = approvals.show(h)
    assert [r["kind"] for r in shown["rejected"]] == ["decision"]
    assert shown["rejected"][0]["verdict"] in (v.MALFORMED_RECEIPT, v.INVALID_SIGNATURE)
    # The genuine approver still decides the action.
    assert approvals.approve(h, "alice", clock=SOON)[0] == 0
    assert refund("o-1", 1, _heso_session="s-early") == "done"
    assert calls == ["o-1"]


def test_a_record_signed_by_a_foreign_operator_key_is_reported_not_obeyed(approvals):
    from heso.approvals.decisions import operator_record
    from heso.keys import SigningKey

    calls: list[str] = []
    refund = _refund(calls)
    refund("o-2", 2, _heso_session="s-foreign")
    (row,) = approvals.pending()
    mallory = SigningKey.generate()
    part = operator_record(
        {
            "kind": "decision",
            "by": "operator",
            "decision": "approved",
            "action_hash": row["action_hash"],
            "at": SOON,
        },
        mallory,
    )
    _append_raw(approvals, "s-foreign", part["record"], part["signer"])
    assert refund("o-2", 2, _heso_session="s-foreign") is heso.SUSPENDED
    assert calls == []
    shown = approvals.show(row["action_hash"])
    assert shown["status"] == "suspended" and len(shown["rejected"]) == 1


def test_deleting_marker_files_hides_no_pending_action(approvals):
    from heso.console.data import ProjectView

    calls: list[str] = []
    refund = _refund(calls)
    refund("o-3", 3, _heso_session="s-hidden")
    (row,) = approvals.pending()
    h = row["action_hash"]
    root = approvals.project.data_dir / "approvals"
    for marker in ("open", "index"):
        shutil.rmtree(root / marker, ignore_errors=True)
    assert [r["action_hash"] for r in approvals.pending()] == [h]
    assert [a["action_hash"] for a in ProjectView(approvals.root).approvals()] == [h]
    # Approvers still find it, and it still fires once approved.
    assert approvals.approve(h, "alice")[0] == 0
    assert refund("o-3", 3, _heso_session="s-hidden") == "done"
    assert approvals.pending() == []


# -- item 6: one approval fires once, even after approvals/ was trimmed --------------------------


def _trim_after_firing(approvals, session: str, keep_kinds: int) -> None:
    """Delete the session's claim and cut its lifecycle back to its first ``keep_kinds``
    records, as an attacker with write access would."""
    directory = FileApprovalStore(approvals.project.data_dir).session_dir(session)
    (directory / "fired").unlink()
    path = directory / "lifecycle.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:keep_kinds]))


@pytest.mark.parametrize("cut_at", ["finalized", "fired"])
def test_a_gated_approval_never_fires_twice(approvals, cut_at):
    calls: list[str] = []
    refund = _refund(calls)
    refund("o-4", 4, _heso_session="s-twice")
    (row,) = approvals.pending()
    h = row["action_hash"]
    approvals.approve(h, "alice")
    assert refund("o-4", 4, _heso_session="s-twice") == "done"
    kinds = approvals.kinds("s-twice")
    _trim_after_firing(approvals, "s-twice", kinds.index(cut_at))

    heso.shutdown()
    approvals.init(LATER)  # another process, later
    assert refund("o-4", 4, _heso_session="s-twice") is heso.SUSPENDED
    assert calls == ["o-4"]
    assert heso.decision("s-twice") == "completed" or heso.decision("s-twice") == "approved"
    mine = [r for r in approvals.project.receipts() if r["content"]["action_hash"] == h]
    assert sum("multi_approval" in r for r in mine) == 1


def test_a_reentered_approval_never_fires_twice(approvals):
    fields = {"order": "o-5", "amount": 5}
    with pytest.raises(SuspendedError) as parked:
        admit("tool_call", "refund", fields)
    h = parked.value.action_hash
    approvals.approve(h, "alice")
    ran: list[str] = []
    with admit("tool_call", "refund", fields):
        ran.append("x")
    session = f"action-{h}"
    _trim_after_firing(approvals, session, approvals.kinds(session).index("finalized"))
    heso.shutdown()
    approvals.init()
    with (
        pytest.raises((BlockedError, SuspendedError)),
        admit("tool_call", "refund", fields),
    ):
        ran.append("again")
    found = reentry.lookup(h)
    assert found is not None
    assert isinstance(reentry.fire(found), BlockedError)
    assert ran == ["x"]


def test_the_firing_is_sealed_in_the_chain_before_the_body_runs(approvals, tmp_path):
    data_dir = approvals.project.data_dir
    seen: list[tuple[int, int, str]] = []

    @heso.gated
    def refund(order: str, amount: int) -> str:
        head = json.loads((data_dir / "chain.head.json").read_text())
        entries = list(FileLedger(data_dir).entries())
        last = loads_strict(entries[-1][1])["receipt"]["content"]["action_hash"]
        seen.append((head["content"]["length"], len(entries), last))
        return "done"

    refund("o-6", 6, _heso_session="s-sealed")
    (row,) = approvals.pending()
    approvals.approve(row["action_hash"], "alice")
    assert refund("o-6", 6, _heso_session="s-sealed") == "done"
    ((covered, length, last),) = seen
    assert covered == length and last == row["action_hash"]

    # The store as a SIGKILL would leave it, with the firing cut off the chain: detected.
    copy = tmp_path / "copy"
    shutil.copytree(approvals.root, copy)
    chain_file = copy / "heso-local-data" / "receipts.jsonl"
    lines = chain_file.read_bytes().splitlines(keepends=True)
    assert loads_strict(lines[-1])["receipt"]["content"]["action_hash"] == row["action_hash"]
    chain_file.write_bytes(b"".join(lines[:-1]))
    (copy / "heso-local-data" / "receipts.idx").unlink()
    assert _verify_sealed(approvals.root)["code"] == 0
    assert _verify_sealed(copy)["code"] != 0
