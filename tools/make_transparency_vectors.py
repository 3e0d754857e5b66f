"""Regenerate the transparency vectors in ``docs/vectors/transparency/``.

A seven-entry heso chain, its Merkle tree (every stored hash, in stored order), checkpoints
signed by the log and cosigned by two witnesses, an inclusion proof (``tlog-proof``) and a
consistency proof (a ``tlog-witness`` request body), each with altered copies that must fail.
``manifest.json`` lists every file with the result a verifier must reach
(``docs/spec/transparency.md`` explains the formats).

Keys are generated fresh and thrown away: only public keys (vkeys) and signatures land on disk.
Run: ``python tools/make_transparency_vectors.py``, then
``pytest tests/test_transparency_vectors.py``.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from make_vectors import content  # the receipt content of the chain vectors

from heso.keys import SigningKey
from heso.ledger import format as fmt
from heso.receipt import mint
from heso.transparency.checkpoint import default_origin, issue_checkpoint
from heso.transparency.cosignature import CosignatureSigner
from heso.transparency.hash_store import MemoryHashStore
from heso.transparency.note import Ed25519Signer, Signature
from heso.transparency.proof import ConsistencyProof, InclusionProof
from heso.transparency.tree import MerkleTree
from heso.transparency.witness_client import add_cosignatures

OUT = Path(__file__).resolve().parent.parent / "docs" / "vectors" / "transparency"
COSIGNED_AT = 1767323045  # 2026-01-02T03:04:05Z


def receipt(key: SigningKey, i: int) -> dict[str, Any]:
    fields = {"to": f"customer{i}@example.com", "subject": f"order #{1000 + i}"}
    return dict(mint(content(key, fields), key))


def main() -> int:
    operator = SigningKey.generate()
    log = Ed25519Signer(default_origin(operator.public_key()), operator)
    witnesses = [
        CosignatureSigner(f"witness{i}.example", SigningKey.generate(), clock=lambda: COSIGNED_AT)
        for i in (1, 2)
    ]
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    cases: list[dict[str, Any]] = []

    def write(name: str, data: bytes | str) -> None:
        (OUT / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)

    def case(name: str, data: bytes | str, kind: str, result: str, note: str, **extra: Any) -> None:
        write(name, data)
        cases.append({"file": name, "kind": kind, "result": result, "note": note, **extra})

    # The chain: seven entries, exactly as receipts.jsonl holds them.
    lines, prev = [], "0" * 64
    for seq in range(7):
        line = fmt.encode_entry(seq, prev, receipt(operator, seq))
        lines.append(line)
        prev = fmt.entry_hash(line)
    write("receipts.jsonl", b"".join(line + b"\n" for line in lines))

    # The tree: every stored hash, in stored order (hash i is bytes 32i..32i+32 of a file store).
    tree = MerkleTree(MemoryHashStore())
    checkpoints: dict[int, bytes] = {}
    for size, line in enumerate(lines, start=1):
        tree.append(line)
        if size in (4, 7):
            signed = issue_checkpoint(tree, log)
            cosigs = [
                Signature(w.name, w.key_id, w.sign(signed.split(b"\n\n")[0] + b"\n"))
                for w in witnesses
            ]
            checkpoints[size] = add_cosignatures(signed, cosigs)
    stored = tree.store.read_hashes(range(tree.store.hash_count()))
    write("tree-hashes.txt", "".join(h.hex() + "\n" for h in stored))
    write(
        "tree.json",
        json.dumps(
            {
                "leaves": "receipts.jsonl, one leaf per line, newline excluded",
                "leaf_hashes": [tree.leaf_hash(i).hex() for i in range(7)],
                "roots": {str(s): tree.root(s).hex() for s in range(8)},
                "inclusion": [
                    {"index": i, "size": s, "proof": [h.hex() for h in tree.inclusion_proof(i, s)]}
                    for s in range(1, 8)
                    for i in range(s)
                ],
                "consistency": [
                    {"old": m, "new": s, "proof": [h.hex() for h in tree.consistency_proof(m, s)]}
                    for s in range(1, 8)
                    for m in range(1, s + 1)
                ],
            },
            indent=1,
        )
        + "\n",
    )
    write("log.vkey", log.verifier().vkey() + "\n")
    write("witnesses.vkeys", "".join(w.verifier().vkey() + "\n" for w in witnesses))

    cp7, cp4 = checkpoints[7], checkpoints[4]
    case(
        "checkpoint-7.txt",
        cp7,
        "checkpoint",
        "valid",
        "the log's signature and 2 cosignatures",
        size=7,
        threshold=2,
    )
    case(
        "checkpoint-4.txt", cp4, "checkpoint", "valid", "an earlier checkpoint", size=4, threshold=2
    )
    case(
        "checkpoint-7-altered-size.txt",
        cp7.replace(b"\n7\n", b"\n8\n", 1),
        "checkpoint",
        "invalid",
        "the size line changed after signing",
        threshold=0,
    )
    root7 = base64.b64encode(tree.root(7))
    older_root = cp7.replace(root7, base64.b64encode(tree.root(6)), 1)
    case(
        "checkpoint-7-altered-root.txt",
        older_root,
        "checkpoint",
        "invalid",
        "the root line replaced by an older root",
        threshold=0,
    )
    one_cosig = cp7[: cp7.rindex(b"\n\xe2\x80\x94 ") + 1]
    case(
        "checkpoint-7-one-cosignature.txt",
        one_cosig,
        "checkpoint",
        "invalid",
        "one cosignature dropped: below a threshold of 2",
        threshold=2,
    )

    # Inclusion of entry 3 in the checkpoint of size 7, with the receipt file it proves.
    entry = json.loads(lines[3])
    write("entry-3.receipt.json", json.dumps(entry["receipt"], indent=2) + "\n")
    proof = InclusionProof(3, tuple(tree.inclusion_proof(3, 7)), cp7, bytes.fromhex(entry["prev"]))
    case(
        "entry-3.tlog-proof",
        proof.to_text(),
        "inclusion",
        "valid",
        "entry 3 of the tree of size 7",
        receipt="entry-3.receipt.json",
    )
    wrong_index = InclusionProof(4, proof.path, cp7, proof.extra)
    case(
        "entry-3-wrong-index.tlog-proof",
        wrong_index.to_text(),
        "inclusion",
        "invalid",
        "the index changed to 4",
        receipt="entry-3.receipt.json",
    )
    altered = dict(entry["receipt"])
    altered["content"] = json.loads(json.dumps(entry["receipt"]["content"]))
    altered["content"]["action"]["fields"]["to"] = "attacker@example.com"
    write("entry-3-altered.receipt.json", json.dumps(altered, indent=2) + "\n")
    cases.append(
        {
            "file": "entry-3.tlog-proof",
            "kind": "inclusion",
            "result": "invalid",
            "note": "a field of the receipt changed",
            "receipt": "entry-3-altered.receipt.json",
        }
    )

    # Consistency from the checkpoint of size 4 to that of size 7: a witness request body.
    consistency = ConsistencyProof(4, tuple(tree.consistency_proof(4, 7)), cp7)
    case(
        "consistency-4-7.txt",
        consistency.to_bytes(),
        "consistency",
        "valid",
        "size 7 extends size 4",
        old="checkpoint-4.txt",
        threshold=2,
    )
    forged_lines = [lines[0], lines[1], lines[2].replace(b"customer2@", b"nobody@"), *lines[3:]]
    forged = MerkleTree(MemoryHashStore())
    forged.extend(forged_lines)
    forged_cp = issue_checkpoint(forged, log)
    rewritten = ConsistencyProof(4, tuple(forged.consistency_proof(4, 7)), forged_cp)
    case(
        "consistency-4-7-rewritten.txt",
        rewritten.to_bytes(),
        "consistency",
        "invalid",
        "the operator rewrote entry 2 and signed a new checkpoint of size 7",
        old="checkpoint-4.txt",
        threshold=0,
    )

    manifest = {
        "description": "heso transparency vectors (docs/spec/transparency.md): a chain, its "
        "Merkle tree and stored hashes, checkpoints, proofs, and altered copies that must fail. "
        "Trust: log.vkey for the log, witnesses.vkeys for cosignatures (threshold per case).",
        "origin": log.name,
        "cases": cases,
    }
    write("manifest.json", json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
