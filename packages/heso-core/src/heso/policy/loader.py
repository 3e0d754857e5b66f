"""``heso.toml`` → :class:`~heso.policy.engine.Policy`, with every problem a located
:class:`~heso.errors.HesoConfigError`. A policy that fails to load never yields a policy."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from heso import fieldpath
from heso.action import Verb
from heso.errors import HesoConfigError, PolicyConfigError
from heso.policy.engine import Policy
from heso.policy.lanes import PINNED_FLOORS, Lane
from heso.policy.model import SUBJECT_KINDS, Condition, DecisionKind, PolicySettings, Rule, Subject
from heso.policy.operators import OPERATOR_ALIASES, OPERATORS, OperatorValueError, compile_globs
from heso.toml_source import TomlSource, did_you_mean, type_name

TOP_LEVEL_KEYS = ("rule", "policy", "heso", "approvers")
"""``[heso]`` and ``[approvers.*]`` belong to other modules and are not read here."""
POLICY_KEYS = ("default", "default_approvers", "default_sla_minutes", "floors")
RULE_KEYS = (
    "id", "display", "order", "enabled", "subject", "verb", "scope",
    "conditions", "any", "decision", "approvers", "sla_minutes",
)  # fmt: skip
CONDITION_KEYS = ("field", "op", "value", "display")
SUBJECT_KEYS = ("kind", "name")
RULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")

_DECISION_ALIASES = {
    "deny": "block", "reject": "block", "forbid": "block", "refuse": "block",
    "permit": "allow", "accept": "allow", "approve": "require_approval",
    "approval": "require_approval", "ask": "require_approval", "review": "require_approval",
    "require-approval": "require_approval", "requires_approval": "require_approval",
}  # fmt: skip


class _Invalid(Exception):
    def __init__(self, error: HesoConfigError) -> None:
        self.error = error


class _Recorded(_Invalid):
    """A step failed and its problems are already recorded."""

    def __init__(self) -> None:
        Exception.__init__(self)


def load_policy(path: str | Path) -> Policy:
    """Read and validate a ``heso.toml``; any problem is a :class:`PolicyConfigError`."""
    return _Loader(TomlSource.read(path)).load()


def parse_policy(text: str, path: str | Path = "heso.toml") -> Policy:
    """Validate policy text; ``path`` only names the file in errors."""
    return _Loader(TomlSource(text, path)).load()


def policy_from_source(source: TomlSource) -> Policy:
    """Validate an already-read :class:`~heso.toml_source.TomlSource`."""
    return _Loader(source).load()


def _quote(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _suggest(word: Any, choices: Sequence[str], aliases: dict[str, str] | None = None) -> str:
    """``did you mean "x"?`` followed by the valid choices."""
    text = str(word)
    guess = (aliases or {}).get(text.lower().strip()) or did_you_mean(text, choices)
    listed = ", ".join(choices)
    return f'did you mean "{guess}"? valid: {listed}' if guess else f"valid: {listed}"


class _Loader:
    def __init__(self, source: TomlSource) -> None:
        self.src = source
        self.problems: list[HesoConfigError] = []
        self.ids: dict[str, int] = {}

    def fail(
        self,
        message: str,
        key: Sequence[str | int],
        hint: str | None = None,
        *,
        value: bool = False,
    ) -> NoReturn:
        raise _Invalid(self.src.error(message, key, hint=hint, value=value))

    def attempt(self, check: Callable[..., Any], *args: Any, default: Any = None, **kw: Any) -> Any:
        """Run one validation step, recording its problem instead of stopping."""
        try:
            return check(*args, **kw)
        except _Recorded:
            return default
        except _Invalid as exc:
            self.problems.append(exc.error)
            return default

    def load(self) -> Policy:
        data = self.src.data
        for key in data:
            if key not in TOP_LEVEL_KEYS:
                guess = did_you_mean(key, TOP_LEVEL_KEYS)
                self.attempt(
                    self.fail,
                    f"unknown top-level key {_quote(key)}",
                    (key,),
                    (f'did you mean "{guess}"? ' if guess else "")
                    + "a policy file holds [[rule]], [policy], [heso] and [approvers.<group>]",
                )
        settings = self.attempt(self.settings, data.get("policy"), default=PolicySettings())
        rules: list[Rule] = []
        raw_rules = data.get("rule", [])
        if not isinstance(raw_rules, list):
            self.attempt(
                lambda: self.fail(
                    f"`rule` must be an array of tables, not {type_name(raw_rules)}",
                    ("rule",),
                    "write each rule under its own [[rule]] header, with two brackets",
                )
            )
            raw_rules = []
        for i, raw in enumerate(raw_rules):
            before = len(self.problems)
            rule = self.rule(raw, i)
            if rule is not None and len(self.problems) == before:
                rules.append(rule)
        if self.problems:
            raise PolicyConfigError(self.problems)
        return Policy(rules, settings, path=self.src.path, source=self.src)

    # -- [policy] ---------------------------------------------------------------------------

    def settings(self, raw: Any) -> PolicySettings:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.fail(
                f"`policy` must be a table, not {type_name(raw)}",
                ("policy",),
                'write a [policy] header followed by keys such as default = "block"',
            )
        self.unknown_keys(raw, POLICY_KEYS, ("policy",), "[policy]")
        explicit = "default" in raw
        default = self.attempt(
            lambda: (
                self.decision(raw["default"], ("policy", "default"), "[policy]")
                if explicit
                else None
            )
        )
        approvers = self.attempt(
            lambda: (
                self.approver_list(
                    raw["default_approvers"], ("policy", "default_approvers"), "[policy]"
                )
                if "default_approvers" in raw
                else None
            )
        )
        sla = self.attempt(
            lambda: self.minutes(
                raw.get("default_sla_minutes"), ("policy", "default_sla_minutes"), "[policy]"
            )
        )
        floors = self.attempt(self.floors, raw.get("floors", {}), default={})
        base = PolicySettings()
        return PolicySettings(
            default=default or base.default,
            default_approvers=approvers or base.default_approvers,
            default_sla_minutes=sla,
            floors=floors,
            default_is_explicit=explicit,
        )

    def floors(self, raw: Any) -> dict[str, DecisionKind]:
        key: tuple[str | int, ...] = ("policy", "floors")
        lanes = [lane.value for lane in Lane]
        if not isinstance(raw, dict):
            self.fail(
                f"`policy.floors` must be a table, not {type_name(raw)}",
                key,
                'write [policy.floors] then lane = decision, e.g. export = "require_approval"',
            )
        floors = {lane.value: kind for lane, kind in PINNED_FLOORS.items()}
        for name, value in raw.items():
            where = (*key, name)
            if name not in lanes:
                self.attempt(
                    self.fail,
                    f"unknown lane {_quote(name)} in [policy.floors]",
                    where,
                    _suggest(name, lanes),
                )
                continue
            kind = self.attempt(self.decision, value, where, "[policy.floors]")
            if kind is None:
                continue
            pinned = PINNED_FLOORS.get(Lane(name))
            if pinned is not None and kind.strictness < pinned.strictness:
                self.attempt(
                    self.fail,
                    f"the {name} floor is pinned at {pinned.value}; {kind.value} would loosen it",
                    where,
                    f'a policy can tighten a floor, never loosen it: use "{pinned.value}" or '
                    '"block", or remove the line',
                    value=True,
                )
                continue
            floors[name] = kind
        return floors

    # -- [[rule]] ---------------------------------------------------------------------------

    def rule(self, raw: Any, i: int) -> Rule | None:
        key: tuple[str | int, ...] = ("rule", i)
        if not isinstance(raw, dict):
            self.attempt(
                lambda: self.fail(
                    f"rule #{i + 1} must be a table, not {type_name(raw)}",
                    key,
                    "write each rule under its own [[rule]] header",
                )
            )
            return None
        rule_id = self.attempt(lambda: self.rule_id(raw, key, i))
        label = f"rule {_quote(rule_id)}" if rule_id else f"rule #{i + 1}"
        self.attempt(lambda: self.unknown_keys(raw, RULE_KEYS, key, label))
        decision = self.attempt(lambda: self.rule_decision(raw, key, label))
        verbs = self.attempt(self.verbs, raw, key, label, default=...)
        scopes = self.attempt(lambda: self.patterns(raw.get("scope", "*"), (*key, "scope"), label))
        subject = self.attempt(lambda: self.subject(raw.get("subject"), (*key, "subject"), label))
        conditions = self.attempt(
            lambda: self.conditions(raw.get("conditions", []), (*key, "conditions"), label)
        )
        any_conditions = self.attempt(
            lambda: (
                self.conditions(raw.get("any"), (*key, "any"), label, group="any")
                if "any" in raw
                else ()
            )
        )
        order = self.attempt(lambda: self.integer(raw.get("order", 0), (*key, "order"), label))
        enabled = self.attempt(
            lambda: self.boolean(raw.get("enabled", True), (*key, "enabled"), label)
        )
        approvers = self.attempt(
            lambda: (
                self.approver_list(raw["approvers"], (*key, "approvers"), label)
                if "approvers" in raw
                else ()
            )
        )
        sla = self.attempt(
            lambda: self.minutes(raw.get("sla_minutes"), (*key, "sla_minutes"), label)
        )
        display = self.attempt(lambda: self.text(raw.get("display"), (*key, "display"), label))
        if decision is DecisionKind.REQUIRE_APPROVAL and approvers == ():
            self.attempt(
                lambda: self.fail(
                    f"{label} decides require_approval but names no approvers",
                    key if "approvers" not in raw else (*key, "approvers"),
                    'add approvers = ["oncall"], the approver groups to ask',
                )
            )
        if None in (rule_id, decision, scopes, subject, conditions, any_conditions, order, enabled):
            return None
        if verbs is ... or approvers is None:
            return None
        return Rule(
            id=rule_id,
            decision=decision,
            verbs=verbs,
            scopes=scopes,
            subject=subject,
            conditions=conditions,
            any_conditions=any_conditions,
            order=order,
            enabled=enabled,
            approvers=approvers,
            sla_minutes=sla,
            display=display
            or _rule_display(decision, verbs, scopes, subject, conditions, any_conditions),
            position=i,
            matches_scope=compile_globs(scopes),
        )

    def rule_id(self, raw: dict[str, Any], key: tuple[str | int, ...], i: int) -> str:
        self.missing(raw, "id", RULE_KEYS, f"rule #{i + 1} has no id", key,
                     'add a unique id = "block-large-payments"')  # fmt: skip
        value = raw["id"]
        if not isinstance(value, str):
            self.fail(
                f"rule #{i + 1}: `id` must be a string, not {type_name(value)}",
                (*key, "id"),
                f'write id = "{value}"',
                value=True,
            )
        if not RULE_ID.fullmatch(value):
            self.fail(
                f"rule #{i + 1}: invalid id {_quote(value)}",
                (*key, "id"),
                "ids starting with heso: are reserved for built-in decisions"
                if value.startswith("heso:")
                else "use letters, digits, '-', '_' or '.', starting with a letter or digit, "
                "at most 128 characters",
                value=True,
            )
        if value in self.ids:
            first = self.ids[value]
            where = self.src.locate(("rule", first, "id"))
            at = f" at line {where[0]}" if where else ""
            self.fail(
                f"duplicate rule id {_quote(value)}",
                (*key, "id"),
                f"rule ids must be unique; the first {_quote(value)} is rule #{first + 1}{at}",
                value=True,
            )
        self.ids[value] = i
        return value

    def rule_decision(
        self, raw: dict[str, Any], key: tuple[str | int, ...], label: str
    ) -> DecisionKind:
        self.missing(raw, "decision", RULE_KEYS, f"{label} has no decision", key,
                     'add decision = "allow", "block" or "require_approval"')  # fmt: skip
        return self.decision(raw["decision"], (*key, "decision"), label)

    def decision(self, value: Any, key: Sequence[str | int], label: str = "") -> DecisionKind:
        prefix = f"{label}: " if label else ""
        choices = [k.value for k in DecisionKind]
        if not isinstance(value, str):
            self.fail(
                f"{prefix}`{key[-1]}` must be a string, not {type_name(value)}",
                key,
                f"valid: {', '.join(choices)}",
                value=True,
            )
        if value not in choices:
            self.fail(
                f"{prefix}unknown decision {_quote(value)}",
                key,
                _suggest(value, choices, _DECISION_ALIASES),
                value=True,
            )
        return DecisionKind(value)

    def verbs(
        self, raw: dict[str, Any], key: tuple[str | int, ...], label: str
    ) -> frozenset[Verb] | None:
        where = (*key, "verb")
        choices = [v.value for v in Verb]
        self.missing(
            raw,
            "verb",
            RULE_KEYS,
            f"{label} has no verb",
            key,
            f'add verb = "tool_call", a list, or "*" for every verb; verbs: {", ".join(choices)}',
        )
        value = raw["verb"]
        items = value if isinstance(value, list) else [value]
        if not items:
            self.fail(f"{label}: `verb` is an empty array", where, 'use verb = "*" for every verb')
        verbs: set[Verb] = set()
        for j, item in enumerate(items):
            at = (*where, j) if isinstance(value, list) else where
            if not isinstance(item, str):
                self.fail(
                    f"{label}: `verb` must be a string or an array of strings, "
                    f"not {type_name(item)}",
                    at,
                    f"verbs: {', '.join(choices)}",
                    value=True,
                )
            if item == "*":
                if len(items) > 1:
                    self.fail(
                        f'{label}: "*" already means every verb', at, 'write verb = "*" alone'
                    )
                return None
            if item not in choices:
                self.fail(
                    f"{label}: unknown verb {_quote(item)}", at, _suggest(item, choices), value=True
                )
            verbs.add(Verb(item))
        return frozenset(verbs)

    def patterns(self, value: Any, key: tuple[str | int, ...], label: str) -> tuple[str, ...]:
        """Glob patterns (a string or an array of strings), for ``scope`` and subject names."""
        name = key[-1]
        items = value if isinstance(value, list) else [value]
        if not items:
            self.fail(f"{label}: `{name}` is an empty array", key, 'use "*" to match every name')
        for j, item in enumerate(items):
            at = (*key, j) if isinstance(value, list) else key
            if not isinstance(item, str):
                self.fail(
                    f"{label}: `{name}` must be a glob string or an array of them, "
                    f"not {type_name(item)}",
                    at,
                    f'write {name} = "{item}"',
                    value=True,
                )
            if not item:
                self.fail(
                    f"{label}: `{name}` has an empty pattern",
                    at,
                    'use "*" to match every name',
                    value=True,
                )
        return tuple(dict.fromkeys(items))

    def subject(self, raw: Any, key: tuple[str | int, ...], label: str) -> Subject:
        if raw is None:
            return Subject()
        if not isinstance(raw, dict):
            self.fail(
                f"{label}: `subject` must be a table, not {type_name(raw)}",
                key,
                'write subject = { kind = "agent", name = "billing-bot" }',
                value=True,
            )
        self.unknown_keys(raw, SUBJECT_KEYS, key, f"{label} subject")
        kind = raw.get("kind")
        if kind is None:
            self.fail(
                f"{label}: `subject` has no kind",
                key,
                f'add kind = "any", or one of {", ".join(SUBJECT_KINDS[1:])} with a name',
            )
        if not isinstance(kind, str) or kind not in SUBJECT_KINDS:
            shown = _quote(kind) if isinstance(kind, str) else type_name(kind)
            self.fail(
                f"{label}: unknown subject kind {shown}",
                (*key, "kind"),
                _suggest(kind, SUBJECT_KINDS),
                value=True,
            )
        if kind == "any":
            if "name" in raw:
                self.fail(
                    f'{label}: a subject of kind "any" takes no name',
                    (*key, "name"),
                    'remove name, or use kind = "agent", "workflow" or "account"',
                )
            return Subject()
        if "name" not in raw:
            self.fail(
                f'{label}: a subject of kind "{kind}" needs a name',
                key,
                f'write subject = {{ kind = "{kind}", name = "..." }}; globs are allowed',
            )
        names = self.patterns(raw["name"], (*key, "name"), label)
        return Subject(kind, names, compile_globs(names))

    def conditions(
        self, raw: Any, key: tuple[str | int, ...], label: str, group: str = "conditions"
    ) -> tuple[Condition, ...]:
        if not isinstance(raw, list):
            self.fail(
                f"{label}: `{group}` must be an array of tables, not {type_name(raw)}",
                key,
                f'write {group} = [ {{ field = "amount", op = "gt", value = 100 }} ]',
                value=True,
            )
        if group == "any" and not raw:
            self.fail(f"{label}: `any` is empty, so the rule could never match", key, "remove it")
        out: list[Condition] = []
        failed = False
        for j, item in enumerate(raw):
            condition = self.attempt(self.condition, item, (*key, j), label, group)
            failed = failed or condition is None
            out.append(condition)
        if failed:
            return self.fail_quietly()
        return tuple(out)

    def fail_quietly(self) -> NoReturn:
        """Abort a step whose problems are already recorded."""
        raise _Recorded

    def condition(self, raw: Any, key: tuple[str | int, ...], label: str, group: str) -> Condition:
        where = f"{label} {group}[{key[-1]}]"
        if not isinstance(raw, dict):
            self.fail(
                f"{where} must be a table, not {type_name(raw)}",
                key,
                '{ field = "amount", op = "gt", value = 100 }',
                value=True,
            )
        self.unknown_keys(raw, CONDITION_KEYS, key, where)
        if "field" not in raw:
            self.fail(
                f"{where} has no field",
                key,
                'add field = "amount", a path into the action\'s fields',
            )
        field = raw["field"]
        if not isinstance(field, str):
            self.fail(
                f"{where}: `field` must be a string, not {type_name(field)}",
                (*key, "field"),
                'write field = "amount"',
                value=True,
            )
        try:
            segments = fieldpath.parse(field)
        except ValueError as exc:
            self.fail(
                f"{where}: invalid field path {_quote(field)}: {exc}",
                (*key, "field"),
                'paths look like amount, customer.email, items.0.sku or headers["x.y"]',
                value=True,
            )
        if "op" not in raw:
            self.fail(f"{where} has no op", key, f"add op = ...; operators: {', '.join(OPERATORS)}")
        op = raw["op"]
        if not isinstance(op, str) or op not in OPERATORS:
            shown = _quote(op) if isinstance(op, str) else type_name(op)
            self.fail(
                f"{where}: unknown operator {shown}",
                (*key, "op"),
                _suggest(op, list(OPERATORS), dict(OPERATOR_ALIASES)),
                value=True,
            )
        spec = OPERATORS[op]
        if spec.needs_value and "value" not in raw:
            self.fail(
                f"{where}: `{op}` needs a value", key, f"add value = ...; {op}: {spec.summary}"
            )
        if not spec.needs_value and "value" in raw:
            self.fail(
                f"{where}: `{op}` takes no value",
                (*key, "value"),
                f"remove value; {op} only tests whether the field is "
                + ("present" if op == "exists" else "absent"),
            )
        value = raw.get("value")
        try:
            test = spec.build(value)
        except OperatorValueError as exc:
            self.fail(f"{where}: {exc}", (*key, "value"), exc.hint, value=True)
        display = self.text(raw.get("display"), (*key, "display"), where)
        if display is None:
            display = f"{field} {op}" + (f" {_quote(value)}" if spec.needs_value else "")
        record = {"field": field, "op": op, "value": value, "display": display}
        return Condition(field, op, value, display, segments, test, spec.on_missing, record)

    # -- shared checks ----------------------------------------------------------------------

    def missing(
        self,
        raw: dict[str, Any],
        name: str,
        known: Sequence[str],
        message: str,
        key: Sequence[str | int],
        hint: str,
    ) -> None:
        """Fail when ``name`` is absent, quietly when a misspelling of it is already reported."""
        if name in raw:
            return
        if any(k not in known and did_you_mean(k, known) == name for k in raw):
            self.fail_quietly()
        self.fail(message, key, hint)

    def unknown_keys(
        self, raw: dict[str, Any], known: Sequence[str], key: tuple[str | int, ...], where: str
    ) -> None:
        for name in raw:
            if name not in known:
                guess = did_you_mean(name, known)
                self.fail(
                    f"{where}: unknown key {_quote(name)}",
                    (*key, name),
                    (f'did you mean "{guess}"? ' if guess else "") + f"keys: {', '.join(known)}",
                )

    def integer(self, value: Any, key: tuple[str | int, ...], label: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            hint = (
                f"write {key[-1]} = {value}"
                if isinstance(value, str) and value.strip().lstrip("-").isdigit()
                else (f"write {key[-1]} = 10")
            )
            self.fail(
                f"{label}: `{key[-1]}` must be an integer, not {type_name(value)}",
                key,
                hint,
                value=True,
            )
        return value

    def boolean(self, value: Any, key: tuple[str | int, ...], label: str) -> bool:
        if not isinstance(value, bool):
            self.fail(
                f"{label}: `{key[-1]}` must be true or false, not {type_name(value)}",
                key,
                f"write {key[-1]} = true: lower case, no quotes",
                value=True,
            )
        return value

    def text(self, value: Any, key: tuple[str | int, ...], label: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(
                f"{label}: `{key[-1]}` must be a non-empty string",
                key,
                f'write {key[-1]} = "what this means, for humans"',
                value=True,
            )
        return value

    def minutes(self, value: Any, key: tuple[str | int, ...], label: str = "") -> int | None:
        if value is None:
            return None
        prefix = f"{label}: " if label else ""
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(
                f"{prefix}`{key[-1]}` must be a whole number of minutes, not {type_name(value)}",
                key,
                f"write {key[-1]} = 30",
                value=True,
            )
        if value < 0:
            self.fail(
                f"{prefix}`{key[-1]}` is negative ({value})",
                key,
                "an SLA is a positive number of minutes",
                value=True,
            )
        if value == 0:
            self.fail(
                f"{prefix}`{key[-1]}` is 0",
                key,
                "use at least 1 minute, or remove the key",
                value=True,
            )
        return value

    def approver_list(
        self, value: Any, key: tuple[str | int, ...], label: str = ""
    ) -> tuple[str, ...]:
        prefix = f"{label}: " if label else ""
        if isinstance(value, str):
            self.fail(
                f"{prefix}`{key[-1]}` must be an array of approver groups, not a string",
                key,
                f'write {key[-1]} = ["{value}"]',
                value=True,
            )
        if not isinstance(value, list):
            self.fail(
                f"{prefix}`{key[-1]}` must be an array of approver groups, not {type_name(value)}",
                key,
                f'write {key[-1]} = ["oncall"]',
                value=True,
            )
        if not value:
            self.fail(
                f"{prefix}`{key[-1]}` is empty",
                key,
                f'name at least one group: {key[-1]} = ["oncall"]',
                value=True,
            )
        for j, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.fail(
                    f"{prefix}`{key[-1]}` entries must be non-empty strings",
                    (*key, j),
                    f'write {key[-1]} = ["oncall"]',
                    value=True,
                )
        return tuple(dict.fromkeys(value))


def _rule_display(
    decision: DecisionKind,
    verbs: frozenset[Verb] | None,
    scopes: tuple[str, ...],
    subject: Subject,
    conditions: tuple[Condition, ...],
    any_conditions: tuple[Condition, ...],
) -> str:
    verb_text = "any verb" if verbs is None else " or ".join(sorted(v.value for v in verbs))
    text = f"{decision.value} {verb_text} on {' or '.join(scopes)}"
    if subject.kind != "any":
        text += f" by {subject.describe()}"
    parts = [c.display for c in conditions]
    if any_conditions:
        alternatives = " or ".join(c.display for c in any_conditions)
        parts.append(f"({alternatives})" if len(any_conditions) > 1 else alternatives)
    if parts:
        text += " when " + " and ".join(parts)
    return text


__all__ = ["PolicyConfigError", "load_policy", "parse_policy", "policy_from_source"]
