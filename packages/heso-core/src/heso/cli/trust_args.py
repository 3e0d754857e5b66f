"""The trust inputs a verifying command reads from its arguments and the project."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from heso.trust import Trust


def cli_trust(args: argparse.Namespace) -> Trust:
    """The trust inputs of a verifying command: ``--trust`` (if it has one), else the project's
    ``[heso] operator_keys``; ``--approvers`` (if it has one), else the project's approvers."""
    from heso.errors import HesoConfigError
    from heso.project import POLICY_FILE, require_root
    from heso.toml_source import TomlSource
    from heso.trust import load_trust

    try:
        root = require_root(args.project)
    except HesoConfigError:
        if args.project:
            raise
        root = None
    source = TomlSource.read(root / POLICY_FILE) if root is not None else None
    approvers = getattr(args, "approvers", None)
    return load_trust(
        source,
        trust=getattr(args, "trust", None),
        approvers=TomlSource.read(approvers) if approvers else None,
    )


__all__ = ["cli_trust"]
