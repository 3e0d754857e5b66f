"""The stores a CLI verb reads: its project's (``--project``, else discovered from the CWD)
``store`` setting, opened through the one factory, :mod:`heso.stores`. Reading needs no key
and no policy, so these verbs start fast."""

from __future__ import annotations

import argparse

from heso import stores
from heso.approvals.store import ApprovalStore
from heso.ledger.store import LedgerReader
from heso.project import POLICY_FILE, require_root
from heso.toml_source import TomlSource


def store_spec(args: argparse.Namespace) -> stores.StoreSpec:
    """Where the verb's project keeps its evidence."""
    root = require_root(getattr(args, "project", None))
    return stores.setting(TomlSource.read(root / POLICY_FILE), root)


def ledger_of(args: argparse.Namespace) -> LedgerReader:
    """The project's ledger, opened to read."""
    return stores.open_ledger(store_spec(args))


def approvals_of(args: argparse.Namespace) -> ApprovalStore:
    """The project's approvals store."""
    return stores.open_approvals(store_spec(args))
