"""Every transparency vector in docs/vectors/transparency/ gets exactly its expected result, and
the tree files agree with the chain they were built from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from heso.canonical import loads_strict
from heso.errors import TransparencyError
from heso.transparency.checkpoint import open_checkpoint
from heso.transparency.cosignature import CosignatureVerifier
from heso.transparency.hash_store import MemoryHashStore
from heso.transparency.merkle import verify_consistency, verify_inclusion
from heso.transparency.proof import ConsistencyProof, InclusionProof, entry_leaf
from heso.transparency.tree import MerkleTree
from heso.transparency.vkey import parse_vkey

VECTORS = Path(__file__).resolve().parent.parent / "docs" / "vectors" / "transparency"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text("utf-8"))
LOG = [parse_vkey((VECTORS / "log.vkey").read_text("utf-8"))]
WITNESSES = [parse_vkey(v) for v in (VECTORS / "witnesses.vkeys").read_text("utf-8").split()]


def _witnesses() -> list[CosignatureVerifier]:
    out = [w for w in WITNESSES if isinstance(w, CosignatureVerifier)]
    assert len(out) == 2
    return out


def _check(case: dict[str, Any]) -> None:
    data = (VECTORS / case["file"]).read_bytes()
    trust: dict[str, Any] = {
        "witnesses": _witnesses(),
        "threshold": case.get("threshold", 0),
    }
    kind = case["kind"]
    if kind == "checkpoint":
        verified = open_checkpoint(data, LOG, origin=MANIFEST["origin"], **trust)
        assert verified.checkpoint.size == case["size"]
    elif kind == "inclusion":
        proof = InclusionProof.from_text(data)
        receipt = loads_strict((VECTORS / case["receipt"]).read_bytes())
        proof.verify(entry_leaf(receipt, proof), LOG, origin=MANIFEST["origin"], **trust)
    elif kind == "consistency":
        old = open_checkpoint((VECTORS / case["old"]).read_bytes(), LOG).checkpoint
        ConsistencyProof.from_bytes(data).verify(old, LOG, **trust)
    else:
        raise AssertionError(f"unknown kind {kind}")


@pytest.mark.parametrize(
    "case", MANIFEST["cases"], ids=lambda c: f"{c['file']}:{c.get('receipt', '')}"
)
def test_vector(case: dict[str, Any]) -> None:
    if case["result"] == "valid":
        _check(case)
    else:
        with pytest.raises(TransparencyError):
            _check(case)


def test_the_vectors_cover_every_kind_both_ways() -> None:
    kinds = {(c["kind"], c["result"]) for c in MANIFEST["cases"]}
    for kind in ("checkpoint", "inclusion", "consistency"):
        assert {(kind, "valid"), (kind, "invalid")} <= kinds


def test_the_tree_files_are_the_tree_of_the_chain() -> None:
    raw = (VECTORS / "receipts.jsonl").read_bytes()
    lines = raw.split(b"\n")[:-1]
    tree = MerkleTree(MemoryHashStore())
    tree.extend(lines)
    stored = [bytes.fromhex(h) for h in (VECTORS / "tree-hashes.txt").read_text().split()]
    assert stored == tree.store.read_hashes(range(tree.store.hash_count()))
    spec = json.loads((VECTORS / "tree.json").read_text("utf-8"))
    assert spec["leaf_hashes"] == [tree.leaf_hash(i).hex() for i in range(len(lines))]
    roots = {int(s): bytes.fromhex(r) for s, r in spec["roots"].items()}
    assert roots == {s: tree.root(s) for s in range(len(lines) + 1)}
    for p in spec["inclusion"]:
        proof = [bytes.fromhex(h) for h in p["proof"]]
        assert proof == tree.inclusion_proof(p["index"], p["size"])
        verify_inclusion(tree.leaf_hash(p["index"]), p["index"], p["size"], proof, roots[p["size"]])
    for p in spec["consistency"]:
        proof = [bytes.fromhex(h) for h in p["proof"]]
        assert proof == tree.consistency_proof(p["old"], p["new"])
        verify_consistency(p["old"], p["new"], roots[p["old"]], roots[p["new"]], proof)
