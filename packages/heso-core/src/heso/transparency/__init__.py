"""Transparency for heso's log: a Merkle tree, signed checkpoints, proofs and witnesses.

The formats are the transparency ecosystem's own (C2SP), so existing verifiers and witnesses
check heso's logs and heso checks theirs (``docs/spec/transparency.md``):

- :mod:`~heso.transparency.merkle` RFC 6962 hashing and the RFC 9162 proof verifiers
- :mod:`~heso.transparency.hash_store` where the tree's hashes live, and their layout
- :mod:`~heso.transparency.tree` the incremental tree: appends, roots, proofs
- :mod:`~heso.transparency.note` C2SP signed notes (Ed25519)
- :mod:`~heso.transparency.cosignature` C2SP witness cosignatures (``cosignature/v1``)
- :mod:`~heso.transparency.vkey` verifier keys in their one-line text form
- :mod:`~heso.transparency.checkpoint` C2SP checkpoints: issue, open, check consistency
- :mod:`~heso.transparency.proof` proof files: ``tlog-proof`` and consistency proofs
- :mod:`~heso.transparency.witness` a C2SP ``tlog-witness`` (state and rules)
- :mod:`~heso.transparency.witness_server` the witness on HTTP, runnable
- :mod:`~heso.transparency.witness_client` asking witnesses for cosignatures

Nothing here is imported by ``import heso``.
"""
