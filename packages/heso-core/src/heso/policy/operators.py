"""Condition operators: validating a rule's ``value`` once, then testing field values fast.

A compiled test returns ``True`` (holds), ``False`` (does not hold) or ``None``
(*indeterminate*: the field holds a value of the wrong type for the operator, such as
``"lots"`` for ``gt``). The engine never treats indeterminate as a silent pass: see
``docs/policy.md``. Missing fields (absent, or ``None``) never reach a test; the engine
answers them with :attr:`OperatorSpec.on_missing`.

A *sieve* tests many conditions with one operator on one field at once: built from
``(value, mask)`` entries (the rule's ``value``, a bit mask naming the rule), it answers, for one
present field value, the mask of the rules whose condition certainly does **not** hold
(``False``; never an indeterminate one). It may leave out a rule whose condition fails; it never
names one whose condition holds or is indeterminate.
"""

from __future__ import annotations

import bisect
import fnmatch
import math
import numbers
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from heso.policy.destinations import recipient_domains, recipients, url_scheme
from heso.policy.regex import RegexError, compile_search, compile_search_any
from heso.toml_source import type_name

Test = Callable[[Any], "bool | None"]
Sieve = Callable[[Any], int]
"""For a present field value, the mask of the rules whose condition is certainly false."""
SieveEntries = Sequence[tuple[Any, int]]
"""``(rule value, rule mask)`` pairs, one per rule."""

_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER_TEXT = re.compile(r"[+-]?\d+")


class OperatorValueError(ValueError):
    """A rule's ``value`` does not suit its operator; ``hint`` says what to write instead."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.hint = hint
        super().__init__(message)


def to_number(x: Any) -> int | float | Decimal | None:
    """``x`` as a number, or ``None``: ints, floats, Decimals and numeric strings such as
    ``"4200"`` or ``" -1.5e3 "`` count; booleans, NaN and other text do not."""
    t = type(x)
    if t is int:
        return x  # type: ignore[no-any-return,unused-ignore]
    if t is float:
        return None if math.isnan(x) else x  # type: ignore[no-any-return,unused-ignore]
    if t is str:
        text = x.strip()
        if not _NUMBER_TEXT.fullmatch(text):
            return None
        return int(text) if _INTEGER_TEXT.fullmatch(text) else float(text)
    if isinstance(x, bool):
        return None
    if isinstance(x, Decimal):
        return None if x.is_nan() else x
    if isinstance(x, numbers.Real):
        value = float(x) if not isinstance(x, numbers.Integral) else int(x)
        return None if isinstance(value, float) and math.isnan(value) else value
    return None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (str, int, float, bool))


class _Members:
    """Equality membership with heso's rules: booleans equal only booleans, numbers compare
    by value (``1 == 1.0``), and a numeric string equals a number of the same value."""

    __slots__ = ("bools", "nums", "str_nums", "strs")

    def __init__(self, values: Sequence[Any]) -> None:
        self.bools: set[bool] = set()
        self.nums: set[Any] = set()
        self.strs: set[str] = set()
        self.str_nums: set[Any] = set()
        for v in values:
            if isinstance(v, bool):
                self.bools.add(v)
            elif isinstance(v, (int, float)):
                self.nums.add(v)
            else:
                self.strs.add(v)
                n = to_number(v)
                if n is not None:
                    self.str_nums.add(n)

    def __contains__(self, x: Any) -> bool:
        t = type(x)
        if t is str:
            if x in self.strs:
                return True
            if self.nums:
                n = to_number(x)
                return n is not None and n in self.nums
            return False
        if t is bool:
            return x in self.bools
        n = to_number(x)
        if n is None:
            return False
        return n in self.nums or n in self.str_nums


class _MemberTable:
    """Many :class:`_Members` at once: a value's :meth:`holding` mask names every set that
    contains it, with exactly ``_Members.__contains__``'s equality."""

    __slots__ = ("bools", "nums", "str_nums", "strs")

    def __init__(self) -> None:
        self.bools: dict[bool, int] = {}
        self.nums: dict[Any, int] = {}
        self.strs: dict[str, int] = {}
        self.str_nums: dict[Any, int] = {}

    def add(self, values: Sequence[Any], mask: int) -> None:
        members = _Members(values)
        tables: tuple[tuple[dict[Any, int], Any], ...] = (
            (self.bools, members.bools),
            (self.nums, members.nums),
            (self.strs, members.strs),
            (self.str_nums, members.str_nums),
        )
        for table, keys in tables:
            for key in keys:
                table[key] = table.get(key, 0) | mask

    def holding(self, x: Any) -> int:
        t = type(x)
        if t is str:
            found = self.strs.get(x, 0)
            if self.nums:
                n = to_number(x)
                if n is not None:
                    found |= self.nums.get(n, 0)
            return found
        if t is bool:
            return self.bools.get(x, 0)
        n = to_number(x)
        if n is None:
            return 0
        return self.nums.get(n, 0) | self.str_nums.get(n, 0)


class Affixes:
    """Literal prefixes (or suffixes) with a mask each: :meth:`holding` is the mask of those a
    string starts (or ends) with, one dict lookup per distinct length, none when no affix
    starts (or ends) with the string's first (or last) character."""

    __slots__ = ("by_length", "empty", "ends", "suffix")

    def __init__(self, suffix: bool = False) -> None:
        self.suffix = suffix
        self.by_length: dict[int, dict[str, int]] = {}
        self.ends: set[str] = set()
        """The affixes' first characters (last, for suffixes)."""
        self.empty = 0
        """The mask of the empty affix, which every string holds."""

    def add(self, text: str, mask: int) -> None:
        table = self.by_length.setdefault(len(text), {})
        table[text] = table.get(text, 0) | mask
        if text:
            self.ends.add(text[-1] if self.suffix else text[0])
        else:
            self.empty |= mask

    def holding(self, x: str) -> int:
        if (x[-1:] if self.suffix else x[:1]) not in self.ends:
            return self.empty
        found = 0
        size = len(x)
        for length, table in self.by_length.items():
            if length <= size:
                found |= table.get(x[size - length :] if self.suffix else x[:length], 0)
        return found


@lru_cache(maxsize=65536)
def compile_glob(pattern: str) -> Callable[[str], bool]:
    """A matcher for one glob pattern: ``*`` (any run of characters, ``/`` and ``.``
    included), ``?`` (one character), ``[abc]`` / ``[!abc]`` (a class); case-sensitive."""
    if pattern == "*":
        return lambda s: True
    body = pattern.strip("*")
    if not has_wildcard(body):
        if pattern == body:
            return lambda s: s == body
        if pattern == body + "*":
            return lambda s: s.startswith(body)
        if pattern == "*" + body:
            return lambda s: s.endswith(body)
    match = re.compile(fnmatch.translate(pattern)).match
    return lambda s: match(s) is not None


def compile_globs(patterns: Sequence[str]) -> Callable[[str], bool]:
    """One matcher for several glob patterns (any of them)."""
    if len(patterns) == 1:
        return compile_glob(patterns[0])
    matchers = tuple(compile_glob(p) for p in patterns)
    return lambda s: any(m(s) for m in matchers)


def has_wildcard(pattern: str) -> bool:
    """Whether a glob pattern contains ``*``, ``?`` or ``[``."""
    return any(c in pattern for c in "*?[")


# -- value checks -------------------------------------------------------------------------


def _scalar(op: str, value: Any) -> Any:
    if isinstance(value, list):
        alt = {"eq": "in", "ne": "not_in"}.get(op)
        raise OperatorValueError(
            f"`{op}` compares with one value, not an array",
            f'use op = "{alt}" to compare with several values' if alt else "give a single value",
        )
    if not _is_scalar(value):
        raise OperatorValueError(
            f"`{op}` needs a string, number or boolean value, not {type_name(value)}",
            'quote dates and times as strings: value = "2024-01-01"',
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise OperatorValueError(f"`{op}` needs a finite number, not {value}", "use a real number")
    return value


def _scalar_list(op: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        alt = {"in": "eq", "not_in": "ne"}[op]
        raise OperatorValueError(
            f"`{op}` needs an array of values, not {type_name(value)}",
            f'write value = [{_render(value)}], or use op = "{alt}"',
        )
    if not value:
        raise OperatorValueError(f"`{op}` needs at least one value", 'write value = ["a", "b"]')
    for item in value:
        _scalar(op, item)
    return value


def _number(op: str, value: Any) -> int | float:
    if isinstance(value, str) and to_number(value) is not None:
        raise OperatorValueError(
            f"`{op}` needs a number, not the string {value!r}", f"write value = {value.strip()}"
        )
    if not _is_number(value):
        raise OperatorValueError(
            f"`{op}` needs a number, not {type_name(value)}", "write value = 100 or value = 2.5"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise OperatorValueError(f"`{op}` needs a finite number, not {value}", "use a real number")
    return value  # type: ignore[no-any-return]


def _string(op: str, value: Any) -> str:
    if not isinstance(value, str):
        raise OperatorValueError(
            f"`{op}` needs a string value, not {type_name(value)}", f'write value = "{value}"'
        )
    return value


def _strings(op: str, value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise OperatorValueError(f"`{op}` needs at least one string", 'write value = "text"')
    for item in values:
        if not isinstance(item, str):
            raise OperatorValueError(
                f"`{op}` needs a string or an array of strings, not {type_name(item)}",
                f'write value = "{item}"',
            )
        if not item:
            raise OperatorValueError(f"`{op}` needs non-empty strings", "remove the empty string")
    return tuple(values)


def _render(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value).lower()


# -- operator builders --------------------------------------------------------------------


def _eq(value: Any) -> Test:
    members = _Members([_scalar("eq", value)])
    return lambda x: x in members


def _ne(value: Any) -> Test:
    members = _Members([_scalar("ne", value)])
    return lambda x: x not in members


def _in(value: Any) -> Test:
    members = _Members(_scalar_list("in", value))
    return lambda x: x in members


def _not_in(value: Any) -> Test:
    members = _Members(_scalar_list("not_in", value))
    return lambda x: x not in members


def _numeric(op: str, compare: Callable[[Any, Any], bool]) -> Callable[[Any], Test]:
    def build(value: Any) -> Test:
        bound = _number(op, value)
        as_float = isinstance(bound, float)

        def test(x: Any) -> bool | None:
            n = to_number(x)
            if n is None:
                return None
            if as_float and type(n) is Decimal:
                n = float(n)
            return compare(n, bound)

        return test

    return build


def _regex(value: Any) -> Test:
    pattern = _string("regex", value)
    try:
        search = compile_search(pattern)
    except RegexError as exc:
        raise OperatorValueError(str(exc), exc.hint) from None
    return lambda x: search(x) if type(x) is str else None


def _contains_test(value: Any) -> Test:
    needle = _scalar("contains", value)
    members = _Members([needle])
    is_text = isinstance(needle, str)

    def test(x: Any) -> bool | None:
        if type(x) is str:
            return (needle in x) if is_text else None
        if isinstance(x, Mapping):
            return (needle in x) if is_text else None
        if isinstance(x, (list, tuple, set, frozenset)):
            return any(item in members for item in x if item is not None)
        return None

    return test


def _not_contains(value: Any) -> Test:
    positive = _contains_test(value)

    def test(x: Any) -> bool | None:
        r = positive(x)
        return None if r is None else not r

    return test


def _starts_with(value: Any) -> Test:
    prefixes = _strings("starts_with", value)
    return lambda x: x.startswith(prefixes) if type(x) is str else None


def _ends_with(value: Any) -> Test:
    suffixes = _strings("ends_with", value)
    return lambda x: x.endswith(suffixes) if type(x) is str else None


def _glob_test(value: Any) -> Test:
    match = compile_globs(_strings("glob", value))
    return lambda x: match(x) if type(x) is str else None


_DOMAIN = re.compile(r"(?:\*\.)?[^\s@*]+")
_SCHEME_NAME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


def _domains(op: str, value: Any) -> tuple[frozenset[str], tuple[str, ...]]:
    """(exact domains, ``.suffix`` of ``*.``-wildcard domains), lower case."""
    exact: set[str] = set()
    suffixes: list[str] = []
    for item in _strings(op, value):
        if "@" in item:
            hint = f'write value = "{item.rpartition("@")[2]}": the domain only'
            raise OperatorValueError(f"`{op}` lists domains, not addresses: {item!r}", hint)
        if not _DOMAIN.fullmatch(item):
            raise OperatorValueError(
                f'`{op}` needs domains such as "example.com" or "*.example.com", not {item!r}',
                'write value = ["example.com", "*.example.com"]',
            )
        if item.startswith("*."):
            suffixes.append(item[1:].lower())
        else:
            exact.add(item.lower())
    return frozenset(exact), tuple(suffixes)


def _email_domain_in(value: Any) -> Test:
    exact, suffixes = _domains("email_domain_in", value)

    def test(x: Any) -> bool | None:
        found = recipient_domains(x)
        if not found:
            return None  # unparseable, or no recipient at all: never a silent pass
        if found <= exact:
            return True
        return all(d in exact or d.endswith(suffixes) for d in found)

    return test


def _email_domain_not_in(value: Any) -> Test:
    exact, suffixes = _domains("email_domain_not_in", value)

    def test(x: Any) -> bool | None:
        found = recipient_domains(x)
        if found is None:
            return None
        if found <= exact:
            return False
        return any(not (d in exact or d.endswith(suffixes)) for d in found)

    return test


def _schemes(op: str, value: Any) -> frozenset[str]:
    out = set()
    for item in _strings(op, value):
        if not _SCHEME_NAME.fullmatch(item):
            name = item.split(":", 1)[0]
            raise OperatorValueError(
                f'`{op}` needs URL schemes such as "https", not {item!r}',
                f'write value = "{name}": the scheme without ":" or "//"',
            )
        out.add(item.lower())
    return frozenset(out)


def _url_scheme_in(value: Any) -> Test:
    schemes = _schemes("url_scheme_in", value)

    def test(x: Any) -> bool | None:
        scheme = url_scheme(x)
        return None if scheme is None else scheme in schemes

    return test


def _url_scheme_not_in(value: Any) -> Test:
    schemes = _schemes("url_scheme_not_in", value)

    def test(x: Any) -> bool | None:
        scheme = url_scheme(x)
        return None if scheme is None else scheme not in schemes

    return test


def _recipient_domains(x: Any) -> str:
    found = recipients(x)
    if found is None:
        return "not an address list"
    return "domains: " + (", ".join(dict.fromkeys(m.domain for m in found)) or "none")


def _scheme_detail(x: Any) -> str:
    scheme = url_scheme(x)
    return f"scheme: {scheme}" if scheme is not None else "no scheme"


def _presence(op: str) -> Callable[[Any], Test]:
    def build(value: Any) -> Test:
        return lambda x: op == "exists"

    return build


# -- sieves ---------------------------------------------------------------------------------


def _union(entries: SieveEntries) -> int:
    out = 0
    for _, mask in entries:
        out |= mask
    return out


def _members_sieve(check: Callable[[str, Any], Any], negated: bool) -> Callable[..., Sieve]:
    """``eq``/``in`` (a rule fails unless the value is a member) or ``ne``/``not_in`` (a rule
    fails when it is)."""

    def build(op: str, entries: SieveEntries) -> Sieve:
        table = _MemberTable()
        for value, mask in entries:
            checked = check(op, value)
            table.add(checked if isinstance(checked, list) else [checked], mask)
        if negated:
            return table.holding
        every = _union(entries)
        return lambda x: every & ~table.holding(x)

    return build


def _numeric_sieve(op: str, entries: SieveEntries) -> Sieve:
    """The bounds sorted: the rules a number fails are a run at one end, found by bisection."""
    pairs = sorted((_number(op, value), mask) for value, mask in entries)
    bounds = [b for b, _ in pairs]
    # runs[i]: rules of the bounds before i ("lt"/"lte") or from i on ("gt"/"gte").
    below = op in ("lt", "lte")
    runs = [0] * (len(pairs) + 1)
    if below:
        for i, (_, mask) in enumerate(pairs):
            runs[i + 1] = runs[i] | mask
    else:
        for i in range(len(pairs) - 1, -1, -1):
            runs[i] = runs[i + 1] | pairs[i][1]
    # gt fails when bound >= n, gte when bound > n, lt when bound <= n, lte when bound < n.
    find = bisect.bisect_left if op in ("gt", "lte") else bisect.bisect_right

    def sieve(x: Any) -> int:
        n = to_number(x)
        if n is None or type(n) is Decimal:
            return 0  # indeterminate, or compared by the test's own rules
        return runs[find(bounds, n)]

    return sieve


def _affix_sieve(op: str, entries: SieveEntries) -> Sieve:
    affixes = Affixes(suffix=op == "ends_with")
    for value, mask in entries:
        for text in _strings(op, value):
            affixes.add(text, mask)
    every = _union(entries)
    return lambda x: every & ~affixes.holding(x) if type(x) is str else 0


def _text_sieve(
    make: Callable[[Any], Test], any_of: Callable[[list[str]], Callable[[str], bool]] | None = None
) -> Callable[..., Sieve]:
    """Operators on strings that no index covers (``regex``, ``glob``): each distinct value is
    tested once per field value; with ``any_of`` (all values at once), only when one holds."""

    def build(op: str, entries: SieveEntries) -> Sieve:
        by_value: dict[Any, int] = {}
        for value, mask in entries:
            key = tuple(value) if isinstance(value, list) else value
            by_value[key] = by_value.get(key, 0) | mask
        tests = tuple(
            (make(list(k) if isinstance(k, tuple) else k), m) for k, m in by_value.items()
        )
        every = _union(entries)
        anything = any_of(list(by_value)) if any_of is not None else None

        def sieve(x: Any) -> int:
            if type(x) is not str:
                return 0
            if anything is not None and not anything(x):
                return every
            out = 0
            for test, mask in tests:
                if not test(x):
                    out |= mask
            return out

        return sieve

    return build


def _contains_sieve(negated: bool) -> Callable[..., Sieve]:
    """Text by substring (each distinct needle tested once), arrays by membership (one lookup
    per element); a table's keys are left to the rules' own tests."""

    def build(op: str, entries: SieveEntries) -> Sieve:
        table = _MemberTable()
        texts: dict[str, int] = {}
        every = 0
        for value, mask in entries:
            needle = _scalar(op, value)
            table.add([needle], mask)
            every |= mask
            if isinstance(needle, str):
                texts[needle] = texts.get(needle, 0) | mask
        needles = tuple(texts.items())
        text_rules = _union(needles)

        def sieve(x: Any) -> int:
            if type(x) is str:
                held = 0
                for needle, mask in needles:
                    if needle in x:
                        held |= mask
                return held if negated else text_rules & ~held
            if isinstance(x, Mapping) or not isinstance(x, (list, tuple, set, frozenset)):
                return 0
            held = 0
            for item in x:
                if item is not None:
                    held |= table.holding(item)
            return held if negated else every & ~held

        return sieve

    return build


class _Domains:
    """The domains of many ``email_domain_in``/``email_domain_not_in`` values: the mask of
    those that list a domain (exactly, or through a ``*.`` wildcard)."""

    __slots__ = ("exact", "suffixes")

    def __init__(self, op: str, entries: SieveEntries) -> None:
        self.exact: dict[str, int] = {}
        self.suffixes: dict[str, int] = {}
        for value, mask in entries:
            exact, suffixes = _domains(op, value)
            for d in exact:
                self.exact[d] = self.exact.get(d, 0) | mask
            for sfx in suffixes:
                self.suffixes[sfx] = self.suffixes.get(sfx, 0) | mask

    def accepting(self, found: frozenset[str]) -> int | None:
        """The mask of the values listing every recipient's domain (``None``: all of them)."""
        out: int | None = None
        for domain in found:
            held = self.exact.get(domain, 0)
            if self.suffixes:
                dot = domain.find(".")
                while dot >= 0:
                    held |= self.suffixes.get(domain[dot:], 0)
                    dot = domain.find(".", dot + 1)
            out = held if out is None else out & held
        return out


def _email_domain_sieve(op: str, entries: SieveEntries) -> Sieve:
    domains = _Domains(op, entries)
    every = _union(entries)
    negated = op == "email_domain_not_in"

    def sieve(x: Any) -> int:
        found = recipient_domains(x)
        if found is None:
            return 0
        accepted = domains.accepting(found)
        if negated:
            return every if accepted is None else accepted  # no recipient: none outside
        return 0 if accepted is None else every & ~accepted  # no recipient: indeterminate

    return sieve


def _url_scheme_sieve(op: str, entries: SieveEntries) -> Sieve:
    by_scheme: dict[str, int] = {}
    for value, mask in entries:
        for scheme in _schemes(op, value):
            by_scheme[scheme] = by_scheme.get(scheme, 0) | mask
    every = _union(entries)
    negated = op == "url_scheme_not_in"

    def sieve(x: Any) -> int:
        scheme = url_scheme(x)
        if scheme is None:
            return 0
        held = by_scheme.get(scheme, 0)
        return held if negated else every & ~held

    return sieve


def _presence_sieve(op: str, entries: SieveEntries) -> Sieve:
    every = _union(entries)
    return lambda x: every if op == "missing" else 0


@dataclass(frozen=True)
class OperatorSpec:
    """One operator: its name, what it does, and how it handles a missing field."""

    name: str
    summary: str
    build: Callable[[Any], Test]
    needs_value: bool = True
    on_missing: bool = False
    expects: str = ""
    """What a field must hold for the test to be determinate ("a number"), for explanations."""
    detail: Callable[[Any], str] | None = None
    """What the operator read from a field value, for explanations."""
    sieve: Callable[[str, SieveEntries], Sieve] = _presence_sieve
    """Builds the operator's sieve from validated values (see the module's docstring)."""
    cost: int = 0
    """How dear its sieve is to run, 0 (a lookup) to 2 (a test per distinct value)."""


_SPECS = (
    OperatorSpec(
        "eq",
        "equals (numbers by value; a numeric string equals a number)",
        _eq,
        sieve=_members_sieve(_scalar, negated=False),
    ),
    OperatorSpec(
        "ne",
        "does not equal (the negation of eq)",
        _ne,
        sieve=_members_sieve(_scalar, negated=True),
    ),
    OperatorSpec(
        "in",
        "equals one of the listed values",
        _in,
        sieve=_members_sieve(_scalar_list, negated=False),
    ),
    OperatorSpec(
        "not_in",
        "equals none of the listed values",
        _not_in,
        sieve=_members_sieve(_scalar_list, negated=True),
    ),
    *(
        OperatorSpec(
            name,
            f"is a number {sign} value",
            _numeric(name, compare),
            expects="a number",
            sieve=_numeric_sieve,
        )
        for name, sign, compare in (
            ("lt", "<", operator.lt),
            ("lte", "<=", operator.le),
            ("gt", ">", operator.gt),
            ("gte", ">=", operator.ge),
        )
    ),
    OperatorSpec(
        "regex",
        "is a string in which the regular expression is found (RE2, linear time)",
        _regex,
        expects="a string",
        sieve=_text_sieve(_regex, compile_search_any),
        cost=2,
    ),
    OperatorSpec(
        "contains",
        "string contains text / array has element / table has key",
        _contains_test,
        sieve=_contains_sieve(negated=False),
        cost=2,
    ),
    OperatorSpec(
        "not_contains",
        "the negation of contains",
        _not_contains,
        sieve=_contains_sieve(negated=True),
        cost=2,
    ),
    OperatorSpec(
        "starts_with",
        "is a string starting with value (or any of values)",
        _starts_with,
        expects="a string",
        sieve=_affix_sieve,
    ),
    OperatorSpec(
        "ends_with",
        "is a string ending with value (or any of values)",
        _ends_with,
        expects="a string",
        sieve=_affix_sieve,
    ),
    OperatorSpec(
        "glob",
        "is a string matching the glob pattern (or any of them)",
        _glob_test,
        expects="a string",
        sieve=_text_sieve(_glob_test),
        cost=2,
    ),
    OperatorSpec(
        "email_domain_in",
        "holds email addresses, every one at a listed domain",
        _email_domain_in,
        expects="a list of email addresses",
        detail=_recipient_domains,
        sieve=_email_domain_sieve,
        cost=1,
    ),
    OperatorSpec(
        "email_domain_not_in",
        "holds email addresses, one or more at a domain not listed",
        _email_domain_not_in,
        expects="a list of email addresses",
        detail=_recipient_domains,
        sieve=_email_domain_sieve,
        cost=1,
    ),
    OperatorSpec(
        "url_scheme_in",
        "is a URL whose scheme (any case) is listed",
        _url_scheme_in,
        expects="an absolute URL",
        detail=_scheme_detail,
        sieve=_url_scheme_sieve,
        cost=1,
    ),
    OperatorSpec(
        "url_scheme_not_in",
        "is a URL whose scheme (any case) is not listed",
        _url_scheme_not_in,
        expects="an absolute URL",
        detail=_scheme_detail,
        sieve=_url_scheme_sieve,
        cost=1,
    ),
    OperatorSpec(
        "exists", "the field is present and not null", _presence("exists"), needs_value=False
    ),
    OperatorSpec(
        "missing",
        "the field is absent or null",
        _presence("missing"),
        needs_value=False,
        on_missing=True,
    ),
)

OPERATORS: Mapping[str, OperatorSpec] = {spec.name: spec for spec in _SPECS}
"""Every operator by name, in documentation order."""

OPERATOR_ALIASES: Mapping[str, str] = {
    "==": "eq", "=": "eq", "equals": "eq", "equal": "eq", "is": "eq",
    "!=": "ne", "<>": "ne", "not_equals": "ne", "not_equal": "ne", "neq": "ne",
    "greater_than": "gt", "less_than": "lt", "at_least": "gte", "at_most": "lte",
    "<": "lt", "<=": "lte", ">": "gt", ">=": "gte", "le": "lte", "ge": "gte",
    "matches": "regex", "match": "regex", "re": "regex", "like": "glob",
    "startswith": "starts_with", "endswith": "ends_with", "nin": "not_in",
    "present": "exists", "absent": "missing", "not_exists": "missing",
    "email_domain": "email_domain_in", "domain_in": "email_domain_in",
    "recipient_domain_in": "email_domain_in", "scheme_in": "url_scheme_in",
    "scheme_not_in": "url_scheme_not_in", "url_scheme": "url_scheme_in",
}  # fmt: skip
"""Spellings people reach for, mapped to the operator to suggest in an error."""


__all__ = [
    "OPERATORS",
    "OPERATOR_ALIASES",
    "Affixes",
    "OperatorSpec",
    "OperatorValueError",
    "Sieve",
    "SieveEntries",
    "Test",
    "compile_glob",
    "compile_globs",
    "has_wildcard",
    "to_number",
]
