"""Every conformance vector in docs/vectors/ gets exactly its expected verdict."""

import json
from pathlib import Path

import pytest

from heso.keys import PublicKey
from heso.ledger import verify_chain
from heso.receipt import verify_receipt_bytes

VECTORS = Path(__file__).resolve().parent.parent / "docs" / "vectors"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text())


def test_the_vector_set_covers_every_required_kind():
    verdicts = {c["verdict"] for c in MANIFEST["receipts"]}
    assert {
        "Valid",
        "InvalidSignature",
        "HashMismatch",
        "WrongKey",
        "UntrustedKey",
        "UnsupportedAlgorithm",
        "MalformedJson",
        "MalformedReceipt",
        "UnknownApprover",
        "WrongApprover",
        "ApprovalMismatch",
        "QuorumNotMet",
    } <= verdicts
    assert {c["verdict"] for c in MANIFEST["chains"]} >= {
        "Valid",
        "HashMismatch",
        "SequenceMismatch",
        "ChainTruncated",
        "TornTail",
        "HeadMissing",
    }


@pytest.mark.parametrize("case", MANIFEST["receipts"], ids=lambda c: c["file"])
def test_receipt_vector(case):
    trusted = (
        {PublicKey.from_str(k) for k in case["trusted_operators"]}
        if "trusted_operators" in case
        else None
    )
    approvers = (
        {PublicKey.from_str(k): n for k, n in case["approver_keys"].items()}
        if "approver_keys" in case
        else None
    )
    verdict = verify_receipt_bytes(
        (VECTORS / case["file"]).read_bytes(), trusted_operators=trusted, approver_keys=approvers
    )
    assert verdict.code == case["verdict"], str(verdict)
    if "trust_level" in case:
        assert verdict.trust_level == case["trust_level"]


@pytest.mark.parametrize("case", MANIFEST["chains"], ids=lambda c: c["dir"])
def test_chain_vector(case):
    verdict = verify_chain(VECTORS / case["dir"])
    assert verdict.code == case["verdict"], str(verdict)
    if "entry" in case:
        assert verdict.entry == case["entry"]
    if "entries" in case:
        assert verdict.details["entries"] == case["entries"]


def test_the_derived_vectors_are_what_make_vectors_derives():
    """Vectors edited from signed ones (no private key needed) are reproducible byte for byte
    from the committed signed vectors, which ``tools/make_vectors.py`` leaves untouched."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_vectors", VECTORS.parent.parent / "tools" / "make_vectors.py"
    )
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    cases = {c["file"]: c for c in MANIFEST["receipts"]}
    for name, make, verdict, _, _ in tool.DERIVED:
        assert (VECTORS / "receipts" / name).read_bytes() == make(), name
        assert cases[f"receipts/{name}"]["verdict"] == verdict
