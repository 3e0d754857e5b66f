"""``heso demo``: mint an allowed and a redacted receipt into this project, verify both offline.

The project is the one ``heso verify`` would use from here (``--project``, else
``HESO_PROJECT_ROOT``, else the nearest ``heso.toml`` up from the CWD). Outside any project,
the CWD (or ``--project DIR``) is scaffolded first, exactly as ``heso init`` does it. Every
command the demo prints works as printed from where it ran.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from heso.cli._output import add_json_flag, emit

if TYPE_CHECKING:
    from heso.verdict import Verdict

WORKFLOW = "heso-demo"
PREFIX = 12
ACTIONS = (
    ("allow", "search_docs", {"query": "refund policy", "limit": 5}, None),
    (
        "redacted",
        "send_email",
        {"to": "customer@example.com", "subject": "Your refund", "api_key": "sk-demo-0451"},
        ["api_key"],
    ),
)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="mint an allowed and a redacted receipt in this project and verify both offline",
        description="Mint two receipts (workflow heso-demo) through the real engine into this "
        "project's audit chain and verify them offline. Outside a project, the current "
        "directory is scaffolded first, as `heso init` does.",
    )
    p.add_argument(
        "--project",
        help="project root (default: discovered from the CWD; the CWD itself when there is none)",
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import heso
    from heso import stores
    from heso.capture import capture
    from heso.trust import project_trust

    root, scaffolded = _project(args)
    config = heso.init(project_root=root)
    try:
        outcomes = [
            (label, capture("tool_call", tool, fields, workflow=WORKFLOW, redact_fields=redact))
            for label, tool, fields, redact in ACTIONS
        ]
    finally:
        heso.shutdown()
    ledger = stores.open_ledger(config.store_spec)
    trust = project_trust(root)
    rows: list[tuple[str, str, str, Verdict]] = []  # label, decision, action hash, verdict
    for label, outcome in outcomes:
        assert outcome.action_hash is not None and outcome.receipt is not None
        stored = ledger.receipt(outcome.action_hash)
        verdict = trust.verify_receipt(stored)
        shown = label if label == "redacted" else outcome.receipt["content"]["policy"]["decision"]
        rows.append((shown, outcome.kind.value, outcome.action_hash, verdict))
    heso_cmd = _program()
    project = "" if args.project is None else f" --project {shlex.quote(args.project)}"
    commands = [
        f"{heso_cmd} verify {rows[0][2][:PREFIX]}{project}",
        f"{heso_cmd} show {rows[1][2][:PREFIX]}{project}",
    ]
    lines = ["minting your first receipts through the engine:"]
    for label, _, action_hash, verdict in rows:
        lines.append(f"  {label:<9} {action_hash[:PREFIX]}…  ->  {verdict}")
    lines += [
        "",
        f"  receipts written to {ledger.location}",
        "  verify either yourself, offline:",
        f"      {commands[0]}",
        f"  and see the signed JSON (api_key is only a commitment): {commands[1]}",
    ]
    ok = all(v.ok for _, _, _, v in rows)
    emit(
        args,
        "\n".join(lines),
        {
            "ok": ok,
            "project": str(root),
            "scaffolded": scaffolded,
            "store": ledger.location,
            "receipts": [
                {
                    "label": label,
                    "decision": decision,
                    "action_hash": action_hash,
                    "verdict": str(vd),
                }
                for label, decision, action_hash, vd in rows
            ],
            "commands": commands,
        },
    )
    return 0 if ok else 1


def _program() -> str:
    """How to run this heso again from here: ``heso`` when that name finds this installation,
    else the path it was run by (``.venv/bin/heso``), else ``<python> -m heso``."""
    on_path = shutil.which("heso")
    here = os.path.dirname(sys.executable)
    if on_path is not None and os.path.samefile(os.path.dirname(on_path), here):
        return "heso"
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) == "heso" and os.path.isfile(argv0):
        return shlex.quote(argv0)
    return f"{shlex.quote(sys.executable)} -m heso"


def _project(args: argparse.Namespace) -> tuple[Path, Any]:
    """The project to mint into, and what ``heso init`` reported when it had to be scaffolded
    first (``None`` when it existed): ``--project`` or ``HESO_PROJECT_ROOT`` when given (so
    that ``heso verify`` finds it again), else the nearest project up from the CWD, else the
    CWD."""
    from heso.cli import build_parser
    from heso.project import POLICY_FILE, find_root

    explicit = args.project or os.environ.get("HESO_PROJECT_ROOT") or None
    if explicit is not None:
        if (Path(explicit) / POLICY_FILE).is_file():
            return Path(explicit).resolve(), None
        target = Path(explicit)
    else:
        found = find_root()
        if found is not None:
            return found, None
        target = Path.cwd()
    init_args = build_parser().parse_args(["init", str(target), "--json"])
    if args.json:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            init_args.func(init_args)
        return target.resolve(), json.loads(out.getvalue())
    init_args.json = False
    init_args.func(init_args)  # heso init's own report, as `heso init` prints it
    sys.stdout.write("\n")
    return target.resolve(), True
