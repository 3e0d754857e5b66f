"""Human and ``--json`` output for CLI verbs, one-line errors, and the exit codes.

Everything printed goes through :mod:`heso.display`: text an agent or the store supplied can
never move the cursor, recolour, reorder or hide what a human reads.

Exit codes: 0 success; 1 a negative verdict (a receipt, chain or claim that does not verify);
2 usage, configuration or input errors (a missing project, an unknown prefix, a bad flag).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Every verb takes ``--json`` for machine output."""
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def json_text(data: Any, *, indent: int | None = 2) -> str:
    """``data`` as JSON whose strings show every non-printable character as an escape."""
    from heso.display import escape_json

    return escape_json(json.dumps(data, indent=indent, ensure_ascii=False, sort_keys=True))


def write_json(data: Any, *, indent: int | None = 2) -> None:
    """Print ``data`` as JSON (see :func:`json_text`)."""
    sys.stdout.write(json_text(data, indent=indent) + "\n")


def emit(args: argparse.Namespace, human: str, data: Any) -> None:
    """Print ``data`` as JSON under ``--json``, else the human text (its lines escaped)."""
    from heso.display import escape_lines

    if getattr(args, "json", False):
        write_json(data)
    elif human:
        sys.stdout.write(escape_lines(human.rstrip("\n")) + "\n")


def exit_code(exc: BaseException) -> int:
    """1 for evidence that does not verify, 2 for every other error."""
    from heso.errors import LifecycleError, VerificationError

    return EXIT_INVALID if isinstance(exc, (VerificationError, LifecycleError)) else EXIT_USAGE


def fail(args: argparse.Namespace, exc: BaseException) -> int:
    """Report an error as one clear line (or a JSON object); return its exit code."""
    from heso.display import escape_lines

    diag = exc.diagnostics() if hasattr(exc, "diagnostics") else str(exc)
    if getattr(args, "json", False):
        write_json({"ok": False, "error": type(exc).__name__, "message": diag}, indent=None)
    else:
        sys.stderr.write(f"error: {escape_lines(diag)}\n")
    return exit_code(exc)
