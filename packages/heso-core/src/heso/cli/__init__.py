"""The ``heso`` command line. ``python -m heso`` and the console script share :func:`main`.

Each verb lives in its own module exposing ``register(subparsers)``; a handler returns the
exit code. Registration imports nothing heavy, so ``heso verify`` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from heso.cli._output import EXIT_USAGE, fail

COMMAND_MODULES = (
    "heso.cli.init_cmd",
    "heso.cli.demo_cmd",
    "heso.cli.verify_cmd",
    "heso.cli.show_cmd",
    "heso.cli.log_cmd",
    "heso.cli.reveal_cmd",
    "heso.cli.policy_cmd",
    "heso.cli.approvals_cmd",
    "heso.cli.verifier_cmd",
    "heso.cli.console_cmd",
    "heso.cli.checkpoint_cmd",
    "heso.cli.proof_cmd",
    "heso.cli.witness_cmd",
    "heso.cli.store_cmd",
    "heso.cli.export_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every verb registered."""
    from heso import __version__

    parser = argparse.ArgumentParser(
        prog="heso",
        description="Gate, sign and prove every action an AI agent takes.",
        epilog="exit status: 0 success, 1 a verdict that is not Valid (a receipt, chain or "
        "revealed value that does not verify), 2 usage, configuration or input errors",
    )
    parser.add_argument("--version", action="version", version=f"heso {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    from heso.errors import HesoError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): exit quietly like other Unix tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        return 130
    except (HesoError, OSError) as exc:
        return fail(args, exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
