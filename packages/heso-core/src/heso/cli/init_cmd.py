"""``heso init [dir]``: scaffold a project and mint the operator key."""

from __future__ import annotations

import argparse
from typing import Any

from heso.cli._output import add_json_flag, emit


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "init", help="scaffold heso.toml, heso_bootstrap.py and the operator key"
    )
    p.add_argument("dir", nargs="?", default=".", help="project root (default: .)")
    p.add_argument(
        "--require-passphrase",
        action="store_true",
        help="refuse the dev passphrase file: HESO_KEY_PASSPHRASE is mandatory from now on",
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from heso.project import init_project

    result = init_project(args.dir, require_passphrase=args.require_passphrase)
    lines = [f"heso project in {result.root}"]
    lines += [f"  wrote   {p.relative_to(result.root)}" for p in result.written]
    lines += [f"  kept    {p.relative_to(result.root)}" for p in result.kept]
    lines.append(f"operator key  {result.public_key}")
    lines.append(f"did:key       did:key:{result.did_key}")
    pin = f'operator_keys = ["{result.public_key}"]'
    lines.append(f"pin it        add  {pin}  under [heso] in heso.toml,")
    lines.append("              so `heso verify` rejects a store re-signed under any other key")
    if result.dev_passphrase:
        lines.append(
            "passphrase    heso-local-data/DEV-ONLY.passphrase (development only: set "
            "HESO_KEY_PASSPHRASE in production)"
        )
    lines.append("next: `import heso_bootstrap` in your agent, or try `heso demo`")
    emit(
        args,
        "\n".join(lines),
        {
            "ok": True,
            "root": str(result.root),
            "written": [str(p) for p in result.written],
            "kept": [str(p) for p in result.kept],
            "public_key": result.public_key,
            "did_key": f"did:key:{result.did_key}",
            "pin": pin,
            "key_created": result.key_created,
            "dev_passphrase": result.dev_passphrase,
        },
    )
    return 0
