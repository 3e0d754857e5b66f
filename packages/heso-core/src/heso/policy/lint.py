"""``heso policy check``: findings about a policy that loads but may not do what its author
meant (shadowed and disabled rules, an unreachable default, floors that override a rule,
approver groups nobody defined)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from typing import Any

from heso.action import Verb
from heso.errors import HesoConfigError
from heso.policy.engine import Policy
from heso.policy.lanes import PINNED_FLOORS, VERB_LANES, Lane
from heso.policy.model import Condition, DecisionKind, Rule
from heso.policy.operators import has_wildcard

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One lint finding. ``error`` means the policy does not load."""

    severity: str
    code: str
    message: str
    rule_id: str | None = None
    line: int | None = None
    column: int | None = None
    key: str | None = None
    hint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def render(self, path: str) -> str:
        where = path
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        text = f"{where}: {self.severity}[{self.code}] {self.message}"
        return text + (f" ({self.hint})" if self.hint else "")


def findings_from_error(error: HesoConfigError) -> list[Finding]:
    """A load failure as ``error`` findings, one per problem."""
    problems = getattr(error, "problems", None) or (error,)
    return [
        Finding("error", "invalid", p.message, None, p.line, p.column, p.key, p.hint)
        for p in problems
    ]


def lint(policy: Policy) -> list[Finding]:
    """Every finding for a loaded policy, in file order."""
    findings: list[Finding] = []
    source = policy.source

    def at(rule: Rule, *key: str | int) -> tuple[int | None, int | None]:
        where = source.locate(("rule", rule.position, *key)) if source is not None else None
        return where if where else (None, None)

    def add(
        code: str,
        severity: str,
        message: str,
        rule: Rule | None = None,
        hint: str = "",
        key: tuple[str | int, ...] = (),
    ) -> None:
        if rule is not None:
            line, column = at(rule, *key)
        else:
            where = source.locate(key) if key and source is not None else None
            line, column = where if where else (None, None)
        findings.append(
            Finding(
                severity, code, message, rule.id if rule else None, line, column, None, hint or None
            )
        )

    if not policy.rules:
        add(
            "no-rules",
            "warning",
            f"no rules: every action gets the default ({policy.default.value})",
            hint="add [[rule]] tables",
        )
    if not policy.settings.default_is_explicit:
        add(
            "implicit-default",
            "info",
            "no [policy] default: unmatched actions are blocked (the built-in default)",
            hint='make it explicit: [policy] default = "block" (or "allow", "require_approval")',
        )

    groups = _approver_groups(source)
    earlier: list[Rule] = []
    for rule in policy.ordered_rules:
        if not rule.enabled:
            add(
                "disabled-rule",
                "warning",
                f"rule {_q(rule.id)} is disabled and never matches",
                rule,
                "delete it, or set enabled = true",
                ("enabled",),
            )
            continue
        shadow = next((e for e in earlier if _covers(e, rule)), None)
        if shadow is not None:
            add(
                "shadowed-rule",
                "warning",
                f"rule {_q(rule.id)} can never decide: rule {_q(shadow.id)} "
                f"(line {policy.line_of(shadow)}) "
                "is tried first and matches every action it would match",
                rule,
                f"give it an order below {shadow.order}, or narrow rule {_q(shadow.id)}",
            )
        earlier.append(rule)
        if rule.decision is DecisionKind.BLOCK and (rule.approvers or rule.sla_minutes):
            add(
                "approvers-unused",
                "warning",
                f"rule {_q(rule.id)} blocks, so its approvers and sla_minutes are never used",
                rule,
                "remove them, or decide require_approval",
            )
        for group in ("conditions", "any"):
            conditions = rule.conditions if group == "conditions" else rule.any_conditions
            for j, condition in enumerate(conditions):
                weak = _text_match_on_destination(condition)
                if weak is not None:
                    code, message, hint = weak
                    add(code, "warning", f"rule {_q(rule.id)}: {message}", rule, hint, (group, j))
        if rule.decision is DecisionKind.ALLOW and rule.verbs:
            floored = sorted(v.value for v in rule.verbs if _floor(policy, v) is not None)
            if len(floored) == len(rule.verbs):
                add(
                    "floor-overrides-rule",
                    "info",
                    f"rule {_q(rule.id)} allows {' and '.join(floored)}, whose lane floor "
                    "still requires approval: it can never allow on its own",
                    rule,
                    "its approvers (or [policy] default_approvers) receive the request",
                )

    if groups is not None:
        _undefined_groups(policy, groups, add)

    catch_all = _catch_all_verbs(policy)
    _floor_findings(policy, catch_all, add)
    if catch_all >= set(Verb):
        severity = "warning" if policy.settings.default_is_explicit else "info"
        add(
            "unreachable-default",
            severity,
            f"the default ({policy.default.value}) is unreachable: catch-all rules match all verbs",
            hint="remove [policy] default or the catch-all rules",
        )
    return sorted(findings, key=lambda f: (f.line or 0, f.column or 0))


def report(policy: Policy | None, findings: list[Finding], path: str) -> dict[str, Any]:
    """The ``--json`` document of ``heso policy check``."""
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    data: dict[str, Any] = {
        "ok": counts["error"] == 0,
        "path": path,
        "counts": counts,
        "findings": [f.as_dict() for f in findings],
    }
    if policy is not None:
        data["rules"] = len(policy.rules)
        data["enabled_rules"] = sum(1 for r in policy.rules if r.enabled)
        data["default"] = policy.default.value
    return data


def _q(text: str) -> str:
    return json.dumps(text)


def _floor(policy: Policy, verb: Verb) -> DecisionKind | None:
    floor = policy.settings.floors.get(VERB_LANES[verb].value)
    return floor if floor is not None and floor is not DecisionKind.ALLOW else None


def _approver_groups(source: Any) -> set[str] | None:
    """The ``[approvers.<group>]`` tables of the file; ``None`` without a file to read."""
    if source is None:
        return None
    table = getattr(source, "data", {}).get("approvers")
    return set(table) if isinstance(table, dict) else set()


def _undefined_groups(policy: Policy, groups: set[str], add: Callable[..., None]) -> None:
    """One finding per approver group that a rule or ``[policy] default_approvers`` names but
    no ``[approvers.<group>]`` table defines: its actions would wait for nobody. A warning when
    other groups are defined (likely a typo); a note while none is (approvals not set up yet,
    as in a fresh project)."""
    users: dict[str, list[Rule | None]] = {}
    for rule in policy.ordered_rules:
        for name in rule.approvers if rule.enabled else ():
            users.setdefault(name, []).append(rule)
    written = policy.source.data.get("policy", {}) if policy.source is not None else {}
    if isinstance(written, dict) and "default_approvers" in written:
        for name in policy.settings.default_approvers:
            users.setdefault(name, []).append(None)
    severity, note = ("warning", "") if groups else ("info", " (no approver group is set up yet)")
    for name, named_by in users.items():
        if name in groups:
            continue
        who = ["[policy] default_approvers" if r is None else f"rule {_q(r.id)}" for r in named_by]
        first = named_by[0]
        add(
            "unknown-approver-group",
            severity,
            f"approver group {_q(name)} is named by {', '.join(who)}, but heso.toml has no "
            f"[approvers.{name}]: nobody can approve what waits for it{note}",
            first,
            f'add [approvers.{name}] with members = {{ <name> = "ed25519:..." }}, the keys '
            "`heso approver new <name>` prints; or fix the name",
            ("approvers",) if first is not None else ("policy", "default_approvers"),
        )


_URL_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _text_match_on_destination(condition: Condition) -> tuple[str, str, str] | None:
    """(code, message, hint) when a condition tests an email address or a URL scheme as plain
    text, which a list of addresses, a display name or an upper-case scheme gets past."""
    values = condition.value if isinstance(condition.value, list) else [condition.value]
    texts = [v for v in values if isinstance(v, str)]
    shown = f"{condition.field} {condition.op} {json.dumps(condition.value)}"
    if condition.op in ("ends_with", "contains", "not_contains", "glob") and any(
        "@" in t for t in texts
    ):
        return (
            "address-text-match",
            f"{shown} reads email addresses as text: a list such as "
            '"eve@evil.example, a@example.com", or a display name, gets past it',
            'use op = "email_domain_in" (every recipient at a listed domain) or '
            '"email_domain_not_in" (any recipient elsewhere), with value = ["example.com"]',
        )
    if condition.op in ("starts_with", "glob") and any(_URL_PREFIX.match(t) for t in texts):
        return (
            "url-text-match",
            f"{shown} reads a URL scheme as text: HTTP:// or a leading space gets past it",
            'use op = "url_scheme_in" or "url_scheme_not_in" with value = ["https"]',
        )
    return None


def _floor_findings(policy: Policy, catch_all: set[Verb], add: Callable[..., None]) -> None:
    """Floors that do nothing, and payments that no floor or rule keeps from the default."""
    written = policy.source.data.get("policy", {}) if policy.source is not None else {}
    floors = written.get("floors", {}) if isinstance(written, dict) else {}
    for lane, value in floors.items() if isinstance(floors, dict) else ():
        key = ("policy", "floors", lane)
        pinned = PINNED_FLOORS.get(Lane(lane))
        if value == DecisionKind.ALLOW.value:
            add(
                "ineffective-floor",
                "info",
                f'[policy.floors] {lane} = "allow" sets no floor',
                hint="remove the line",
                key=key,
            )
        elif pinned is not None and value == pinned.value:
            add(
                "ineffective-floor",
                "info",
                f"the {lane} floor is pinned at {value} already",
                hint=f'remove the line, or write {lane} = "block" to refuse every {lane}',
                key=key,
            )
    if (
        policy.default is DecisionKind.ALLOW
        and "payment" not in policy.settings.floors
        and Verb.PAYMENT not in catch_all
    ):
        add(
            "payments-allowed-by-default",
            "info",
            'a payment that no rule decides is allowed by [policy] default = "allow"',
            hint="to hold every payment for a human, add [policy.floors] payment = "
            '"require_approval", or end the payment rules with a catch-all payment rule',
            key=("policy", "default"),
        )


def _catch_all_verbs(policy: Policy) -> set[Verb]:
    verbs: set[Verb] = set()
    for rule in policy.ordered_rules:
        if rule.enabled and _always(rule) and "*" in rule.scopes:
            verbs |= set(Verb) if rule.verbs is None else set(rule.verbs)
    return verbs


def _always(rule: Rule) -> bool:
    return rule.subject.kind == "any" and not rule.conditions and not rule.any_conditions


def _condition_key(c: Condition) -> tuple[str, str, str]:
    return (c.field, c.op, json.dumps(c.value, sort_keys=True))


def _pattern_covers(outer: str, inner: str) -> bool:
    if outer == "*" or outer == inner:
        return True
    if not has_wildcard(inner):
        return fnmatchcase(inner, outer)
    head = outer[:-1]
    return outer.endswith("*") and not has_wildcard(head) and inner.startswith(head)


def _covers(first: Rule, later: Rule) -> bool:
    """Whether ``first`` matches every action ``later`` would match."""
    if first.any_conditions:
        return False
    if first.conditions:
        if first.decision is DecisionKind.ALLOW and later.decision is not DecisionKind.ALLOW:
            return False  # on indeterminate input the later (stricter) rule can still apply
        mine = {_condition_key(c) for c in later.conditions}
        if not all(_condition_key(c) in mine for c in first.conditions):
            return False
    if first.verbs is not None and (later.verbs is None or not later.verbs <= first.verbs):
        return False
    if first.subject.kind != "any":
        if later.subject.kind != first.subject.kind:
            return False
        if not all(
            any(_pattern_covers(o, i) for o in first.subject.names) for i in later.subject.names
        ):
            return False
    return all(any(_pattern_covers(o, i) for o in first.scopes) for i in later.scopes)


__all__ = ["SEVERITIES", "Finding", "findings_from_error", "lint", "report"]
