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


_PIN_TEXT = {
    "pinned": "pinned        in heso.toml ([heso] operator_keys): `heso verify` and heso.init()"
    " trust only pinned keys",
    "already": "pinned        already, in heso.toml ([heso] operator_keys)",
}


def _pin_lines(outcome: str, pin: str) -> list[str]:
    if outcome in _PIN_TEXT:
        return [_PIN_TEXT[outcome]]
    if outcome == "other-keys":
        return [
            "NOT PINNED    heso.toml pins other operator keys, so heso.init() refuses this one.",
            "              If you rotated the key on purpose, add it to [heso] operator_keys;",
            "              if not, heso-local-data/operator.key was replaced: restore the old one.",
        ]
    return [
        f"pin it        add  {pin}  under [heso] in heso.toml,",
        "              so `heso verify` rejects a store re-signed under any other key",
    ]


def run(args: argparse.Namespace) -> int:
    from heso.project import init_project

    result = init_project(args.dir, require_passphrase=args.require_passphrase)
    lines = [f"heso project in {result.root}"]
    lines += [f"  wrote   {p.relative_to(result.root)}" for p in result.written]
    lines += [f"  kept    {p.relative_to(result.root)}" for p in result.kept]
    lines.append(f"operator key  {result.public_key}")
    lines.append(f"did:key       did:key:{result.did_key}")
    pin = f'operator_keys = ["{result.public_key}"]'
    lines += _pin_lines(result.pinned, pin)
    if result.dev_passphrase:
        lines.append(
            "passphrase    heso-local-data/DEV-ONLY.passphrase (development only: set "
            "HESO_KEY_PASSPHRASE in production)"
        )
    if not result.approver_groups:
        lines += [
            "approvers     none yet: actions that need approval wait until a group can approve.",
            "              Register the first approver: on their machine, run",
            "                heso approver new alice",
            "              then add the key it prints to heso.toml:",
            "                [approvers.oncall]",
            '                members = { alice = "ed25519:<the key it printed>" }',
        ]
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
            "pinned": result.pinned,
            "approver_groups": result.approver_groups,
            "key_created": result.key_created,
            "dev_passphrase": result.dev_passphrase,
        },
    )
    return 0
