"""``heso policy check`` and ``heso policy explain``."""

from __future__ import annotations

import argparse
from typing import Any

from heso.cli._output import add_json_flag, emit


def register(subparsers: Any) -> None:
    """Add ``heso policy check|explain``."""
    parser = subparsers.add_parser("policy", help="validate a policy, or explain a decision")
    sub = parser.add_subparsers(dest="policy_command", metavar="SUBCOMMAND", required=True)

    check = sub.add_parser(
        "check",
        help="validate and lint heso.toml (exit 1 on errors)",
        description="Validate and lint a policy. Exit code 1 when it does not load "
        "(or, with --strict, when there are warnings).",
    )
    check.add_argument("path", nargs="?", help="policy file (default: heso.toml, found upwards)")
    check.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    add_json_flag(check)
    check.set_defaults(func=_check)

    explain = sub.add_parser(
        "explain",
        help="show which rule decides a sample action and why",
        description="Evaluate a sample action and show which rule decided, which conditions "
        "matched and why earlier rules did not.",
    )
    explain.add_argument("--verb", required=True, help="llm_call, tool_call, http_request, ...")
    explain.add_argument("--tool", required=True, help="tool, model or target name")
    explain.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="a field (repeatable); VALUE is read as JSON when it parses, else as text",
    )
    explain.add_argument("--fields-json", metavar="JSON", help="all fields as a JSON object")
    explain.add_argument("--workflow", default="default")
    explain.add_argument("--account", default="default")
    explain.add_argument("--agent", default=None)
    explain.add_argument(
        "--catalog-action", metavar="DOMAIN.ACTION_ID", help="declare a catalog action"
    )
    explain.add_argument("--policy", help="policy file (default: heso.toml, found upwards)")
    add_json_flag(explain)
    explain.set_defaults(func=_explain)


def _policy_path(given: str | None) -> str:
    from pathlib import Path

    from heso.errors import HesoConfigError
    from heso.project import POLICY_FILE, find_root

    if given:
        return given
    root = find_root()
    if root is None:
        raise HesoConfigError(
            f"no {POLICY_FILE} in {Path.cwd()} or any parent folder",
            hint="run `heso init`, or pass the path of a policy file",
        )
    return str(root / POLICY_FILE)


def _check(args: argparse.Namespace) -> int:
    from heso.errors import HesoConfigError
    from heso.policy import load_policy
    from heso.policy.lint import findings_from_error, lint, report

    path = _policy_path(args.path)
    policy = None
    try:
        policy = load_policy(path)
        findings = lint(policy)
    except HesoConfigError as exc:
        findings = findings_from_error(exc)
        path = exc.path or path
    data = report(policy, findings, path)
    failed = not data["ok"] or (args.strict and data["counts"]["warning"] > 0)
    data["ok"] = not failed
    lines = [f.render(path) for f in findings]
    if policy is not None:
        enabled = data["enabled_rules"]
        counts = data["counts"]
        status = "FAILED" if failed else "OK"
        lines.append(
            f"{path}: {status}: {len(policy.rules)} rules ({enabled} enabled), "
            f"default {policy.default.value}; "
            f"{counts['warning']} warning(s), {counts['info']} note(s)"
        )
    else:
        lines.append(f"{path}: FAILED: {len(findings)} problem(s); the policy does not load")
    emit(args, "\n".join(lines), data)
    return 1 if failed else 0


def _explain(args: argparse.Namespace) -> int:
    from heso.action import Action, Verb
    from heso.errors import HesoConfigError
    from heso.policy import load_policy, lookup_catalog
    from heso.policy.explain import explain

    try:
        verb = Verb(args.verb)
    except ValueError:
        choices = ", ".join(v.value for v in Verb)
        raise HesoConfigError(
            f"unknown verb {args.verb!r}", key="--verb", hint=f"verbs: {choices}"
        ) from None
    fields = _fields(args.fields_json, args.field)
    domain = action_id = None
    if args.catalog_action:
        try:
            entry = lookup_catalog(args.catalog_action)
        except ValueError as exc:
            raise HesoConfigError(str(exc), key="--catalog-action") from None
        domain, action_id = entry.domain, entry.action_id
    policy = load_policy(_policy_path(args.policy))
    action = Action(
        verb=verb,
        tool_name=args.tool,
        fields=fields,
        workflow=args.workflow,
        account=args.account,
        agent=args.agent,
        domain=domain,
        action_id=action_id,
    )
    result = explain(policy, action)
    emit(args, result.render(), result.as_dict())
    return 0


def _fields(fields_json: str | None, pairs: list[str]) -> dict[str, Any]:
    import json

    from heso import fieldpath
    from heso.errors import HesoConfigError

    fields: dict[str, Any] = {}
    if fields_json:
        try:
            loaded = json.loads(fields_json)
        except json.JSONDecodeError as exc:
            raise HesoConfigError(
                f"--fields-json is not valid JSON: {exc.msg} at column {exc.colno}",
                key="--fields-json",
                hint="write --fields-json '{\"amount\": 4200}'",
            ) from None
        if not isinstance(loaded, dict):
            raise HesoConfigError(
                "--fields-json must be a JSON object", key="--fields-json", hint='{"amount": 4200}'
            )
        fields.update(loaded)
    for pair in pairs:
        path, sep, text = pair.partition("=")
        if not sep or not path:
            raise HesoConfigError(
                f"--field {pair!r} is not PATH=VALUE", key="--field", hint="--field amount=4200"
            )
        try:
            segments = fieldpath.parse(path)
        except ValueError as exc:
            raise HesoConfigError(
                str(exc), key="--field", hint="--field customer.email=a@b.c"
            ) from None
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError:
            value = text
        target = fields
        for seg in segments[:-1]:
            key = str(seg)
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[str(segments[-1])] = value
    return fields
