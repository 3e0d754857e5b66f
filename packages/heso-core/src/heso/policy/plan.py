"""Deciding among many candidate rules without trying each one.

When hundreds of rules cover an action's verb and tool name (``send_*``, ``*_email``, ``*``),
trying them one by one in order costs a little per rule. A :class:`Plan` for those candidates
groups their conditions by field, and by operator into *sieves* (see
:mod:`heso.policy.operators`), and their subjects by kind. A *check* reads one field (or the
action's workflow, account and agent) once and rules out, at once, every candidate that a
condition on it certainly fails. The candidates the checks leave are then tried in order by
the engine exactly as any rule is, so the first rule in evaluation order that matches decides,
and the decision is the one a plain scan reaches.

Checks only ever rule out a rule one of whose ``conditions`` is ``False``, all of whose ``any``
alternatives are ``False``, or whose subject does not match; an indeterminate condition never
rules a rule out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from heso import fieldpath
from heso.action import Action
from heso.policy.model import Condition, Rule
from heso.policy.operators import OPERATORS, Affixes, compile_glob, has_wildcard

_MISSING = fieldpath.MISSING
_CACHE_SIZE = 256
"""Values a field's sieving result is remembered for: strings, integers, short string lists."""
_CACHE_TEXT = 256
"""The longest string a result is remembered for."""
_CACHE_ITEMS = 8
"""The longest list of strings a result is remembered for."""


class Plan:
    """Checks over an ordered tuple of candidate rules; immutable once built (but for the
    results it remembers), so threads may share it.

    Each candidate has a bit: first those with an ``any`` group (``m`` of them), then the
    others, each run in evaluation order. The ``j``-th alternatives of the ``any`` groups have
    bits of their own, ``n + (j - 1) * m`` up (``n`` candidates). A check's result has the bits
    of the candidates it rules out and of the alternatives it finds ``False``; a candidate is out
    when its bit is, or the bits of all its alternatives are.

    Results are remembered per check and value, and for a whole row of values: the values of
    the *steady* checks (those that have not yet met more than :data:`_CACHE_SIZE` distinct
    values) name, together, the union of their results, so an action whose steady values were
    all seen before costs one lookup for them; only the other checks are worked out.
    """

    __slots__ = (
        "checks",
        "either",
        "full",
        "last",
        "pads",
        "rank",
        "reads",
        "rules",
        "shifts",
        "steady",
        "tails",
    )

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        n = len(self.rules)
        self.full = (1 << n) - 1
        with_any = [i for i, r in enumerate(self.rules) if r.any_conditions]
        m = len(with_any)
        self.rank = tuple(with_any + [i for i, r in enumerate(self.rules) if not r.any_conditions])
        """The candidate each bit stands for."""
        self.either = (1 << m) - 1
        depth = max((len(r.any_conditions) for r in self.rules), default=0)
        self.shifts = tuple(n + j * m for j in range(depth))
        self.pads = 0  # a rule without a j-th alternative counts as having it ruled out
        fields: dict[Any, _FieldCheck] = {}
        subjects: dict[str, _Names] = {}
        for position, i in enumerate(self.rank):
            rule = self.rules[i]
            if rule.subject.matches_name is not None:
                names = subjects.get(rule.subject.kind)
                if names is None:
                    names = subjects[rule.subject.kind] = _Names()
                names.add(rule.subject.names, 1 << position)
            seen: set[tuple[Any, str]] = set()
            bits = [(1 << position, c) for c in rule.conditions]
            for j, shift in enumerate(self.shifts if rule.any_conditions else ()):
                if j < len(rule.any_conditions):
                    bits.append((1 << (position + shift), rule.any_conditions[j]))
                else:
                    self.pads |= 1 << (position + shift)
            for bit, condition in bits:
                field = fields.get(condition.segments)
                if field is None:
                    field = fields[condition.segments] = _FieldCheck(condition)
                # A sieve takes one value per bit: a second condition with the same field and
                # operator in ``conditions`` is left to the rule's own test.
                twice = bit <= self.full and (condition.segments, condition.op) in seen
                seen.add((condition.segments, condition.op))
                field.add(condition, bit, sieved=not twice)
        ordered = sorted(fields.values(), key=lambda f: f.cost)
        built = [
            *(names.build(kind) for kind, names in subjects.items()),
            *(f.build() for f in ordered),
        ]
        self.reads = tuple(check[:3] for check in built)
        """What each check reads: (action attribute or ``None``, key of a one-step field path,
        the path's reader)."""
        self.checks = tuple(check[3:] for check in built)
        """What each check does with it: (the bits when the value is missing, the sieves,
        remembered results, every bit the sieves may set)."""
        self.steady = self._steady(tuple(range(len(built))), ())
        """The steady checks' positions, the others', the union of the steady checks' results
        by their values, and what the steady checks read (one object, replaced whole when a
        check stops being steady)."""
        self.tails: dict[int, list[Rule]] = {}
        """The candidates left, by the bits ruled out."""
        self.last: list[tuple[Any, int] | None] = [None] * len(built)
        """Per check no longer steady: the last value it was worked out for, and the result."""

    def _steady(self, steady: tuple[int, ...], others: tuple[int, ...]) -> _SteadyState:
        return (steady, others, {}, tuple(self.reads[i] for i in steady))

    def survivors(self, action: Action, fields: Any) -> list[Rule]:
        """The candidates the checks leave for ``action``, in evaluation order."""
        plain = type(fields) is dict
        steady, others, rows, reads = self.steady
        row: list[Any] = []
        for source, key, read in reads:
            if source is not None:
                x = getattr(action, source)
            elif plain and key is not None:
                x = fields.get(key)
            else:
                x = read(fields)
                if x is _MISSING:
                    x = None
            t = type(x)
            if t is str:
                if len(x) > _CACHE_TEXT:
                    break
            elif t is list:
                if len(x) > _CACHE_ITEMS:
                    break
                for item in x:
                    if type(item) is not str:
                        break
                else:
                    x = tuple(x)  # remembered as the tuple of the same strings
                if type(x) is list:
                    break
            elif t is not int and x is not None:
                break
            row.append(x)
        else:
            key = tuple(row)
            out = rows.get(key)
            if out is None:
                out = 0
                for i in steady:
                    out = self._check(i, self._value(i, action, fields), out)
                if len(rows) >= _CACHE_SIZE:
                    rows.clear()
                rows[key] = out
            for i in others:
                out = self._sift(i, self._value(i, action, fields), out)
            found = self.tails.get(out)
            return found if found is not None else self._tail(out)
        out = 0
        for i in range(len(self.reads)):
            out = self._check(i, self._value(i, action, fields), out)
        return self._tail(out)

    def _value(self, i: int, action: Action, fields: Any) -> Any:
        """What check ``i`` reads (``None``: missing)."""
        source, _, read = self.reads[i]
        if source is not None:
            return getattr(action, source)
        x = read(fields)
        return None if x is _MISSING else x

    def _check(self, i: int, x: Any, out: int) -> int:
        """``out`` with the bits check ``i`` sets for value ``x``."""
        if_missing: int
        found: int | None
        if_missing, sieves, cache, reach = self.checks[i]
        if x is None:
            return out | if_missing
        t = type(x)
        remember: Any = None
        if t is str:
            if len(x) <= _CACHE_TEXT:
                remember = x
        elif t is int:
            remember = x
        elif t is list and len(x) <= _CACHE_ITEMS:
            remember = tuple(x)  # sieved as a tuple of the same strings would be
            if not all(type(item) is str for item in x):
                remember = None
        if remember is not None:
            found = cache.get(remember)
            if found is not None:
                return out | found
        if not reach & ~out:
            return out  # every bit this check could set is set already
        found = 0
        for sieve in sieves:
            found |= sieve(x)
        if remember is not None:
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
                steady, others, _, _ = self.steady
                if i in steady:  # many distinct values: no longer part of a row
                    self.steady = self._steady(tuple(j for j in steady if j != i), (*others, i))
            cache[remember] = found
        return out | found

    def _sift(self, i: int, x: Any, out: int) -> int:
        """``out`` with the bits check ``i``, no longer steady, sets for value ``x``. Of the
        many values it meets, only the last string or integer is remembered: one may come twice
        in a row, while a table of them would mostly be filled and cleared."""
        if_missing: int
        if_missing, sieves, _, reach = self.checks[i]
        if x is None:
            return out | if_missing
        t = type(x)
        last = self.last[i]
        if last is not None and type(last[0]) is t and last[0] == x:
            return out | last[1]
        if not reach & ~out:
            return out  # every bit this check could set is set already
        found = 0
        for sieve in sieves:
            found |= sieve(x)
        if (t is str and len(x) <= _CACHE_TEXT) or t is int:
            self.last[i] = (x, found)
        return out | found

    def _tail(self, out: int) -> list[Rule]:
        """The candidates the bits of ``out`` leave, in evaluation order."""
        tails = self.tails
        found = tails.get(out)
        if found is not None:
            return found
        key = out
        alive = self.full & ~out
        either = self.either
        with_any = alive & either
        if with_any:
            # Out too: the candidates with an ``any`` group all of whose alternatives are.
            out |= self.pads
            dead = with_any
            for shift in self.shifts:
                dead &= out >> shift
            alive ^= dead
        rank, rules = self.rank, self.rules
        found_at = []
        while alive:
            low = alive & -alive
            found_at.append(rank[low.bit_length() - 1])
            alive ^= low
        if with_any:
            found_at.sort()  # those with an ``any`` group have the low bits
        found = [rules[i] for i in found_at]
        if len(tails) >= _CACHE_SIZE:
            tails.clear()
        tails[key] = found
        return found


_Check = tuple[Any, ...]
"""(action attribute or ``None``, key of a one-step field path, the path's reader, the bits
when the value is missing, the sieves, remembered results, every bit the sieves may set)."""


_SteadyState = tuple[
    tuple[int, ...], tuple[int, ...], dict[tuple[Any, ...], int], tuple[tuple[Any, ...], ...]
]
"""See :attr:`Plan.steady`."""


class _FieldCheck:
    """The candidates' conditions on one field, sieved by operator."""

    def __init__(self, condition: Condition) -> None:
        self.key = condition.key
        self.read = condition.read
        self.cost = 0
        self.fails_if_missing = 0
        self.reach = 0
        self.entries: dict[str, list[tuple[Any, int]]] = {}

    def add(self, condition: Condition, bit: int, *, sieved: bool) -> None:
        spec = OPERATORS[condition.op]
        self.cost = max(self.cost, spec.cost)
        if not spec.on_missing:
            self.fails_if_missing |= bit
        if sieved:
            self.reach |= bit
            self.entries.setdefault(condition.op, []).append((condition.value, bit))

    def build(self) -> tuple[Any, ...]:
        """The field's check (see :data:`_Check`)."""
        ops = sorted(self.entries, key=lambda op: OPERATORS[op].cost)
        sieves = tuple(OPERATORS[op].sieve(op, self.entries[op]) for op in ops)
        return (None, self.key, self.read, self.fails_if_missing, sieves, {}, self.reach)


class _Names:
    """Subject names (globs) of one kind: the rules a name rules out."""

    def __init__(self) -> None:
        self.every = 0
        self.always = 0
        self.exact: dict[str, int] = {}
        self.prefixes = Affixes()
        self.others: dict[str, int] = {}

    def add(self, names: Sequence[str], bit: int) -> None:
        self.every |= bit
        for name in names:
            head = name[:-1]
            if name == "*":
                self.always |= bit
            elif not has_wildcard(name):
                self.exact[name] = self.exact.get(name, 0) | bit
            elif name.endswith("*") and not has_wildcard(head):
                self.prefixes.add(head, bit)
            else:
                self.others[name] = self.others.get(name, 0) | bit

    def build(self, kind: str) -> _Check:
        """The check of the action's ``kind`` (see :data:`_Check`)."""
        every, always, exact, prefixes = self.every, self.always, self.exact, self.prefixes
        others = tuple((compile_glob(name), bit) for name, bit in self.others.items())

        def ruled_out(value: Any) -> int:
            if type(value) is not str:
                return 0  # left to the rules' own tests
            held = always | exact.get(value, 0) | prefixes.holding(value)
            for match, bit in others:
                if match(value):
                    held |= bit
            return every & ~held

        return (kind, None, None, every, (ruled_out,), {}, every)


__all__ = ["Plan"]
