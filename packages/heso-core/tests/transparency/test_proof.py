"""Proof files on a real heso chain: the leaf is the chain line, a receipt file plus a
``tlog-proof`` proves its entry offline, and consistency proofs catch rewrites and rollbacks."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import pytest

import heso
from heso.canonical import canonical_bytes, loads_strict
from heso.errors import TransparencyError
from heso.keys import SigningKey, load_operator_key
from heso.ledger import FileLedger
from heso.transparency.checkpoint import (
    Checkpoint,
    default_origin,
    issue_checkpoint,
    open_checkpoint,
    sign_checkpoint,
    verify_checkpoint_consistency,
)
from heso.transparency.hash_store import FileHashStore, MemoryHashStore, node_index
from heso.transparency.merkle import leaf_hash
from heso.transparency.note import Ed25519Signer, parse_note
from heso.transparency.proof import (
    TLOG_PROOF_V1,
    ConsistencyProof,
    InclusionProof,
    entry_leaf,
)
from heso.transparency.tree import MerkleTree
from heso_testing.project import Project

H = [bytes([i]) * 32 for i in range(3)]


def test_tlog_proof_text_is_exact() -> None:
    checkpoint = b"example.com/log\n5\n" + base64.b64encode(H[2]) + b"\n\n\xe2\x80\x94 x AAAAAAA=\n"
    proof = InclusionProof(3, (H[0], H[1]), checkpoint, extra=b"prev")
    text = proof.to_text()
    assert text == (
        f"{TLOG_PROOF_V1}\nextra cHJldg==\nindex 3\n"
        + base64.b64encode(H[0]).decode()
        + "\n"
        + base64.b64encode(H[1]).decode()
        + "\n\n"
        + checkpoint.decode()
    )
    assert InclusionProof.from_text(text) == proof
    assert InclusionProof.from_text(text.encode()) == proof
    bare = InclusionProof(0, (), checkpoint)
    assert bare.to_text() == f"{TLOG_PROOF_V1}\nindex 0\n\n" + checkpoint.decode()
    assert InclusionProof.from_text(bare.to_text()) == bare
    good_hash = base64.b64encode(H[0]).decode()
    for bad in [
        text.replace(TLOG_PROOF_V1, "c2sp.org/tlog-proof@v2"),
        text.replace("index 3", "index 03"),
        text.replace("index 3", "index -3"),
        text.replace("index 3", "idx 3"),
        text.replace("extra cHJldg==", "extra ***"),
        text.replace(good_hash, good_hash[:-2]),
        text.replace(good_hash, base64.b64encode(H[0][:31]).decode()),
        text.replace("\n\n", "\n"),  # no blank line before the checkpoint
        f"{TLOG_PROOF_V1}\nindex 1\n" + (good_hash + "\n") * 65 + "\n" + checkpoint.decode(),
    ]:
        with pytest.raises(TransparencyError):
            InclusionProof.from_text(bad)


def test_consistency_proof_text_is_the_witness_request() -> None:
    proof = ConsistencyProof(20852014, (H[0], H[1]), b"cp\n\n\xe2\x80\x94 x AAAAAAA=\n")
    data = proof.to_bytes()
    assert data == (
        b"old 20852014\n" + base64.b64encode(H[0]) + b"\n" + base64.b64encode(H[1]) + b"\n\n"
        b"cp\n\n\xe2\x80\x94 x AAAAAAA=\n"
    )
    assert ConsistencyProof.from_bytes(data) == proof
    assert ConsistencyProof.from_bytes(b"old 0\n\ncp\n") == ConsistencyProof(0, (), b"cp\n")
    for bad in [b"old 01\n\ncp\n", b"new 1\n\ncp\n", b"old 1\ncp\n", b"old 1\nxyz\n\ncp\n"]:
        with pytest.raises(TransparencyError):
            ConsistencyProof.from_bytes(bad)
    with pytest.raises(TransparencyError, match="at most 63"):
        ConsistencyProof.from_bytes(b"old 1\n" + (base64.b64encode(H[0]) + b"\n") * 64 + b"\ncp\n")


# -- on a real chain ------------------------------------------------------------------------


@pytest.fixture
def chain(allow_all_project: Project) -> tuple[Project, Ed25519Signer]:
    allow_all_project.init()

    @heso.tool
    def send_email(to: str, subject: str) -> str:
        return "queued"

    for i in range(13):
        send_email(f"user{i}@example.com", f"order #{i}")
    heso.shutdown()
    key = load_operator_key(allow_all_project.data_dir)
    return allow_all_project, Ed25519Signer(default_origin(key.public_key()), key)


def _lines(project: Project) -> list[bytes]:
    return [line for _, line in FileLedger(project.data_dir).entries()]


def _tree(lines: list[bytes]) -> MerkleTree:
    tree = MerkleTree(MemoryHashStore())
    tree.extend(lines)
    return tree


def test_the_leaf_is_the_chain_line_as_stored(chain: tuple[Project, Ed25519Signer]) -> None:
    project, _ = chain
    lines = _lines(project)
    assert len(lines) == 13
    raw = (project.data_dir / "receipts.jsonl").read_bytes()
    assert raw.split(b"\n")[:-1] == lines  # the exact bytes of each line, newline excluded
    tree = _tree(lines)
    for i, line in enumerate(lines):
        assert tree.leaf_hash(i) == leaf_hash(line)


def test_a_receipt_and_its_proof_verify_offline(chain: tuple[Project, Ed25519Signer]) -> None:
    project, log = chain
    lines = _lines(project)
    tree = _tree(lines)
    signed = sign_checkpoint(Checkpoint(log.name, tree.size, tree.root()), log)
    for i, line in enumerate(lines):
        entry = loads_strict(line)
        proof = InclusionProof(
            i, tuple(tree.inclusion_proof(i)), signed, extra=bytes.fromhex(entry["prev"])
        )
        # What an auditor holds: the receipt file and the proof file.
        receipt: dict[str, Any] = loads_strict(canonical_bytes(entry["receipt"]))
        parsed = InclusionProof.from_text(proof.to_text())
        assert entry_leaf(receipt, parsed) == line
        verified = parsed.verify(entry_leaf(receipt, parsed), [log.verifier()], origin=log.name)
        assert verified.checkpoint.size == 13
    # Any change to the receipt, the index, the prev or the path fails.
    entry = loads_strict(lines[5])
    proof = InclusionProof(5, tuple(tree.inclusion_proof(5)), signed, bytes.fromhex(entry["prev"]))
    altered = copy.deepcopy(entry["receipt"])
    altered["content"]["action"]["fields"]["to"] = "attacker@example.com"
    with pytest.raises(TransparencyError):
        proof.verify(entry_leaf(altered, proof), [log.verifier()])
    for bad in [
        InclusionProof(6, proof.path, signed, proof.extra),
        InclusionProof(5, proof.path, signed, bytes(32)),
        InclusionProof(5, proof.path[:-1], signed, proof.extra),
        InclusionProof(5, proof.path[::-1], signed, proof.extra),
    ]:
        with pytest.raises(TransparencyError):
            bad.verify(entry_leaf(entry["receipt"], bad), [log.verifier()])
    with pytest.raises(TransparencyError, match="not a heso entry proof"):
        entry_leaf(entry["receipt"], InclusionProof(5, proof.path, signed))
    # A checkpoint signed by another key proves nothing.
    other = Ed25519Signer(log.name, SigningKey.generate())
    with pytest.raises(TransparencyError, match="no trusted key"):
        proof.verify(lines[5], [other.verifier()])


def test_consistency_between_checkpoints_of_a_real_chain(
    chain: tuple[Project, Ed25519Signer],
) -> None:
    project, log = chain
    lines = _lines(project)
    tree = _tree(lines)
    old = Checkpoint(log.name, 6, tree.root(6))
    new_signed = sign_checkpoint(Checkpoint(log.name, 13, tree.root()), log)
    proof = ConsistencyProof(6, tuple(tree.consistency_proof(6)), new_signed)
    again = ConsistencyProof.from_bytes(proof.to_bytes())
    assert again.verify(old, [log.verifier()]).checkpoint.size == 13
    # The operator rewrites entry 3 (re-signing everything with its own key) and issues a
    # fresh checkpoint: whoever kept the old checkpoint catches it.
    forged_lines = [*lines[:3], lines[3].replace(b"user3@", b"nobody@"), *lines[4:]]
    forged = _tree(forged_lines)
    forged_signed = sign_checkpoint(Checkpoint(log.name, 13, forged.root()), log)
    forged_proof = ConsistencyProof(6, tuple(forged.consistency_proof(6)), forged_signed)
    with pytest.raises(TransparencyError, match="rewritten or forked"):
        forged_proof.verify(old, [log.verifier()])
    # A rollback: the newer checkpoint is smaller.
    small = Checkpoint(log.name, 4, tree.root(4))
    with pytest.raises(TransparencyError, match="rolled back"):
        verify_checkpoint_consistency(old, small, tree.consistency_proof(4, 6))
    with pytest.raises(TransparencyError, match="two logs"):
        verify_checkpoint_consistency(old, Checkpoint("x", 13, tree.root()), proof.path)
    with pytest.raises(TransparencyError, match="starts at size 5, the old checkpoint has 6"):
        ConsistencyProof(5, proof.path, new_signed).verify(old, [log.verifier()])
    empty = Checkpoint(log.name, 0, tree.root(0))
    verify_checkpoint_consistency(empty, old, [])
    with pytest.raises(TransparencyError, match="must be empty"):
        verify_checkpoint_consistency(empty, old, [H[0]])


def test_a_checkpoint_in_a_proof_keeps_its_cosignatures(
    chain: tuple[Project, Ed25519Signer], tmp_path: Path
) -> None:
    project, log = chain
    tree = _tree(_lines(project))
    signed = sign_checkpoint(Checkpoint(log.name, tree.size, tree.root()), log)
    proof = InclusionProof(0, tuple(tree.inclusion_proof(0)), signed, bytes(32))
    path = tmp_path / "entry.tlog-proof"
    path.write_text(proof.to_text(), encoding="utf-8")
    assert parse_note(InclusionProof.from_text(path.read_bytes()).checkpoint).to_bytes() == signed


def test_issuing_refuses_a_tree_that_does_not_extend_the_last_checkpoint(tmp_path: Path) -> None:
    """A local process edits the tree's hash file: the log must not sign the result."""
    log = Ed25519Signer("example.com/log", SigningKey.from_private_bytes(b"\x05" * 32))
    path = tmp_path / "receipts.tree"
    with FileHashStore(path) as store:
        tree = MerkleTree(store)
        tree.extend(b"entry %d" % i for i in range(10))
        first = issue_checkpoint(tree, log)
        cp10 = open_checkpoint(first, [log.verifier()]).checkpoint
        tree.extend(b"entry %d" % i for i in range(10, 20))
        cp20 = open_checkpoint(issue_checkpoint(tree, log, previous=cp10), [log.verifier()])
        assert (cp20.checkpoint.size, cp20.checkpoint.origin) == (20, "example.com/log")
        # Overwrite the stored root of entries 0-15, which the new root is built from.
        with open(path, "r+b") as f:
            f.seek(32 * node_index(4, 0))
            f.write(bytes(32))
        tree.reload()
        with pytest.raises(TransparencyError, match="refusing to sign"):
            issue_checkpoint(tree, log, previous=cp10)
        tree.truncate(5)
        with pytest.raises(TransparencyError, match="lost entries"):
            issue_checkpoint(tree, log, previous=cp10)
