"""Human and ``--json`` output for CLI verbs, and one-line errors."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Every verb takes ``--json`` for machine output."""
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def emit(args: argparse.Namespace, human: str, data: Any) -> None:
    """Print ``data`` as JSON under ``--json``, else the human text."""
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    elif human:
        sys.stdout.write(human.rstrip("\n") + "\n")


def fail(args: argparse.Namespace, exc: BaseException) -> int:
    """Report an error as one clear line (or a JSON object) and return exit code 1."""
    diag = exc.diagnostics() if hasattr(exc, "diagnostics") else str(exc)
    if getattr(args, "json", False):
        payload = {"ok": False, "error": type(exc).__name__, "message": diag}
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, sort_keys=True) + "\n")
    else:
        sys.stderr.write(f"error: {diag}\n")
    return 1
