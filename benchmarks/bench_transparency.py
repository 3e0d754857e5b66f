"""The Merkle tree's costs: proofs on a 1M-entry log, and what each append adds to the gate.

* **proofs**: on a tree of 1,000,000 entries kept in a file (``FileHashStore``, built once under
  ``benchmarks/results/`` and reused), an inclusion proof for a random entry and a consistency
  proof from a random earlier size to the full tree: produced from the stored hashes, and
  verified (RFC 9162), each call timed on its own.
* **append**: one tree append of a real chain line (leaf hash, the node hashes it completes, one
  ``pwrite``), interleaved with the full ``@heso.tool`` gate (100-rule policy, buffered) in the
  same process. The gate runs twice: as shipped (its ledger keeps the tree and issues
  checkpoints) and on a ledger whose tree hook is switched off (``gate_no_tree``); the target
  is on what the tree adds to the gate's p50 (``tree_share_of_gate``). The ledger defers each
  leaf and stores the held ones in one write before its next signed head or checkpoint, so the
  gate's mean (``run_mean_us``) carries that work, and ``append_batched_per_leaf_us`` is its
  cost per leaf (``append_batch``: 256 leaves hashed and written in one ``pwrite``).
  ``append_hash_only`` is the hashing alone (a compact range, nothing stored),
  ``append_memory`` stores into memory.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    RESULTS,
    call_args,
    gated_tool,
    interleaved,
    machine,
    make_project,
    section_main,
    timer_overhead_us,
)


def _line(template: bytes, seq: int) -> bytes:
    """A chain line of the template's length, distinct per ``seq``."""
    tag = b"%012d" % seq
    return tag + template[len(tag) :]


def _tree(n: int, template: bytes) -> tuple[Any, dict[str, Any]]:
    from heso.transparency.hash_store import FileHashStore, group_start
    from heso.transparency.tree import MerkleTree

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"transparency-{n}.tree"
    store = FileHashStore(path)
    info: dict[str, Any] = {"entries": n, "file_bytes": 32 * group_start(n)}
    if store.hash_count() != group_start(n):
        store.truncate(0)
        tree = MerkleTree(store)
        t0 = time.perf_counter()
        for i in range(n):
            tree.append(_line(template, i))
        secs = time.perf_counter() - t0
        info["build_s"] = secs
        info["build_us_per_append"] = secs / n * 1e6
    else:
        info["reused"] = True
    return MerkleTree(store, size=n), info


def run(quick: bool) -> dict[str, Any]:
    import heso
    from heso.transparency.hash_store import FileHashStore, MemoryHashStore
    from heso.transparency.merkle import verify_consistency, verify_inclusion
    from heso.transparency.tree import CompactRange, MerkleTree

    n = 20_000 if quick else 1_000_000
    rounds, block = (4, 50) if quick else (40, 200)

    # A real chain line, from a gated project, is the leaf.
    root = make_project(rules=100)
    os.environ["HESO_DURABILITY"] = "buffered"
    heso.init(project_root=root)
    send_email = gated_tool()
    send_email(*call_args(0))
    template = (root / "heso-local-data" / "receipts.jsonl").read_bytes().split(b"\n")[0]

    out: dict[str, Any] = {
        "machine": machine(),
        "timer_overhead_us": timer_overhead_us(),
        "leaf_bytes": len(template),
    }
    tree, out["tree"] = _tree(n, template)
    size = tree.size
    full_root = tree.root()

    # Proofs: 1024 random cases, prepared so each timed call is the operation alone.
    rng = random.Random(1)
    cases = []
    for _ in range(1024):
        i = rng.randrange(size)
        old = rng.randrange(1, size)
        cases.append(
            (
                i,
                tree.leaf_hash(i),
                tree.inclusion_proof(i),
                old,
                tree.root(old),
                tree.consistency_proof(old),
            )
        )

    def inclusion_produce(k: int) -> Any:
        return tree.inclusion_proof(cases[k & 1023][0])

    def inclusion_verify(k: int) -> None:
        i, leaf, proof = cases[k & 1023][:3]
        verify_inclusion(leaf, i, size, proof, full_root)

    def consistency_produce(k: int) -> Any:
        return tree.consistency_proof(cases[k & 1023][3])

    def consistency_verify(k: int) -> None:
        old, old_root, proof = cases[k & 1023][3:]
        verify_consistency(old, size, old_root, full_root, proof)

    out.update(
        interleaved(
            {
                "inclusion_produce": inclusion_produce,
                "inclusion_verify": inclusion_verify,
                "consistency_produce": consistency_produce,
                "consistency_verify": consistency_verify,
            },
            max(2, rounds // 2),
            block,
        )
    )
    out["proof_hashes"] = {
        "inclusion_median": sorted(len(c[2]) for c in cases)[512],
        "consistency_median": sorted(len(c[5]) for c in cases)[512],
    }
    tree.store.close()  # type: ignore[attr-defined]

    # Appends, against the gate they will ride on.
    arguments = [call_args(i) for i in range(1024)]
    scratch = Path(tempfile.mkdtemp(prefix="heso-bench-tree-"))
    file_tree = MerkleTree(FileHashStore(scratch / "receipts.tree"))
    memory_tree = MerkleTree(MemoryHashStore())
    edge = CompactRange()
    lines = [_line(template, i) for i in range(1024)]
    batch_tree = MerkleTree(FileHashStore(scratch / "batch.tree"))

    def append_batch(k: int) -> None:
        if batch_tree.size >= 1 << 16:
            batch_tree.truncate(0)  # keep the file small (one call in 256)
        batch_tree.extend(lines[(k & 3) * 256 : (k & 3) * 256 + 256])

    from heso import config
    from heso.ledger import FileLedger

    runtime = config.current()
    with_tree = runtime.ledger
    no_tree = FileLedger(Path(tempfile.mkdtemp(prefix="heso-bench-notree-")), key=runtime.key)
    from heso.canonical import loads_strict

    no_tree.append(loads_strict(template)["receipt"])
    no_tree._add_leaves = lambda lines: None  # type: ignore[method-assign]
    assert no_tree._tree is not None
    no_tree._tree.due = lambda now=None: False  # type: ignore[method-assign]

    def gate(k: int) -> str:
        runtime.ledger = with_tree
        return send_email(*arguments[k & 1023])

    def gate_no_tree(k: int) -> str:
        runtime.ledger = no_tree
        return send_email(*arguments[k & 1023])

    # The two gates alternate on their own: the tree cases' heavier work (a 256-leaf batch)
    # would cool the caches of whichever gate follows it.
    res = interleaved({"gate_buffered": gate, "gate_no_tree": gate_no_tree}, rounds, block)
    res |= interleaved(
        {
            "append_file": lambda k: file_tree.append(lines[k & 1023]),
            "append_memory": lambda k: memory_tree.append(lines[k & 1023]),
            "append_hash_only": lambda k: edge.append(lines[k & 1023]),
            "append_batch": append_batch,
        },
        rounds,
        block,
    )
    out.update(res)
    g50 = res["gate_buffered"]["per_call_us"]["p50"]
    out["ratio_tree_append_to_gate"] = res["append_file"]["per_call_us"]["p50"] / g50
    out["ratio_tree_hash_only_to_gate"] = res["append_hash_only"]["per_call_us"]["p50"] / g50
    out["append_batched_per_leaf_us"] = res["append_batch"]["per_call_us"]["p50"] / 256
    bare = res["gate_no_tree"]["per_call_us"]["p50"]
    out["tree_share_of_gate"] = (g50 - bare) / bare
    mean, bare_mean = (res[k]["run_mean_us"]["median"] for k in ("gate_buffered", "gate_no_tree"))
    out["tree_share_of_gate_mean"] = (mean - bare_mean) / bare_mean
    runtime.ledger = with_tree
    no_tree.close()
    heso.shutdown()
    return out


if __name__ == "__main__":
    section_main(run)
