"""The conformance vectors in ``docs/vectors/`` (receipts and chains) and their manifest.

``python tools/make_vectors.py`` (re)writes the *derived* vectors: receipts made from the
committed ones by edits that need no private key (an approver's label changed, say), so the
signed vectors keep their bytes and the derived ones are reproducible. ``--fresh`` regenerates
everything with fresh keys, thrown away after (only public keys and signatures land on disk);
every vector's bytes change then, so do that only when the format changes. Then run
``pytest tests/test_vectors.py``.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from heso.keys import SigningKey
from heso.ledger import FileLedger, file_store
from heso.ledger import format as fmt
from heso.ledger import index as idx
from heso.receipt import (
    approval_message,
    build_content,
    compute_action_hash,
    mint,
    operator_message,
    signature_entry,
)

OUT = Path(__file__).resolve().parent.parent / "docs" / "vectors"


def content(
    key: SigningKey,
    fields: dict[str, Any],
    *,
    verb: str = "tool_call",
    tool: str = "send_email",
    decision: str = "allow",
) -> dict[str, Any]:
    return build_content(
        captured_at="2026-01-02T03:04:05Z",
        agent_identity=key.public_key().to_str(),
        action={
            "verb": verb,
            "tool_name": tool,
            "workflow": "default",
            "account": "default",
            "fields": fields,
        },
        policy={
            "rule_id": "vector-rule",
            "rule_display": "conformance vector",
            "matched_conditions": [],
            "decision_path": "rule:vector-rule",
            "decision": decision,
        },
    )


def _dump(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2).encode()


def _relabel(source: str, labels: dict[int, str]) -> Callable[[], bytes]:
    """The receipt ``source`` with signature ``i`` labelled ``labels[i]`` (key_id is not
    signed, so anyone can do this to a genuine L1 receipt)."""

    def make() -> bytes:
        receipt = json.loads((OUT / "receipts" / source).read_text())
        for i, key_id in labels.items():
            receipt["signatures"][i]["key_id"] = key_id
        return _dump(receipt)

    return make


DERIVED: list[tuple[str, Callable[[], bytes], str, str, str]] = [
    # (file, how it is made, verdict, the signed vector whose options it takes, note)
    (
        "l1_relabelled_approver.json",
        _relabel("valid_l1.json", {1: "approver:bob"}),
        "WrongApprover",
        "valid_l1.json",
        "alice's co-signature labelled approver:bob, another registered approver",
    ),
    (
        "l1_unregistered_label.json",
        _relabel("valid_l1.json", {1: "approver:ceo"}),
        "WrongApprover",
        "valid_l1.json",
        "alice's co-signature labelled approver:ceo, a name no key is registered under",
    ),
    (
        "l1_quorum_relabelled.json",
        _relabel("valid_l1_quorum.json", {2: "approver:alice"}),
        "WrongApprover",
        "valid_l1_quorum.json",
        "bob's leg of a 2-of-2 quorum labelled approver:alice",
    ),
]


def derive(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write the derived vectors; returns ``cases`` with their entries (re)placed at the end."""
    names = {f"receipts/{name}" for name, *_ in DERIVED}
    kept = [c for c in cases if c["file"] not in names]
    by_file = {c["file"]: c for c in kept}
    for name, make, verdict, source, note in DERIVED:
        (OUT / "receipts" / name).write_bytes(make())
        options = {
            k: val
            for k, val in by_file[f"receipts/{source}"].items()
            if k in ("trusted_operators", "approver_keys")
        }
        kept.append({"file": f"receipts/{name}", "verdict": verdict, "note": note, **options})
    return kept


def write_manifest(cases: list[dict[str, Any]], chain_cases: list[dict[str, Any]]) -> None:
    manifest = {
        "description": "heso conformance vectors: each file with the verdict a verifier must "
        "reach. Options: trusted_operators pins operator keys; approver_keys maps registered "
        "approver public keys to names.",
        "receipts": cases,
        "chains": chain_cases,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fresh", action="store_true", help="regenerate every vector with fresh keys"
    )
    if not parser.parse_args().fresh:
        manifest = json.loads((OUT / "manifest.json").read_text())
        write_manifest(derive(manifest["receipts"]), manifest["chains"])
        print(f"wrote {len(DERIVED)} derived receipt vectors to {OUT}")
        return 0
    shutil.rmtree(OUT / "receipts", ignore_errors=True)
    shutil.rmtree(OUT / "chains", ignore_errors=True)
    (OUT / "receipts").mkdir(parents=True, exist_ok=True)
    return fresh()


def fresh() -> int:
    op, other = SigningKey.generate(), SigningKey.generate()
    alice, bob, mallory = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()
    registry = {alice.public_key().to_str(): "alice", bob.public_key().to_str(): "bob"}
    pinned = [op.public_key().to_str()]
    cases: list[dict[str, Any]] = []

    def add(
        name: str, data: Any, verdict: str, level: str | None = None, note: str = "", **opts: Any
    ) -> None:
        raw = data if isinstance(data, bytes) else _dump(data)
        (OUT / "receipts" / name).write_bytes(raw)
        case = {"file": f"receipts/{name}", "verdict": verdict, "note": note}
        if level:
            case["trust_level"] = level
        case.update(opts)
        cases.append(case)

    base = mint(content(op, {"to": "a@example.com", "subject": "hi", "n": 3}), op)
    add("valid_l0.json", base, "Valid", "L0", "a plain allowed tool call")
    add(
        "valid_l0_unicode_numbers.json",
        mint(
            content(
                op,
                {
                    "naïve": '☃ \u2028 "q" \\ \t',
                    "€": 1.5,
                    "tiny": 1e-7,
                    "big": 1e21,
                    "neg": -0.25,
                    "int": 9007199254740991,
                    "nested": {"z": [1, {"b": None, "a": True}], "𝄞": "astral key"},
                },
            ),
            op,
        ),
        "Valid",
        "L0",
        "non-ASCII and astral keys, escapes, numbers of every magnitude",
    )
    add(
        "valid_l0_redacted.json",
        mint(
            content(
                op,
                {
                    "to": "a@example.com",
                    "api_key": {"heso_redacted": "commit", "commitment": "blake3:" + "ab" * 32},
                    "password": {"heso_redacted": "destroy"},
                },
            ),
            op,
        ),
        "Valid",
        "L0",
        "redaction markers verify like any value",
    )
    add(
        "valid_l0_block.json",
        mint(
            content(op, {"path": "/etc"}, verb="delete", tool="delete_file", decision="block"), op
        ),
        "Valid",
        "L0",
        "a blocked delete is still a valid receipt of the refusal",
    )
    add(
        "valid_l0_pinned.json", base, "Valid", "L0", "operator key pinned", trusted_operators=pinned
    )

    r = copy.deepcopy(base)
    r["signatures"][0]["signature"] = (
        "0" if r["signatures"][0]["signature"][0] != "0" else "1"
    ) + r["signatures"][0]["signature"][1:]
    add("bad_signature.json", r, "InvalidSignature", note="one hex digit of the signature changed")
    r = copy.deepcopy(base)
    r["content"]["action_hash"] = "f" * 64
    add("hash_mismatch.json", r, "HashMismatch", note="claimed action_hash replaced")
    r = copy.deepcopy(base)
    r["content"]["action"]["fields"]["to"] = "evil@example.com"
    add("altered_field.json", r, "HashMismatch", note="a field changed after signing")
    r = copy.deepcopy(base)
    r["content"]["policy"]["decision"] = "block"
    add("altered_decision.json", r, "HashMismatch", note="the decision changed after signing")
    r = copy.deepcopy(base)
    h = r["content"]["action_hash"]
    r["signatures"][0] = signature_entry(
        "operator", other.public_key(), other.sign(operator_message(h))
    )
    add("wrong_key.json", r, "WrongKey", note="signed by a key other than agent_identity")
    add(
        "untrusted_key.json",
        mint(content(other, {"to": "a@example.com"}), other),
        "UntrustedKey",
        note="self-consistent but not signed by the pinned operator",
        trusted_operators=pinned,
    )
    r = copy.deepcopy(base)
    r["alg"] = "heso-action/v3+ed448"
    add("unknown_alg.json", r, "UnsupportedAlgorithm")
    r = copy.deepcopy(base)
    del r["content"]["policy"]
    add("missing_member.json", r, "MalformedReceipt", note="content.policy missing")
    r = copy.deepcopy(base)
    r["content"]["surprise"] = 1
    add("unknown_member.json", r, "MalformedReceipt", note="an extra content member")
    add(
        "malformed_json.json",
        json.dumps(base)[:-7].encode(),
        "MalformedJson",
        note="truncated JSON",
    )
    text = json.dumps(base)
    add(
        "duplicate_keys.json",
        text.replace('"alg": ', '"alg": "x", "alg": ', 1).encode(),
        "MalformedJson",
        note="duplicate object key",
    )
    add(
        "nan.json",
        text.replace('"n": 3', '"n": NaN').encode(),
        "MalformedJson",
        note="NaN is not JSON",
    )

    def approved(
        signers: list[tuple[str, SigningKey]],
        target: str | None = None,
        multi: dict[str, Any] | None = None,
        decision: str = "approved",
        signed: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An L1 candidate: each signer signs the approval statement over ``target`` (default
        the receipt's own hash) for ``signed`` (default ``multi``); ``multi`` is embedded."""
        multi = multi or {"group": "oncall", "threshold": 1}
        stmt = signed or multi
        r = mint(
            content(
                op,
                {"amount": 4200, "to_account": "DE89…"},
                verb="payment",
                tool="wire_transfer",
                decision="require_approval",
            ),
            op,
        )
        h = target or r["content"]["action_hash"]
        msg = approval_message(
            h, group=stmt["group"], threshold=stmt["threshold"], decision=decision
        )
        for name, k in signers:
            r["signatures"].append(signature_entry(f"approver:{name}", k.public_key(), k.sign(msg)))
        r["multi_approval"] = multi
        return dict(r)

    add(
        "valid_l1.json",
        approved([("alice", alice)]),
        "Valid",
        "L1",
        "co-signed by a registered approver",
        approver_keys=registry,
    )
    add(
        "valid_l1_quorum.json",
        approved([("alice", alice), ("bob", bob)], multi={"group": "treasury", "threshold": 2}),
        "Valid",
        "L1",
        "2-of-2 quorum",
        approver_keys=registry,
    )
    add(
        "l1_quorum_not_met.json",
        approved([("alice", alice)], multi={"group": "treasury", "threshold": 2}),
        "QuorumNotMet",
        approver_keys=registry,
    )
    add(
        "l1_duplicate_signer.json",
        approved([("alice", alice), ("alice", alice)], multi={"group": "treasury", "threshold": 2}),
        "QuorumNotMet",
        note="one key signing twice counts once",
        approver_keys=registry,
    )
    add(
        "l1_unknown_approver.json",
        approved([("mallory", mallory)]),
        "UnknownApprover",
        note="approver key not registered",
        approver_keys=registry,
    )
    other_hash = compute_action_hash(content(op, {"amount": 1}))
    add(
        "l1_approval_for_other_action.json",
        approved([("alice", alice)], target=other_hash),
        "ApprovalMismatch",
        note="the approval signs a different action_hash",
        approver_keys=registry,
    )
    add(
        "l1_denial_as_approval.json",
        approved([("alice", alice)], decision="denied"),
        "ApprovalMismatch",
        note="a signed denial presented as an approval",
        approver_keys=registry,
    )
    add(
        "l1_lowered_threshold.json",
        approved(
            [("alice", alice)],
            multi={"group": "treasury", "threshold": 1},
            signed={"group": "treasury", "threshold": 2},
        ),
        "ApprovalMismatch",
        note="multi_approval edited to a lower quorum than was signed",
        approver_keys=registry,
    )
    r = approved([("alice", alice)])
    del r["multi_approval"]
    add(
        "l1_missing_multi_approval.json",
        r,
        "MalformedReceipt",
        note="approver signatures without multi_approval",
        approver_keys=registry,
    )

    # Chains: a valid one, then one mutation per directory.
    chain_cases: list[dict[str, Any]] = []
    valid_dir = OUT / "chains" / "valid"
    c = FileLedger(valid_dir, key=op)
    for i in range(6):
        c.append(mint(content(op, {"i": i}), op))
    c.close()
    (valid_dir / idx.INDEX_FILE).unlink()
    (valid_dir / file_store.LOCK_FILE).unlink()
    chain_cases.append({"dir": "chains/valid", "verdict": "Valid", "entries": 6})
    lines = (valid_dir / fmt.CHAIN_FILE).read_bytes().splitlines(keepends=True)

    def mutant(
        name: str, new_lines: list[bytes], verdict: str, entry: int | None, head: bool = True
    ) -> None:
        d = OUT / "chains" / name
        d.mkdir(parents=True)
        (d / fmt.CHAIN_FILE).write_bytes(b"".join(new_lines))
        if head:
            shutil.copy(valid_dir / fmt.HEAD_FILE, d / fmt.HEAD_FILE)
        case: dict[str, Any] = {"dir": f"chains/{name}", "verdict": verdict}
        if entry is not None:
            case["entry"] = entry
        chain_cases.append(case)

    mutant(
        "altered", [*lines[:2], lines[2].replace(b'"i":2', b'"i":7'), *lines[3:]], "HashMismatch", 2
    )
    mutant("deleted", [*lines[:3], *lines[4:]], "SequenceMismatch", 3)
    mutant("reordered", [*lines[:1], lines[2], lines[1], *lines[3:]], "SequenceMismatch", 1)
    mutant("truncated", lines[:4], "ChainTruncated", 4)
    mutant("torn_tail", [*lines, lines[0][:40]], "TornTail", 6)
    mutant("no_head", lines, "HeadMissing", None, head=False)

    cases = derive(cases)
    write_manifest(cases, chain_cases)
    print(f"wrote {len(cases)} receipt vectors and {len(chain_cases)} chain vectors to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
