r"""Policy regular expressions: Python ``re`` syntax and meaning, matched in linear time.

Python's ``re`` backtracks, so a pattern such as ``^(a+)+$`` takes exponential time on an
agent-chosen 40-character input, inside the gate. A policy pattern is therefore parsed by
Python's own parser and translated, node by node, into a pattern for RE2 (``google-re2``),
whose matching time is linear in the input, with the **same meaning** as under Python:

* character classes become the explicit sets Python's engine matches: Unicode ``\d``, ``\w``,
  ``\s`` and their negations, case-insensitive letters (``(?i)k`` also matches the Kelvin sign,
  as in Python), under ``(?a)`` their ASCII forms;
* ``^``, ``$``, ``\A``, ``\Z`` and ``(?m)`` keep Python's meaning (``$`` also matches before a
  final newline);
* ``\b`` and ``\B`` keep Python's Unicode meaning where the characters on both sides are known
  from the pattern, or at its start or end (``\bdrop\b``); under ``(?a)`` they are ASCII,
  which RE2 checks natively.

What cannot run in linear time or keep its meaning is refused when the policy loads, with a
hint: backreferences, look-ahead and look-behind, conditional groups, atomic groups and
possessive quantifiers, repetition counts over 1000, ``$`` anywhere but at the end, and a
Unicode ``\b`` whose neighbours the pattern does not determine. Patterns that are plain text,
optionally anchored (``^gpt-4``, ``^(gpt-4|o1)``, ``https?://``), are matched with string
methods instead, which is faster than a call into RE2; so are such patterns under ``(?i)`` on
ASCII text.
"""

from __future__ import annotations

import array
import itertools
import re
import sys
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING or sys.version_info < (3, 11):  # typeshed types the 3.10 names only
    import sre_constants as sre
    import sre_parse
else:
    from re import _constants as sre
    from re import _parser as sre_parse

Ranges = tuple[tuple[int, int], ...]
"""A set of code points: sorted, disjoint, non-adjacent inclusive ranges."""

MAX_REPEAT = 1000
"""RE2's largest repetition count."""
_TOP = 0x10FFFF
_ALL: Ranges = ((0, _TOP),)
_NONE: Ranges = ()
_NEWLINE: Ranges = ((10, 10),)
_PLAIN = frozenset(map(ord, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"))
_ASCII_SETS: dict[Any, Ranges] = {
    sre.CATEGORY_DIGIT: ((48, 57),),
    sre.CATEGORY_WORD: ((48, 57), (65, 90), (95, 95), (97, 122)),
    sre.CATEGORY_SPACE: ((9, 13), (32, 32)),
}
_POSITIVE = {
    sre.CATEGORY_DIGIT: sre.CATEGORY_DIGIT,
    sre.CATEGORY_NOT_DIGIT: sre.CATEGORY_DIGIT,
    sre.CATEGORY_WORD: sre.CATEGORY_WORD,
    sre.CATEGORY_NOT_WORD: sre.CATEGORY_WORD,
    sre.CATEGORY_SPACE: sre.CATEGORY_SPACE,
    sre.CATEGORY_NOT_SPACE: sre.CATEGORY_SPACE,
}
_CATEGORY_SOURCE = {
    sre.CATEGORY_DIGIT: r"\d",
    sre.CATEGORY_NOT_DIGIT: r"\D",
    sre.CATEGORY_WORD: r"\w",
    sre.CATEGORY_NOT_WORD: r"\W",
    sre.CATEGORY_SPACE: r"\s",
    sre.CATEGORY_NOT_SPACE: r"\S",
}
_IGNORECASE = sre.SRE_FLAG_IGNORECASE
_MULTILINE = sre.SRE_FLAG_MULTILINE
_DOTALL = sre.SRE_FLAG_DOTALL
_ASCII = sre.SRE_FLAG_ASCII
_MAX_WORDS = 64

_UNSUPPORTED_HINT = (
    "policy patterns run on RE2, which matches in linear time; rewrite the pattern without it "
    "(docs/policy.md, 'Regular expressions')"
)


class RegexError(ValueError):
    """A pattern that does not compile, or cannot be matched in linear time with its meaning."""

    def __init__(self, message: str, hint: str) -> None:
        self.hint = hint
        super().__init__(message)


# -- code point sets ------------------------------------------------------------------------


def _normalize(pairs: Iterable[tuple[int, int]]) -> Ranges:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(pairs):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def _union(*sets: Ranges) -> Ranges:
    return _normalize(itertools.chain.from_iterable(sets))


def _complement(s: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    start = 0
    for lo, hi in s:
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= _TOP:
        out.append((start, _TOP))
    return tuple(out)


def _disjoint(a: Ranges, b: Ranges) -> bool:
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i][1] < b[j][0]:
            i += 1
        elif b[j][1] < a[i][0]:
            j += 1
        else:
            return False
    return True


def _subset(a: Ranges, b: Ranges) -> bool:
    return _disjoint(a, _complement(b))


@lru_cache(maxsize=2)
def _universe(bmp: bool = False) -> tuple[tuple[int, str], ...]:
    """As (offset, text): every code point that can be a Unicode digit, letter or space or have
    a case partner (planes 0-3 and 14; the others are unassigned or private use), or with
    ``bmp`` only plane 0, which holds every case partner of an ASCII letter."""
    order = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"
    planes = ((0, 0xFFFF),) if bmp else ((0, 0x3FFFF), (0xE0000, 0xEFFFF))
    segments = []
    for lo, hi in planes:
        codes = array.array("I", range(lo, hi + 1))
        if codes.itemsize != 4:  # pragma: no cover - no mainstream platform
            segments.append((lo, "".join(map(chr, range(lo, hi + 1)))))
        else:
            segments.append((lo, codes.tobytes().decode(order, "surrogatepass")))
    return tuple(segments)


@lru_cache(maxsize=1024)
def _engine_set(source: str, flags: int, bmp: bool = False) -> Ranges:
    """The code points (of :func:`_universe`) that Python's engine matches with the
    one-character pattern ``source`` under ``flags``."""
    runs = re.compile(f"(?:{source})+", flags)
    pairs: list[tuple[int, int]] = []
    for offset, text in _universe(bmp):
        pairs.extend((offset + m.start(), offset + m.end() - 1) for m in runs.finditer(text))
    return _normalize(pairs)


def _category(category: Any, flags: int) -> Ranges:
    positive = _POSITIVE[category]
    if flags & _ASCII:
        found = _ASCII_SETS[positive]
    else:
        found = _engine_set(_CATEGORY_SOURCE[positive], 0)
    return found if category is positive else _complement(found)


def _py_char(code: int) -> str:
    return f"\\U{code:08x}"


def _folded(code: int, ascii_only: bool) -> Ranges:
    """The characters Python's ``(?i)`` matches for ``chr(code)``: itself, its other cases and
    the extra equivalences Python knows (the Kelvin sign for k, long s for s …)."""
    if code < 128:
        return _ascii_folds(ascii_only).get(code, ((code, code),))
    flags = re.IGNORECASE | (re.ASCII if ascii_only else 0)
    return _union(((code, code),), _engine_set(_py_char(code), flags))


@lru_cache(maxsize=2)
def _ascii_folds(ascii_only: bool) -> dict[int, Ranges]:
    """:func:`_folded` for every ASCII letter, from one scan."""
    flags = re.IGNORECASE | (re.ASCII if ascii_only else 0)
    hits = [c for lo, hi in _engine_set("[A-Za-z]", flags, bmp=True) for c in range(lo, hi + 1)]
    table = {}
    for letter in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz":
        same = re.compile(_py_char(letter), flags).fullmatch
        table[letter] = _normalize((c, c) for c in hits if same(chr(c)))
    return table


def _word(flags: int) -> Ranges:
    return _category(sre.CATEGORY_WORD, flags)


# -- translation ----------------------------------------------------------------------------


_INPUT = "input"
"""Context at the pattern's start or end: any input character, or the edge of the text."""
_UNKNOWN = "unknown"
"""Context the translation does not determine (else a context is a set of characters)."""


def _merge(chars: Ranges, nullable: bool, outer: Any) -> Any:
    """The context beyond a part that matches ``chars`` next to it (or nothing, if nullable)."""
    if not nullable:
        return chars
    if not chars:
        return outer
    return _union(chars, outer) if isinstance(outer, tuple) else _UNKNOWN


def _escape(code: int) -> str:
    return chr(code) if code in _PLAIN else f"\\x{{{code:x}}}"


def _emit_set(s: Ranges) -> str:
    if not s:
        return r"[^\x{0}-\x{10ffff}]"
    if s == _ALL:
        return r"(?s:.)"
    if len(s) == 1 and s[0][0] == s[0][1]:
        return _escape(s[0][0])
    body = "".join(_escape(lo) if lo == hi else f"{_escape(lo)}-{_escape(hi)}" for lo, hi in s)
    return f"[{body}]"


class _Translator:
    def __init__(self, pattern: str, parsed: Any) -> None:
        self.pattern = pattern
        self.contextual = _has_context_anchor(parsed)
        """Whether the pattern has ``$`` or ``\\b``/``\\B``, whose translation depends on
        the characters around them (the only reason to work out contexts)."""

    def refuse(self, what: str, hint: str = _UNSUPPORTED_HINT) -> NoReturn:
        raise RegexError(f"regular expression {self.pattern!r} {what}", hint)

    # -- characters -----------------------------------------------------------------------

    def chars(self, op: Any, av: Any, flags: int) -> Ranges:
        """The set a one-character node matches."""
        if op is sre.LITERAL or op is sre.NOT_LITERAL:
            s = _folded(av, bool(flags & _ASCII)) if flags & _IGNORECASE else ((av, av),)
            return s if op is sre.LITERAL else _complement(s)
        if op is sre.ANY:
            return _ALL if flags & _DOTALL else _complement(_NEWLINE)
        negate = bool(av) and av[0][0] is sre.NEGATE
        items = av[1:] if negate else av
        plain: list[Ranges] = []
        source = []
        for kind, value in items:
            if kind is sre.LITERAL:
                plain.append(((value, value),))
                source.append(_py_char(value))
            elif kind is sre.RANGE:
                plain.append((value,))
                source.append(f"{_py_char(value[0])}-{_py_char(value[1])}")
            elif kind is sre.CATEGORY:
                plain.append(_category(value, flags))
                source.append(_CATEGORY_SOURCE[value])
            else:  # pragma: no cover - the parser emits nothing else in a class
                self.refuse(f"uses an unsupported class item ({kind})")
        s = _union(*plain)
        if flags & _IGNORECASE:
            py_flags = re.IGNORECASE | (re.ASCII if flags & _ASCII else 0)
            s = _union(s, _engine_set(f"[{''.join(source)}]", py_flags))
        return _complement(s) if negate else s

    def first(self, items: Any, flags: int) -> tuple[Ranges, bool]:
        """(the characters a match of ``items`` can start with, whether it can be empty)."""
        found: list[Ranges] = []
        for op, av in items:
            chars, nullable = self.edge(op, av, flags, self.first)
            found.append(chars)
            if not nullable:
                return _union(*found), False
        return _union(*found), True

    def last(self, items: Any, flags: int) -> tuple[Ranges, bool]:
        """(the characters a match of ``items`` can end with, whether it can be empty)."""
        found: list[Ranges] = []
        for op, av in reversed(list(items)):
            chars, nullable = self.edge(op, av, flags, self.last)
            found.append(chars)
            if not nullable:
                return _union(*found), False
        return _union(*found), True

    def edge(
        self, op: Any, av: Any, flags: int, side: Callable[[Any, int], tuple[Ranges, bool]]
    ) -> tuple[Ranges, bool]:
        if op in (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN):
            return self.chars(op, av, flags), False
        if op is sre.SUBPATTERN:
            return side(av[3], _scoped(flags, av))
        if op is sre.BRANCH:
            parts = [side(alt, flags) for alt in av[1]]
            return _union(*(p[0] for p in parts)), any(p[1] for p in parts)
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            low, high, item = av
            if high == 0:
                return _NONE, True
            chars, nullable = side(item, flags)
            return chars, nullable or low == 0
        if op is sre.AT:
            # Seen from the far side, a start anchor stands for the text's start (or a newline
            # under (?m)) and an end anchor for its end (or a newline): never a word character.
            # Other anchors let the characters beyond them show through.
            edges = _STARTS if side == self.last else _ENDS
            return (_NEWLINE, False) if av in edges else (_NONE, True)
        return self.unsupported(op, av)

    # -- structure ------------------------------------------------------------------------

    def sequence(self, items: Any, flags: int, before: Any, after: Any) -> str:
        """``items`` in RE2 syntax; ``before``/``after`` are the contexts around them."""
        items = list(items)
        n = len(items)
        befores: list[Any] = [_UNKNOWN] * n
        afters: list[Any] = [_UNKNOWN] * n
        if self.contextual:
            ctx = before
            for i, (op, av) in enumerate(items):
                befores[i] = ctx
                ctx = _merge(*self.edge(op, av, flags, self.last), ctx)
            ctx = after
            for i in range(n - 1, -1, -1):
                afters[i] = ctx
                op, av = items[i]
                ctx = _merge(*self.edge(op, av, flags, self.first), ctx)
        return "".join(
            self.node(op, av, flags, befores[i], afters[i]) for i, (op, av) in enumerate(items)
        )

    def node(self, op: Any, av: Any, flags: int, before: Any, after: Any) -> str:
        if _simple(op):
            return _emit_set(self.chars(op, av, flags))
        if op is sre.SUBPATTERN:
            return f"(?:{self.sequence(av[3], _scoped(flags, av), before, after)})"
        if op is sre.BRANCH:
            alts = "|".join(self.sequence(alt, flags, before, after) for alt in av[1])
            return f"(?:{alts})"
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            return self.repeat(av, flags, before, after)
        if op is sre.AT:
            return self.at(av, flags, before, after)
        return self.unsupported(op, av)

    def repeat(self, av: Any, flags: int, before: Any, after: Any) -> str:
        """A repetition; lazy ones become greedy (the same strings are found)."""
        low, high, item = av
        unbounded = high == sre.MAXREPEAT
        if low > MAX_REPEAT or (not unbounded and high > MAX_REPEAT):
            self.refuse(
                f"repeats {low if low > MAX_REPEAT else high} times; RE2 allows at most "
                f"{MAX_REPEAT}",
                "use a smaller count, or check the length with another condition",
            )
        if high == 0:
            return ""
        if high > 1 and self.contextual:
            # A later round is preceded by the end of an earlier one, and followed by a start.
            before = _merge(self.last(item, flags)[0], True, before)
            after = _merge(self.first(item, flags)[0], True, after)
        body = self.sequence(item, flags, before, after)
        if unbounded:
            quantifier = {0: "*", 1: "+"}.get(low, f"{{{low},}}")
        elif low == high:
            quantifier = "" if low == 1 else f"{{{low}}}"
        else:
            quantifier = "?" if (low, high) == (0, 1) else f"{{{low},{high}}}"
        return f"(?:{body}){quantifier}"

    def at(self, code: Any, flags: int, before: Any, after: Any) -> str:
        if code is sre.AT_BEGINNING_STRING:
            return r"\A"
        if code is sre.AT_END_STRING:
            return r"\z"
        if code is sre.AT_BEGINNING:
            return "(?m:^)" if flags & _MULTILINE else r"\A"
        if code is sre.AT_END:
            if flags & _MULTILINE:
                return "(?m:$)"
            if after is _INPUT:
                return r"(?:\n?\z)"
            self.refuse(
                "uses $ before more pattern; $ is only supported at the end of the pattern "
                "(or of an alternative at its end)",
                r"move $ to the end, or use \Z, which matches only at the very end of the text",
            )
        if code in (sre.AT_BOUNDARY, sre.AT_NON_BOUNDARY):
            return self.boundary(code is sre.AT_BOUNDARY, flags, before, after)
        return self.unsupported(code)  # pragma: no cover - no other anchors exist

    def boundary(self, wanted: bool, flags: int, before: Any, after: Any) -> str:
        """``\\b`` (``wanted``) or ``\\B`` with Python's Unicode meaning: RE2's own are ASCII."""
        if flags & _ASCII:
            return r"\b" if wanted else r"\B"
        word = _word(flags)
        left, right = _kind(before, word), _kind(after, word)
        if left in ("word", "other") and right in ("word", "other"):
            holds = (left == "word") != (right == "word")
            return "" if holds == wanted else _emit_set(_NONE)
        not_word = f"(?:{_emit_set(_complement(word))}"
        if left == "input" and right in ("word", "other"):
            # Nothing of the pattern precedes: check the input character before the match.
            if (right == "word") == wanted:
                return not_word + r"|\A)"
            return _emit_set(word)
        if right == "input" and left in ("word", "other"):
            if (left == "word") == wanted:
                return not_word + r"|\z)"
            return _emit_set(word)
        name = r"\b" if wanted else r"\B"
        self.refuse(
            f"uses {name} where the pattern does not say which characters are on each side; "
            f"Python's {name} is Unicode-aware and RE2's is ASCII-only",
            rf"put {name} next to letters, digits or other fixed characters "
            rf"(\bdrop\b, \bid=\d+), or start the pattern with (?a) for ASCII word boundaries",
        )

    def unsupported(self, op: Any, av: Any = None) -> NoReturn:
        name = str(op)
        if op in (sre.ASSERT, sre.ASSERT_NOT):
            negative = op is sre.ASSERT_NOT
            behind = av[0] < 0
            form = ("(?<" if behind else "(?") + ("!…)" if negative else "=…)")
            kind = ("negative " if negative else "") + ("look-behind" if behind else "look-ahead")
            self.refuse(f"uses a {kind} {form}, which RE2 does not support", _LOOKAROUND_HINT)
        what, hint = _REFUSED.get(name, (f"uses {name}", _UNSUPPORTED_HINT))
        self.refuse(what, hint)


_LOOKAROUND_HINT = (
    "express the extra test as another condition of the rule (conditions are ANDed: "
    "not_contains, a second regex, or a separate rule)"
)
_REFUSED = {
    "GROUPREF": ("uses a backreference (\\1, (?P=name)), which needs backtracking",
                 _UNSUPPORTED_HINT),
    "GROUPREF_EXISTS": ("uses a conditional group (?(1)…|…), which needs backtracking",
                        _UNSUPPORTED_HINT),
    "ATOMIC_GROUP": ("uses an atomic group (?>…), which RE2 does not support",
                     "write the group without ?>"),
    "POSSESSIVE_REPEAT": ("uses a possessive quantifier (*+, ++, ?+, {m,n}+), which RE2 does "
                          "not support", "drop the trailing + of the quantifier"),
}  # fmt: skip


_STARTS = frozenset({sre.AT_BEGINNING, sre.AT_BEGINNING_STRING})
_ENDS = frozenset({sre.AT_END, sre.AT_END_STRING})


def _scoped(flags: int, av: tuple[Any, int, int, Any]) -> int:
    _group, add, remove, _items = av
    return (flags | add) & ~remove


def _simple(op: Any) -> bool:
    return op in (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN)


def _has_context_anchor(items: Any) -> bool:
    for op, av in items:
        if op is sre.AT and av in (sre.AT_END, sre.AT_BOUNDARY, sre.AT_NON_BOUNDARY):
            return True
        if op is sre.SUBPATTERN and _has_context_anchor(av[3]):
            return True
        if op is sre.BRANCH and any(_has_context_anchor(alt) for alt in av[1]):
            return True
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and _has_context_anchor(av[2]):
            return True
    return False


def _kind(ctx: Any, word: Ranges) -> str:
    if ctx is _INPUT:
        return "input"
    if not isinstance(ctx, tuple) or not ctx:
        return "unknown"
    if _subset(ctx, word):
        return "word"
    if _disjoint(ctx, word):
        return "other"
    return "unknown"


# -- literal fast paths ---------------------------------------------------------------------


def _words(items: Any, flags: int, fold: bool) -> list[str] | None:
    """The finite set of strings ``items`` matches, if it is small and plain text; with
    ``fold`` (the whole pattern ignores case), ASCII text in lower case."""

    def char(code: int, flags: int) -> str | None:
        if bool(flags & _IGNORECASE) is not fold:
            return None  # case ignored in part of the pattern only
        if not fold:
            return chr(code)
        return chr(code).lower() if code < 128 else None

    words = [""]
    for op, av in items:
        if op is sre.LITERAL:
            c = char(av, flags)
            if c is None:
                return None
            options = [c]
        elif op is sre.IN and all(k is sre.LITERAL for k, _ in av):
            options = []
            for _, v in av:
                c = char(v, flags)
                if c is None:
                    return None
                options.append(c)
        elif op is sre.SUBPATTERN:
            found = _words(av[3], _scoped(flags, av), fold)
            if found is None:
                return None
            options = found
        elif op is sre.BRANCH:
            options = []
            for alt in av[1]:
                found = _words(alt, flags, fold)
                if found is None:
                    return None
                options.extend(found)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[1] == 1:
            found = _words(av[2], flags, fold)
            if found is None:
                return None
            options = found + ([""] if av[0] == 0 else [])
        else:
            return None
        words = [w + o for w in words for o in options]
        if len(words) > _MAX_WORDS:
            return None
    return list(dict.fromkeys(words))


_Literal = tuple[str, tuple[str, ...], bool]
"""A plain-text pattern: where its words must be (``exact``, ``exact-line``, ``start``,
``end``, ``end-line`` or ``in``), the words, and whether case is ignored (then the words are
in lower case)."""


def _fast_path(parsed: Any) -> _Literal | None:
    """``parsed`` as plain text, if it is. A pattern that ignores case (``(?i)urgent``) is
    plain text to ASCII text, whose only case pairs are ``A-Z``/``a-z`` under Python's rules;
    other text needs the engine."""
    items = list(parsed)
    flags = parsed.state.flags
    start = False
    end = ""
    anchors = [(sre.AT, sre.AT_BEGINNING_STRING)]
    if not flags & _MULTILINE:
        anchors.append((sre.AT, sre.AT_BEGINNING))
    if items and items[0] in anchors:
        start, items = True, items[1:]
    if items and items[-1] == (sre.AT, sre.AT_END_STRING):
        end, items = "end", items[:-1]
    elif items and items[-1] == (sre.AT, sre.AT_END) and not flags & _MULTILINE:
        end, items = "end-line", items[:-1]
    fold = bool(flags & _IGNORECASE)
    found = _words(items, flags, fold)
    if found is None:
        return None
    if start:
        where = "exact" + end[3:] if end else "start"
    else:
        where = end or "in"
    return where, tuple(found), fold


def _text_test(where: str, words: tuple[str, ...]) -> Callable[[str], bool]:
    """Whether a string has one of ``words`` at ``where``: ``exact``, ``exact-line`` or
    ``end-line`` (see :data:`_Literal`; :func:`_literal_search` tests the other places)."""
    if where == "exact":
        return frozenset(words).__contains__
    if where == "exact-line":
        exact = frozenset(words)
        return lambda s: s in exact or (s[-1:] == "\n" and s[:-1] in exact)
    if where == "end-line":
        return lambda s: s.endswith(words) or (s[-1:] == "\n" and s.endswith(words, 0, len(s) - 1))
    raise ValueError(f"no test for words at {where!r}")


_Words = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[Callable[[str], bool], ...]]
"""The words of plain-text patterns by place: at the start, at the end, anywhere, and a test for
each other place."""


def _literal_words(literals: Iterable[_Literal]) -> _Words:
    """The words of all ``literals``, by place."""
    by_where: dict[str, list[str]] = {}
    for where, words, _ in literals:
        by_where.setdefault(where, []).extend(words)
    starts, ends, ins = (tuple(dict.fromkeys(by_where.pop(w, ()))) for w in ("start", "end", "in"))
    others = tuple(_text_test(where, tuple(dict.fromkeys(w))) for where, w in by_where.items())
    return starts, ends, ins, others


def _literal_search(
    literals: list[_Literal], engine: Callable[[str], bool] | None
) -> Callable[[str], bool]:
    """Whether any of ``literals`` is found; ``engine`` (for those ignoring case) reads the
    text that is not ASCII. The words are tested in one function (no call per place)."""
    folded = [x for x in literals if x[2]]
    groups: tuple[tuple[_Words, Callable[[str], bool] | None], ...] = (
        (_literal_words(x for x in literals if not x[2]), None),
    )
    if folded:
        assert engine is not None
        groups += ((_literal_words(folded), engine),)

    def search(text: str) -> bool:
        for (starts, ends, ins, others), unicode in groups:
            if unicode is not None:  # these words ignore case
                if not text.isascii():
                    return unicode(text)
                text = text.lower()
            if text.startswith(starts) or text.endswith(ends):
                return True
            for word in ins:
                if word in text:
                    return True
            for test in others:
                if test(text):
                    return True
        return False

    return search


# -- compiling ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _engine() -> tuple[Any, Any, Any]:
    """RE2's compiled-pattern class, options and search anchor (imported on first use, so
    ``import heso`` stays light and plain-text patterns never load it)."""
    import re2
    from re2 import _re2

    options = re2.Options()
    options.never_capture = True
    options.log_errors = False
    return _re2.RE2, options, _re2.RE2.Anchor.UNANCHORED


def translate(pattern: str) -> str:
    """The RE2 pattern that finds what ``pattern`` finds under Python's ``re.search``."""
    parsed = _parse(pattern)
    return _Translator(pattern, parsed).sequence(parsed, parsed.state.flags, _INPUT, _INPUT)


def compile_search(pattern: str) -> Callable[[str], bool]:
    """A function telling whether ``pattern`` is found in a string (``re.search`` semantics),
    in time linear in the string. Raises :class:`RegexError` for an invalid pattern or one
    that cannot keep its meaning under RE2."""
    parsed = _parse(pattern)
    fast = _fast_path(parsed)
    if fast is not None and not fast[2]:
        return _literal_search([fast], None)
    translated = _Translator(pattern, parsed).sequence(parsed, parsed.state.flags, _INPUT, _INPUT)
    search = _engine_search(translated)
    if isinstance(search, str):
        raise RegexError(
            f"regular expression {pattern!r} is too large for the linear-time engine ({search})",
            "simplify it: fewer or smaller repetitions, especially of large classes such as \\w",
        )
    if fast is not None:  # case ignored: ASCII text by string methods, the rest by the engine
        return _literal_search([fast], search)
    return search


def compile_search_any(patterns: Iterable[str]) -> Callable[[str], bool]:
    """A function telling whether any of ``patterns`` (each valid for :func:`compile_search`)
    is found in a string; the patterns RE2 runs are joined into one, searched in one pass."""
    unique = list(dict.fromkeys(patterns))
    parsed = [_parse(pattern) for pattern in unique]
    fast = [_fast_path(p) for p in parsed]
    literals = [f for f in fast if f is not None]
    if len(literals) == len(unique):  # plain text: string methods (ASCII text, if case ignored)
        folded = [i for i, f in enumerate(literals) if f[2]]
        if not folded:
            return _literal_search(literals, None)
        engine = _engine_search(_joined([unique[i] for i in folded], [parsed[i] for i in folded]))
        if not isinstance(engine, str):
            return _literal_search(literals, engine)
    joined = _engine_search(_joined(unique, parsed))  # one pass of RE2 for all of them
    tests = [compile_search(p) for p in unique] if isinstance(joined, str) else [joined]
    if len(tests) == 1:
        return tests[0]
    found = tuple(tests)
    return lambda text: any(test(text) for test in found)


def _joined(patterns: list[str], parsed: list[Any]) -> str:
    """One RE2 pattern finding what any of ``patterns`` finds."""
    return "|".join(
        f"(?:{_Translator(pattern, p).sequence(p, p.state.flags, _INPUT, _INPUT)})"
        for pattern, p in zip(patterns, parsed, strict=True)
    )


def _engine_search(translated: str) -> Callable[[str], bool] | str:
    """RE2's unanchored search for a translated pattern, or RE2's error compiling it."""
    engine, options, unanchored = _engine()
    compiled = engine(translated.encode("utf-8"), options)
    if not compiled.ok():
        return str(compiled.error().decode("utf-8", "replace"))
    match = compiled.Match

    def search(text: str) -> bool:
        data = text.encode("utf-8", "surrogatepass")
        start: int = match(unanchored, data, 0, len(data))[0][0]
        return start >= 0

    return search


def _parse(pattern: str) -> Any:
    try:
        re.compile(pattern)
        return sre_parse.parse(pattern)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise RegexError(
            f"invalid regular expression {pattern!r}: {exc.msg}{where}",
            "use Python `re` syntax; in TOML prefer literal strings: value = '^gpt-4\\.\\d'",
        ) from None
    except (RecursionError, OverflowError):
        raise RegexError(
            f"regular expression {pattern!r} is nested too deeply", "simplify the pattern"
        ) from None


__all__ = ["MAX_REPEAT", "RegexError", "compile_search", "compile_search_any", "translate"]
