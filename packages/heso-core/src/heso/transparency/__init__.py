"""Transparency for heso's log: a Merkle tree, signed checkpoints, proofs and witnesses.

The formats are the transparency ecosystem's own (C2SP), so existing verifiers and witnesses
check heso's logs and heso checks theirs (``docs/spec/transparency.md``):

- :mod:`~heso.transparency.merkle` RFC 6962 hashing and the RFC 9162 proof verifiers
- :mod:`~heso.transparency.hash_store` where the tree's hashes live, and their layout
- :mod:`~heso.transparency.tree` the incremental tree: appends, roots, proofs
"""
