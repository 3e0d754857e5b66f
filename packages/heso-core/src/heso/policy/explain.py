"""``heso policy explain``: which rule decided an action, which conditions matched, and why
each earlier rule did not."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from heso import fieldpath
from heso.action import Action, Verb
from heso.policy.catalog import catalog_id
from heso.policy.engine import Policy
from heso.policy.model import Condition, Decision, DecisionKind, Rule
from heso.policy.operators import OPERATORS, to_number

_NUMERIC = {"lt", "lte", "gt", "gte"}
_SOURCE_TEXT = {
    "verb": "its verb",
    "name": "its tool name",
    "method": "its HTTP method",
}


@dataclass(frozen=True)
class ConditionTrace:
    """One condition as evaluated: ``result`` is ``true``, ``false`` or ``indeterminate``."""

    field: str
    op: str
    value: Any
    display: str
    actual: Any
    result: str
    reason: str


@dataclass(frozen=True)
class RuleTrace:
    """One rule as tried: ``outcome`` is ``decided``, ``skipped`` or ``disabled``."""

    rule_id: str
    order: int
    line: int | None
    outcome: str
    reason: str
    conditions: list[ConditionTrace] = field(default_factory=list)


@dataclass(frozen=True)
class Explanation:
    """The decision for one action and the story of how it was reached."""

    action: Action
    lane: str
    lane_source: str
    decision: Decision
    rules: list[RuleTrace]
    not_reached: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``--json``)."""
        a = self.action
        return {
            "action": {
                "verb": str(a.verb),
                "tool_name": a.tool_name,
                "fields": _jsonable(dict(a.fields)),
                "workflow": a.workflow,
                "account": a.account,
                "agent": a.agent,
                "domain": a.domain,
                "action_id": a.action_id,
            },
            "lane": self.lane,
            "lane_source": self.lane_source,
            "decision": self.decision.kind.value,
            "approvers": list(self.decision.approvers),
            "sla_minutes": self.decision.sla_minutes,
            "policy": self.decision.policy_block(),
            "rules": [
                {
                    "rule_id": r.rule_id,
                    "order": r.order,
                    "line": r.line,
                    "outcome": r.outcome,
                    "reason": r.reason,
                    "conditions": [
                        {
                            "field": c.field,
                            "op": c.op,
                            "value": c.value,
                            "display": c.display,
                            "actual": _jsonable(c.actual),
                            "result": c.result,
                            "reason": c.reason,
                        }
                        for c in r.conditions
                    ],
                }
                for r in self.rules
            ],
            "not_reached": self.not_reached,
        }

    def render(self) -> str:
        """Human-readable text."""
        a, d = self.action, self.decision
        who = f"workflow {a.workflow}, account {a.account}, agent {a.agent or '-'}"
        lines = [f"action:   {a.verb} {json.dumps(a.tool_name)} ({who})"]
        declared = catalog_id(a.domain, a.action_id)
        if declared:
            lines.append(f"catalog:  {declared}")
        source = _SOURCE_TEXT.get(
            self.lane_source, self.lane_source.replace("catalog:", "catalog ")
        )
        lines.append(f"lane:     {self.lane} (from {source})")
        lines.append(f"decision: {d.kind.value}, by {d.rule_id}: {d.rule_display}")
        if d.kind is DecisionKind.REQUIRE_APPROVAL:
            sla = f"; SLA {d.sla_minutes} min" if d.sla_minutes is not None else ""
            lines.append(f"approvers: {', '.join(d.approvers)}{sla}")
        lines.append(f"path:     {d.decision_path}")
        lines.append("rules, in evaluation order:" if self.rules else "rules:    none apply")
        for i, r in enumerate(self.rules, 1):
            where = f"order {r.order}" + (f", line {r.line}" if r.line else "")
            lines.append(f"  {i}. [{r.outcome}] {r.rule_id} ({where}): {r.reason}")
            for c in r.conditions:
                mark = {"true": "+", "false": "-", "indeterminate": "?"}[c.result]
                lines.append(f"       {mark} {c.display}: {c.reason}")
        if self.not_reached:
            lines.append(f"  ({self.not_reached} later rule(s) not reached)")
        return "\n".join(lines)


def explain(policy: Policy, action: Action) -> Explanation:
    """Evaluate ``action`` and trace every rule tried before the deciding one."""
    decision = policy.evaluate(action)
    lane, source = policy.classify(action)
    traces: list[RuleTrace] = []
    ordered = policy.ordered_rules
    reached = 0
    if decision.rule_id != "heso:unknown-catalog-action":
        for rule in ordered:
            reached += 1
            trace = _trace(rule, action, policy.line_of(rule))
            traces.append(trace)
            if trace.outcome == "decided":
                break
    return Explanation(action, lane, source, decision, traces, len(ordered) - reached)


def _trace(rule: Rule, action: Action, line: int | None) -> RuleTrace:
    def skip(reason: str, conditions: list[ConditionTrace] | None = None) -> RuleTrace:
        return RuleTrace(rule.id, rule.order, line, "skipped", reason, conditions or [])

    if not rule.enabled:
        return RuleTrace(rule.id, rule.order, line, "disabled", "enabled = false")
    verb = Verb(action.verb)
    if rule.verbs is not None and verb not in rule.verbs:
        wanted = " or ".join(sorted(v.value for v in rule.verbs))
        return skip(f"verb {verb.value} is not {wanted}")
    if not rule.matches_scope(action.tool_name):
        return skip(
            f"tool {json.dumps(action.tool_name)} is outside scope {' or '.join(rule.scopes)}"
        )
    if not rule.subject.matches(action):
        actual = getattr(action, rule.subject.kind)
        return skip(
            f"{rule.subject.kind} {json.dumps(actual)} is not {' or '.join(rule.subject.names)}"
        )
    conditions = [_condition(c, action) for c in rule.conditions]
    alternatives = [_condition(c, action) for c in rule.any_conditions]
    result = rule.evaluate(action.fields)
    shown = conditions + alternatives
    if result:
        return RuleTrace(rule.id, rule.order, line, "decided", rule.decision.value, shown)
    if result is None:
        fields = ", ".join(dict.fromkeys(c.field for c in shown if c.result == "indeterminate"))
        if rule.decision is DecisionKind.ALLOW:
            return skip(f"indeterminate input ({fields}): an allow rule never matches on it", shown)
        return RuleTrace(
            rule.id,
            rule.order,
            line,
            "decided",
            f"{rule.decision.value} (indeterminate input ({fields}) applies the stricter rule)",
            shown,
        )
    failed = [c for c in conditions if c.result == "false"]
    if failed:
        return skip(f"condition failed: {failed[0].display}", shown)
    return skip("none of the `any` conditions holds", shown)


def _condition(condition: Condition, action: Action) -> ConditionTrace:
    actual = condition.lookup(action.fields)
    result = condition.evaluate(action.fields)
    label = {True: "true", False: "false", None: "indeterminate"}[result]
    if actual is fieldpath.MISSING:
        reason = "field is missing"
        actual = None
    elif result is None:
        spec = OPERATORS[condition.op]
        if spec.expects:
            reason = f"{_short(actual)} is not {spec.expects}"
        else:
            reason = f"{_short(actual)} cannot be searched with {condition.op}"
    else:
        shown = _short(actual)
        detail = OPERATORS[condition.op].detail
        if condition.op in _NUMERIC and isinstance(actual, str):
            shown += f" (read as {to_number(actual)})"
        elif detail is not None:
            shown += f" ({detail(actual)})"
        reason = f"{shown} -> {label}"
    return ConditionTrace(
        condition.field,
        condition.op,
        condition.value,
        condition.display,
        actual,
        label,
        reason,
    )


def _short(value: Any) -> str:
    text = json.dumps(_jsonable(value), ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


__all__ = ["ConditionTrace", "Explanation", "RuleTrace", "explain"]
