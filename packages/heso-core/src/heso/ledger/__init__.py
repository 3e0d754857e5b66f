"""The ledger: every receipt a project mints, hash-linked into one chain under a signed head.

``format`` (entry lines, entry hashes, the signed head), ``verify`` (one verifier, whatever store
kept the entries), ``store`` (the interface every store implements), ``file_store`` (the
embedded store in ``heso-local-data/``), ``reader`` and ``index`` (reading the file form and its
hash-prefix index). A process obtains its store from the configuration
(:func:`heso.stores.open_ledger`).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping

from heso.keys import PublicKey
from heso.ledger.file_store import FileLedger
from heso.ledger.format import Entry, Head
from heso.ledger.store import Checkable, LedgerReader, LedgerStore
from heso.ledger.verify import verify_entries, verify_ledger
from heso.receipt import ApproverGroup
from heso.verdict import Verdict

__all__ = [
    "Checkable",
    "Entry",
    "FileLedger",
    "Head",
    "LedgerReader",
    "LedgerStore",
    "verify_chain",
    "verify_entries",
    "verify_ledger",
]


def verify_chain(
    source: str | os.PathLike[str] | Checkable,
    *,
    trusted_operators: Collection[PublicKey] | None = None,
    approver_keys: Mapping[PublicKey, str] | None = None,
    approver_groups: Mapping[str, ApproverGroup] | None = None,
    workers: int | None = None,
    require_sealed: bool = False,
) -> Verdict:
    """Verify a whole ledger: ``source`` is a store, or the data directory of a file store
    (see :func:`heso.ledger.verify.verify_ledger`)."""
    store = FileLedger(source) if isinstance(source, (str, os.PathLike)) else source
    return verify_ledger(
        store,
        trusted_operators=trusted_operators,
        approver_keys=approver_keys,
        approver_groups=approver_groups,
        workers=workers,
        require_sealed=require_sealed,
    )
