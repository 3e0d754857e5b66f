"""The policy's data: decisions, subjects, conditions, rules and the decision an action gets."""

from __future__ import annotations

import dataclasses
import enum
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from heso import fieldpath
from heso.action import Action, Verb
from heso.canonical import CanonicalObject, canonical_bytes
from heso.errors import CanonicalizationError


class DecisionKind(str, enum.Enum):
    """What happens to an action."""

    ALLOW = "allow"
    BLOCK = "block"
    REQUIRE_APPROVAL = "require_approval"

    def __str__(self) -> str:
        return self.value

    @property
    def strictness(self) -> int:
        """``allow`` 0 < ``require_approval`` 1 < ``block`` 2."""
        return _STRICTNESS[self]


_STRICTNESS = {DecisionKind.ALLOW: 0, DecisionKind.REQUIRE_APPROVAL: 1, DecisionKind.BLOCK: 2}

DEFAULT_RULE_ID = "heso:default"
"""``rule_id`` of a decision taken by ``[policy] default`` because no rule matched."""
UNKNOWN_CATALOG_RULE_ID = "heso:unknown-catalog-action"
"""``rule_id`` of the block given to an action declaring an id the catalog does not know."""


def floor_rule_id(lane: str) -> str:
    """``rule_id`` of a decision a lane floor raised: ``heso:floor:delete``."""
    return f"heso:floor:{lane}"


SUBJECT_KINDS = ("any", "agent", "workflow", "account")


@dataclass(frozen=True)
class Subject:
    """Who a rule applies to: ``any``, or an agent, workflow or account whose name matches one
    of ``names`` (globs)."""

    kind: str = "any"
    names: tuple[str, ...] = ()
    matches_name: Callable[[str], bool] | None = dataclasses.field(
        default=None, compare=False, repr=False
    )

    def matches(self, action: Action) -> bool:
        """Whether ``action`` is done by this subject."""
        if self.matches_name is None:
            return True
        value = getattr(action, self.kind)
        return value is not None and self.matches_name(value)

    def describe(self) -> str:
        if self.kind == "any":
            return "any subject"
        return f"{self.kind} {' or '.join(self.names)}"


@dataclass(frozen=True)
class Condition:
    """One test on a field of the action: ``{ field, op, value, display }``."""

    field: str
    op: str
    value: Any
    display: str
    segments: tuple[fieldpath.Segment, ...]
    test: Callable[[Any], bool | None] = dataclasses.field(compare=False, repr=False)
    on_missing: bool = False
    record: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)
    read: Callable[[Any], Any] = dataclasses.field(init=False, compare=False, repr=False)
    """:func:`heso.fieldpath.get` compiled for ``segments`` (``None`` not yet made missing)."""
    key: str | None = dataclasses.field(init=False, compare=False, repr=False)
    """The one key of a one-step path, else ``None``."""
    holds: Callable[[Any], Any] = dataclasses.field(init=False, compare=False, repr=False)
    """:meth:`evaluate` in one call, resolved when the policy loads."""

    def __post_init__(self) -> None:
        # The path resolved once, when the policy loads (a frozen dataclass: set directly).
        read = fieldpath.compile_get(self.segments)
        key = self.segments[0] if len(self.segments) == 1 else None
        key = sys.intern(key) if type(key) is str else None  # the fields' keys often are
        object.__setattr__(self, "read", read)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "holds", _holds(key, read, self.test, self.on_missing))

    def lookup(self, fields: Mapping[str, Any]) -> Any:
        """The field's value, or :data:`heso.fieldpath.MISSING` (a ``None`` counts as missing)."""
        key = self.key
        if key is not None and type(fields) is dict:
            value = fields.get(key, fieldpath.MISSING)
        else:
            value = self.read(fields)
        return fieldpath.MISSING if value is None else value

    def evaluate(self, fields: Mapping[str, Any]) -> bool | None:
        """``True``/``False``, or ``None`` when the value's type does not suit the operator."""
        return self.holds(fields)  # type: ignore[no-any-return]

    def as_record(self) -> dict[str, Any]:
        """``{"field", "op", "value", "display"}`` for the receipt (the rule's value, never the
        action's)."""
        return dict(self.record)


@dataclass(frozen=True)
class Rule:
    """One ``[[rule]]``. ``position`` is its index among the file's rules."""

    id: str
    decision: DecisionKind
    verbs: frozenset[Verb] | None
    scopes: tuple[str, ...]
    subject: Subject
    conditions: tuple[Condition, ...]
    any_conditions: tuple[Condition, ...]
    order: int = 0
    enabled: bool = True
    approvers: tuple[str, ...] = ()
    sla_minutes: int | None = None
    display: str = ""
    position: int = 0
    matches_scope: Callable[[str], bool] = dataclasses.field(
        default=lambda _name: True, compare=False, repr=False
    )
    holds: Callable[[Any], Any] | None = dataclasses.field(init=False, compare=False, repr=False)
    """:meth:`evaluate` resolved when the policy loads (``None`` for a rule without
    conditions): ``False``, ``None`` (indeterminate), else the rule's conditions hold."""

    def __post_init__(self) -> None:
        if self.any_conditions:
            holds: Callable[[Any], Any] | None = _all_and_any(
                tuple(c.holds for c in self.conditions), tuple(c.holds for c in self.any_conditions)
            )
        elif len(self.conditions) == 1:
            holds = self.conditions[0].holds
        elif self.conditions:
            holds = _all_and_any(tuple(c.holds for c in self.conditions), ())
        else:
            holds = None
        object.__setattr__(self, "holds", holds)

    @property
    def sort_key(self) -> tuple[int, int]:
        """Rules are tried by ``order``, ties broken by position in the file."""
        return (self.order, self.position)

    def matches_target(self, verb: Verb, tool_name: str) -> bool:
        """Whether the rule's verb and scope cover this action (subject and conditions aside)."""
        return (self.verbs is None or verb in self.verbs) and self.matches_scope(tool_name)

    def evaluate(self, fields: Mapping[str, Any]) -> bool | None:
        """All ``conditions`` and, if given, one of ``any``: ``True``, ``False`` or ``None``
        (indeterminate, three-valued logic)."""
        holds = self.holds
        r = True if holds is None else holds(fields)
        return r if r is None or r is False else True


def _holds(
    key: str | None, read: Callable[[Any], Any], test: Callable[[Any], Any], on_missing: bool
) -> Callable[[Any], Any]:
    """A condition's test of the fields, its path resolved (see :attr:`Condition.holds`)."""
    missing = fieldpath.MISSING
    if key is None:

        def holds_at_path(fields: Any) -> Any:
            value = read(fields)
            if value is missing or value is None:
                return on_missing
            return test(value)

        return holds_at_path

    def holds(fields: Any) -> Any:
        value = fields.get(key) if type(fields) is dict else read(fields)
        if value is missing or value is None:
            return on_missing
        return test(value)

    return holds


def _all_and_any(
    every: tuple[Callable[[Any], Any], ...], either: tuple[Callable[[Any], Any], ...]
) -> Callable[[Any], Any]:
    """All of ``every`` and, unless it is empty, one of ``either``; three-valued (see
    :meth:`Rule.evaluate`)."""

    def holds(fields: Any) -> bool | None:
        unknown = False
        for test in every:
            r = test(fields)
            if r is False:
                return False
            if r is None:
                unknown = True
        if not either:
            return None if unknown else True
        any_unknown = False
        for test in either:
            r = test(fields)
            if r:
                return None if unknown else True
            if r is None:
                any_unknown = True
        return None if any_unknown else False

    return holds


@dataclass(frozen=True)
class Decision:
    """What the policy decided for one action, and why. Treat it as read-only."""

    kind: DecisionKind
    rule_id: str
    rule_display: str
    matched_conditions: list[dict[str, Any]]
    decision_path: str
    approvers: tuple[str, ...] = ()
    sla_minutes: int | None = None
    lane: str = "write"
    rule_decision: DecisionKind | None = None
    """The deciding rule's (or the default's) own decision, before any floor."""

    @property
    def floor_applied(self) -> bool:
        """Whether a lane floor made the decision stricter than the rule's."""
        return self.rule_decision is not None and self.rule_decision is not self.kind

    def policy_block(self) -> dict[str, Any]:
        """The receipt's policy block: a fresh JSON-ready dict, identical for identical input.

        It carries its RFC 8785 bytes (a :class:`heso.canonical.CanonicalObject`), computed
        once per decision, so minting a receipt does not serialize it again.
        """
        cached = self.__dict__.get("_policy_block")
        if cached is None:
            # A frozen dataclass: cache through __dict__ (computing twice in a race is harmless).
            template = {
                "rule_id": self.rule_id,
                "rule_display": self.rule_display,
                "matched_conditions": [],
                "decision_path": self.decision_path,
                "decision": self.kind.value,
            }
            try:
                encoded = canonical_bytes({**template, "matched_conditions": self._matched()})
            except CanonicalizationError:
                encoded = None  # minting reports it
            cached = self.__dict__["_policy_block"] = (template, encoded)
        template, encoded = cached
        if encoded is None:
            return {**template, "matched_conditions": self._matched()}
        block = CanonicalObject(template)
        if self.matched_conditions:
            block["matched_conditions"] = self._matched()
        else:
            block["matched_conditions"] = []
        block.canonical = encoded
        return block

    def _matched(self) -> list[dict[str, Any]]:
        """Fresh copies of the matched conditions (a receipt never shares the decision's)."""
        return [
            {**c, "value": list(c["value"])} if isinstance(c["value"], list) else dict(c)
            for c in self.matched_conditions
        ]


@dataclass(frozen=True)
class PolicySettings:
    """The ``[policy]`` table."""

    default: DecisionKind = DecisionKind.BLOCK
    default_approvers: tuple[str, ...] = ("oncall",)
    default_sla_minutes: int | None = None
    floors: Mapping[str, DecisionKind] = dataclasses.field(default_factory=dict)
    """Floor per lane name, as configured; the engine never goes below the pinned floors."""
    default_is_explicit: bool = False


__all__ = [
    "DEFAULT_RULE_ID",
    "SUBJECT_KINDS",
    "UNKNOWN_CATALOG_RULE_ID",
    "Condition",
    "Decision",
    "DecisionKind",
    "PolicySettings",
    "Rule",
    "Subject",
    "floor_rule_id",
]
