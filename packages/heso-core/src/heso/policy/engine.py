"""Evaluation: the first matching rule by ``order`` decides, then the lane floor applies.

Rules are indexed by verb and scope, so an action only meets the rules that could match it:
an exact-scope rule is found by dict lookup, a ``prefix*`` glob by its literal prefix, and only
globs that start with a wildcard are tested one by one. The candidates for a (verb, tool name)
pair and the :class:`Decision` objects are computed once and reused. When many candidates
remain (overlapping wildcard scopes), a :class:`heso.policy.plan.Plan` rules most of them out
by field value at once, and only the rest are tried in order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from heso.action import Action, Verb
from heso.policy.catalog import CATALOG, catalog_id
from heso.policy.lanes import LANE_RANK, PINNED_FLOORS, Lane, structural_lane
from heso.policy.model import (
    DEFAULT_RULE_ID,
    UNKNOWN_CATALOG_RULE_ID,
    Condition,
    Decision,
    DecisionKind,
    PolicySettings,
    Rule,
    floor_rule_id,
)
from heso.policy.operators import compile_glob, has_wildcard
from heso.policy.plan import Plan

_MAX_TARGETS = 16384
_MAX_VARIANTS = 4096
_PLAN_MIN = 24
"""Candidates tried one by one in one evaluation from which a (verb, tool name) pair gets a
plan for the next."""
_PLAN_BUDGET = 200_000
"""Candidates over all cached plans; past it, the caches start again (memory stays bounded)."""
_APPROVAL = DecisionKind.REQUIRE_APPROVAL
_ALLOW = DecisionKind.ALLOW


class _Bucket:
    """The rules of one verb key (a verb, or ``None`` for rules on every verb), by scope.

    Exact names are a dict lookup; ``prefix…`` and ``…suffix`` globs are found through their
    literal prefix or suffix; only globs with neither are tested one by one.
    """

    def __init__(self) -> None:
        self.exact: dict[str, list[int]] = {}
        self.prefixed: dict[int, dict[str, list[tuple[int, Any]]]] = {}
        self.suffixed: dict[int, dict[str, list[tuple[int, Any]]]] = {}
        self.everything: list[int] = []
        self.other: list[tuple[int, Any]] = []

    def add(self, rank: int, pattern: str) -> None:
        if pattern == "*":
            self.everything.append(rank)
        elif not has_wildcard(pattern):
            self.exact.setdefault(pattern, []).append(rank)
        else:
            prefix = _literal_run(pattern)
            suffix = _literal_run(pattern[::-1])[::-1]
            entry = (rank, compile_glob(pattern))
            if prefix:
                self.prefixed.setdefault(len(prefix), {}).setdefault(prefix, []).append(entry)
            elif suffix:
                self.suffixed.setdefault(len(suffix), {}).setdefault(suffix, []).append(entry)
            else:
                self.other.append(entry)

    def collect(self, name: str, into: set[int]) -> None:
        into.update(self.exact.get(name, ()))
        into.update(self.everything)
        size = len(name)
        for length, by_prefix in self.prefixed.items():
            if size >= length:
                for rank, match in by_prefix.get(name[:length], ()):
                    if match(name):
                        into.add(rank)
        for length, by_suffix in self.suffixed.items():
            if size >= length:
                for rank, match in by_suffix.get(name[size - length :], ()):
                    if match(name):
                        into.add(rank)
        for rank, match in self.other:
            if match(name):
                into.add(rank)


def _literal_run(pattern: str) -> str:
    """The characters before the first wildcard."""
    for i, c in enumerate(pattern):
        if c in "*?[":
            return pattern[:i]
    return pattern


class _Index:
    """Enabled rules in evaluation order, indexed by verb and scope."""

    def __init__(self, ordered: Sequence[Rule]) -> None:
        self.ordered = tuple(ordered)
        self.buckets: dict[Verb | None, _Bucket] = {}
        for rank, rule in enumerate(self.ordered):
            verbs: Iterable[Verb | None] = rule.verbs if rule.verbs is not None else (None,)
            for verb in verbs:
                bucket = self.buckets.setdefault(verb, _Bucket())
                for pattern in rule.scopes:
                    bucket.add(rank, pattern)

    def candidates(self, verb: Verb, name: str) -> tuple[int, ...]:
        """The ranks of the rules whose verb and scope cover (verb, name), in order."""
        ranks: set[int] = set()
        for key in (verb, None):
            bucket = self.buckets.get(key)
            if bucket is not None:
                bucket.collect(name, ranks)
        return tuple(sorted(ranks))


class _Many:
    """Many candidates for a (verb, tool name) pair: once trying them one by one went deep,
    their plan."""

    __slots__ = ("deep", "plan", "ranks", "rules")

    def __init__(self, ranks: tuple[int, ...], rules: tuple[Rule, ...]) -> None:
        self.ranks = ranks
        self.rules = rules
        self.deep = False
        self.plan: Plan | None = None


class _Lane:
    """A lane as classified for some actions, with its floor and the decisions reached in it."""

    __slots__ = ("decisions", "default", "floor", "lane", "prefix", "source")

    def __init__(self, lane: Lane, source: str, floor: DecisionKind | None) -> None:
        self.lane = lane
        self.source = source
        self.floor = floor
        self.prefix = f"lane:{lane.value}({source})"
        self.decisions: dict[Any, Decision] = {}
        self.default: Decision | None = None


_Target = tuple[_Lane, tuple[Rule, ...], bool, _Many | None]
"""What a (verb, tool name) pair resolves to: its lane, its candidates, whether it is an HTTP
request, and for many candidates their :class:`_Many`."""


class Policy:
    """A loaded policy. :meth:`evaluate` decides an action; it never raises for a valid one."""

    def __init__(
        self,
        rules: Sequence[Rule],
        settings: PolicySettings | None = None,
        *,
        path: str = "heso.toml",
        source: Any = None,
    ) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        """Every rule, in file order (disabled ones included)."""
        self.settings = settings or PolicySettings()
        self.path = path
        self.source = source
        """The :class:`heso.toml_source.TomlSource` it was loaded from, if any."""
        self.ordered_rules: tuple[Rule, ...] = tuple(sorted(self.rules, key=lambda r: r.sort_key))
        """Every rule in evaluation order (disabled ones included)."""
        self._index = _Index([r for r in self.ordered_rules if r.enabled])
        self._targets: dict[Any, _Target] = {}
        self._plans: dict[tuple[int, ...], Plan] = {}
        self._planned = 0
        self._lanes: dict[tuple[Lane, str], _Lane] = {}
        self._unknown: dict[tuple[str, str], Decision] = {}

    def __repr__(self) -> str:
        return f"Policy(path={self.path!r}, rules={len(self.rules)})"

    @property
    def default(self) -> DecisionKind:
        """The decision when no rule matches (before floors)."""
        return self.settings.default

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id; ``KeyError`` if there is none."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def line_of(self, rule: Rule) -> int | None:
        """The line where ``rule`` starts in the policy file (``None`` without a source)."""
        where = self.source.locate(("rule", rule.position)) if self.source is not None else None
        return where[0] if where else None

    def candidates(self, verb: Verb | str, tool_name: str) -> tuple[Rule, ...]:
        """The enabled rules whose verb and scope cover (verb, tool name), in evaluation order."""
        return self._target(verb, tool_name)[1]

    def classify(self, action: Action) -> tuple[str, str]:
        """(lane, source) of an action: source is ``verb``, ``name``, ``method`` or
        ``catalog:<id>``, the strongest reason for the lane (an unknown catalog id is ignored)."""
        lane, _, is_http, _ = self._target(action.verb, action.tool_name)
        refined = self._refine(lane, action, is_http)
        if isinstance(refined, str):
            refined = self._refine(lane, _without_catalog(action), is_http)
            assert not isinstance(refined, str)
        return refined.lane.value, refined.source

    def evaluate(self, action: Action) -> Decision:
        """The decision for ``action``: first matching rule, else the default; then the floor."""
        target = self._targets.get((action.verb, action.tool_name))
        if target is None:
            target = self._target(action.verb, action.tool_name)
        lane, candidates, is_http, many = target
        tried: Iterable[Rule] = candidates
        if is_http or action.domain is not None or action.action_id is not None:
            refined = self._refine(lane, action, is_http)
            if isinstance(refined, str):
                return self._unknown_catalog(lane, action, is_http, refined)
            lane = refined
        fields = action.fields
        if many is not None:
            plan = many.plan
            tried = self._many(many, action) if plan is None else plan.survivors(action, fields)
        for rule in tried:
            if rule.subject.matches_name is not None and not rule.subject.matches(action):
                continue
            holds = rule.holds
            if holds is not None:
                result = holds(fields)
                if result is False:
                    continue
                if result is None:
                    if rule.decision is _ALLOW:
                        continue
                    return self._variant(lane, rule, fields)
                if rule.any_conditions:
                    return self._variant(lane, rule, fields)
            decision = lane.decisions.get(rule.position)
            if decision is None:
                decision = lane.decisions[rule.position] = self._build(
                    lane, rule, [c.as_record() for c in rule.conditions], ()
                )
            return decision
        if lane.default is None:
            lane.default = self._build(lane, None, [], ())
        return lane.default

    # -- internals ------------------------------------------------------------------------

    def _many(self, many: _Many, action: Action) -> Iterable[Rule]:
        """Many candidates, in order: those the plan leaves once trying them one by one went
        deep (past :data:`_PLAN_MIN`), else all of them."""
        plan = many.plan
        if plan is None and many.deep:
            plan = many.plan = self._plan(many.ranks)
        if plan is not None:
            return plan.survivors(action, action.fields)
        return self._one_by_one(many)

    @staticmethod
    def _one_by_one(many: _Many) -> Iterator[Rule]:
        for tried, rule in enumerate(many.rules, 1):
            if tried == _PLAN_MIN:
                many.deep = True
            yield rule

    def _target(self, verb: Verb | str, tool_name: str) -> _Target:
        target = self._targets.get((verb, tool_name))
        if target is None:
            v = Verb(verb)
            lane, source = structural_lane(v, tool_name)
            ranks = self._index.candidates(v, tool_name)
            candidates = tuple(self._index.ordered[r] for r in ranks)
            many = _Many(ranks, candidates) if len(ranks) >= _PLAN_MIN else None
            target = (self._lane(lane, source), candidates, v is Verb.HTTP_REQUEST, many)
            if len(self._targets) >= _MAX_TARGETS:
                self._targets.clear()
            self._targets[(verb, tool_name)] = target
        return target

    def _plan(self, ranks: tuple[int, ...]) -> Plan:
        """The plan for these candidates, shared by every target that has them."""
        plan = self._plans.get(ranks)
        if plan is None:
            if self._planned + len(ranks) > _PLAN_BUDGET:
                self._plans.clear()
                self._targets.clear()  # they hold plans too
                self._planned = 0
            plan = self._plans[ranks] = Plan([self._index.ordered[r] for r in ranks])
            self._planned += len(ranks)
        return plan

    def _lane(self, lane: Lane, source: str) -> _Lane:
        found = self._lanes.get((lane, source))
        if found is None:
            floor = self.settings.floors.get(lane.value)
            pinned = PINNED_FLOORS.get(lane)
            if pinned is not None and (floor is None or floor.strictness < pinned.strictness):
                floor = pinned
            found = self._lanes[(lane, source)] = _Lane(lane, source, floor)
        return found

    def _refine(self, lane: _Lane, action: Action, is_http: bool) -> _Lane | str:
        """Raise the lane for an HTTP ``DELETE`` or a declared catalog action; an unknown
        catalog id is returned as a string."""
        if is_http:
            method = action.fields.get("method")
            if (
                isinstance(method, str)
                and method.strip().upper() == "DELETE"
                and LANE_RANK[lane.lane] < LANE_RANK[Lane.DELETE]
            ):
                lane = self._lane(Lane.DELETE, "method")
        full_id = catalog_id(action.domain, action.action_id)
        if full_id is not None:
            entry = CATALOG.get(full_id)
            if entry is None:
                return full_id
            if LANE_RANK[entry.lane] > LANE_RANK[lane.lane]:
                lane = self._lane(entry.lane, f"catalog:{full_id}")
        return lane

    def _unknown_catalog(
        self, lane: _Lane, action: Action, is_http: bool, full_id: str
    ) -> Decision:
        structural = self._refine(lane, _without_catalog(action), is_http)
        assert not isinstance(structural, str)
        key = (structural.prefix, full_id)
        found = self._unknown.get(key)
        if found is None:
            found = Decision(
                kind=DecisionKind.BLOCK,
                rule_id=UNKNOWN_CATALOG_RULE_ID,
                rule_display=f"unknown catalog action {full_id!r}: blocked",
                matched_conditions=[],
                decision_path=f"{structural.prefix} > catalog:{full_id}=block",
                lane=structural.lane.value,
                rule_decision=DecisionKind.BLOCK,
            )
            if len(self._unknown) < _MAX_VARIANTS:
                self._unknown[key] = found
        return found

    def _variant(self, lane: _Lane, rule: Rule, fields: Any) -> Decision:
        """The decision of a rule matched through ``any`` or on indeterminate input."""
        matched: list[Condition] = []
        unknown: list[str] = []
        for condition in rule.conditions:
            if condition.evaluate(fields) is None:
                unknown.append(condition.field)
            matched.append(condition)
        for condition in rule.any_conditions:
            r = condition.evaluate(fields)
            if r is None:
                unknown.append(condition.field)
            if r is not False:
                matched.append(condition)
        key = (rule.position, tuple(id(c) for c in matched), tuple(unknown))
        decision = lane.decisions.get(key)
        if decision is None:
            decision = self._build(lane, rule, [c.as_record() for c in matched], tuple(unknown))
            if len(lane.decisions) < _MAX_VARIANTS:
                lane.decisions[key] = decision
        return decision

    def _build(
        self,
        lane: _Lane,
        rule: Rule | None,
        matched: list[dict[str, Any]],
        unknown: tuple[str, ...],
    ) -> Decision:
        settings = self.settings
        kind = rule.decision if rule is not None else settings.default
        final = kind
        if lane.floor is not None and lane.floor.strictness > kind.strictness:
            final = lane.floor
        if rule is not None:
            step = f"rule:{rule.id}={kind.value}"
            if unknown:
                step += f"[indeterminate:{','.join(dict.fromkeys(unknown))}]"
        else:
            step = f"default={kind.value}"
        path = f"{lane.prefix} > {step}"
        if final is not kind:
            path += f" > floor:{lane.lane.value}={final.value}"
            rule_id = floor_rule_id(lane.lane.value)
            because = f"rule {rule.id} decided {kind.value}" if rule else f"default {kind.value}"
            display = f"{lane.lane.value} lane floor: {_FINAL_TEXT[final]} ({because})"
        elif rule is not None:
            rule_id, display = rule.id, rule.display
        else:
            rule_id, display = DEFAULT_RULE_ID, f"no rule matched: policy default {kind.value}"
        approvers: tuple[str, ...] = ()
        sla: int | None = None
        if final is _APPROVAL:
            approvers = (rule.approvers if rule else ()) or settings.default_approvers
            sla = rule.sla_minutes if rule and rule.sla_minutes is not None else None
            if sla is None:
                sla = settings.default_sla_minutes
        return Decision(
            kind=final,
            rule_id=rule_id,
            rule_display=display,
            matched_conditions=matched,
            decision_path=path,
            approvers=approvers,
            sla_minutes=sla,
            lane=lane.lane.value,
            rule_decision=kind,
        )


def _without_catalog(action: Action) -> Action:
    return dataclasses.replace(action, domain=None, action_id=None)


_FINAL_TEXT = {
    DecisionKind.REQUIRE_APPROVAL: "requires human approval",
    DecisionKind.BLOCK: "blocked",
    DecisionKind.ALLOW: "allowed",
}

__all__ = ["Policy"]
