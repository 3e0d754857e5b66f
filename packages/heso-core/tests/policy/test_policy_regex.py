"""Policy regexes: linear time on hostile input, Python's meaning kept, the rest refused."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heso.policy import PolicyConfigError, parse_policy
from heso.policy.operators import OPERATORS, OperatorValueError
from heso.policy.regex import RegexError, compile_search, compile_search_any, translate

BACKTRACKING = textwrap.dedent(
    """
    from heso.action import Action, Verb
    from heso.policy import parse_policy

    policy = parse_policy('''
    [policy]
    default = "allow"

    [[rule]]
    id = "no-runs-of-a"
    verb = "tool_call"
    conditions = [{ field = "q", op = "regex", value = '^(a+)+$' }]
    decision = "block"

    [[rule]]
    id = "no-words"
    verb = "tool_call"
    conditions = [{ field = "q", op = "regex", value = '^(\\w+\\s?)*$' }]
    decision = "block"
    ''')
    evil = "a" * 40 + "!"
    print(policy.evaluate(Action(Verb.TOOL_CALL, "search", {"q": evil})).kind.value)
    print(policy.evaluate(Action(Verb.TOOL_CALL, "search", {"q": "a" * 40})).kind.value)
    print(policy.evaluate(Action(Verb.TOOL_CALL, "search", {"q": "ab cd" * 8 + "!"})).kind.value)
    """
)


def test_a_backtracking_pattern_on_agent_input_does_not_hang_the_gate() -> None:
    """Python's ``re`` needs ~2**40 steps for these inputs (hours); the gate must answer."""
    done = subprocess.run(
        [sys.executable, "-c", BACKTRACKING], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["allow", "block", "allow"]


# -- the meaning of every supported construct is Python's --------------------------------

PATTERNS = [
    "",
    "^gpt-4",
    "gpt-4",
    "^gpt-4$",
    "(?i)^GPT",
    r"\d{3}",
    r"(?i)\b(drop|truncate)\s+table\b",
    "^(gpt-4|o1)",
    "https?://",
    "a$",
    r"a\Z",
    r"\Aab",
    "(a|b)$",
    "a$|^b",
    "(?m)^b$",
    "(?m)a$",
    r"(?m)^\s*$",
    "(?s)a.b",
    "a.b",
    "[^a-z]",
    r"[\w.-]+@[\w-]+\.\w+",
    r"\W",
    r"\S+",
    r"\D",
    r"[\s\d]",
    r"[^\s\d]",
    r"[\W\d]",
    r"[^\W\d]",
    "(?i)k",
    "(?i)i",
    "(?i)s",
    "(?i)[a-f]+",
    "(?i)[^k]",
    "(?ai)k",
    "(?ai)[^s]",
    r"(?a)\w+",
    r"(?a)\bab\b",
    r"(?a)a\Bb",
    r"\bé",
    r"é\b",
    r"\bk",
    r"\B_",
    r"x\b y",
    r"a\Bb",
    r"a\bb",
    r"(\w\b)+x",
    r"\b\d+\b",
    r"^\bab",
    "x*?y",
    "(?P<n>ab)+",
    "a{2,3}",
    "(ab|cd){2}",
    "(?:a|)b",
    "^$",
    r"(?x) a \s b  # spaced",
    r"\A\d",
    "[\u00e0-\u00ff]",
    "(?i)\u00e9",
    "(?i:a)B",
    "(?i)(?-i:a)b",
    r"\n$",
    r"[.]\Z",
    "a{0}b",
    "(a?){2,}b",
    "\u0130|\u0131",
    "(?i)^sk",
    "(?i)ki|ab",
    "(?i)is$",
    "(?i)^[ab]s$",
    r"(?i)i\Z",
    "(?i)\u212a",
    "(?i)a(?-i:b)",
    "(?i)(a|sb)?k",
    "(?im)^s",
]

ALPHABET = "aAbBkKsSiIé É_0 9\n\t\u00a0\u0130\u0131\u017f\u212a\u0660\u2028.-@xyzy\ud800"


@pytest.mark.parametrize("pattern", PATTERNS)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(alphabet=ALPHABET, max_size=12))
def test_every_supported_pattern_finds_what_python_finds(pattern: str, text: str) -> None:
    expected = re.search(pattern, text) is not None
    assert _compiled(pattern)(text) is expected, translate(pattern)


@functools.cache
def _compiled(pattern: str) -> Callable[[str], bool]:
    return compile_search(pattern)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("^gpt-4$", "gpt-4\n", True),  # $ also matches before a final newline, as in Python
        (r"^gpt-4\Z", "gpt-4\n", False),
        (r"\d+", "\u0663\u0664", True),  # Unicode digits are digits, as in Python
        (r"drop\s+table", "drop\u00a0table", True),  # so are Unicode spaces
        ("(?i)kelvin", "\u212aelvin", True),
        (r"\bdrop\b", "\u00e9drop", False),  # a Unicode word boundary: é is a letter
        (r"\bdrop\b", "-drop-", True),
        (r"(?a)\bdrop\b", "\u00e9drop", True),  # under (?a) é is not a word character
        ("a.b", "a\ud800b", True),  # a lone surrogate is one character
        (r"^\bab", ".ab", False),  # an anchor, not a character, precedes the boundary
        (r"^\bab", "ab", True),
        (r"ab\b$", "ab.", False),
        (r"ab\b$", "ab\n", True),
        (r"(?m)^\bab", "x\nab", True),
    ],
)
def test_python_meaning_in_the_cases_where_re2_alone_differs(
    pattern: str, text: str, expected: bool
) -> None:
    assert (re.search(pattern, text) is not None) is expected
    assert compile_search(pattern)(text) is expected


# -- what cannot keep its meaning in linear time is refused at load ---------------------

REFUSED = [
    (r"(a)\1", "backreference"),
    ("(?P<q>a)(?P=q)", "backreference"),
    ("a(?=b)", "look-ahead"),
    ("(?<=a)b", "look-behind"),
    ("a(?!b)", "negative look-ahead"),
    ("(a)?(?(1)b|c)", "conditional group"),
    ("x{1001}", "at most 1000"),
    ("x{2000,}", "at most 1000"),
    ("a$b", "$ is only supported at the end"),
    ("(a$)+", "$ is only supported at the end"),
    (r"\b.", r"\b where the pattern does not say"),
    (r"(a|-)\b", r"\b where the pattern does not say"),
    (r"\B", r"\B where the pattern does not say"),
    (r"\w{1000}\w{1000}\w{1000}\w{1000}\w{1000}\w{1000}", "too large"),
]
if sys.version_info >= (3, 11):
    REFUSED += [("(?>a+)b", "atomic group"), ("a*+b", "possessive quantifier")]


@pytest.mark.parametrize(("pattern", "reason"), REFUSED)
def test_patterns_that_need_backtracking_are_refused_with_a_hint(pattern: str, reason: str) -> None:
    with pytest.raises(RegexError) as info:
        compile_search(pattern)
    assert reason in str(info.value)
    assert repr(pattern) in str(info.value)
    assert info.value.hint
    with pytest.raises(OperatorValueError, match=re.escape(reason)):
        OPERATORS["regex"].build(pattern)


def test_a_refused_pattern_names_the_file_line_pattern_and_fix() -> None:
    text = textwrap.dedent(
        """
        [[rule]]
        id = "r"
        verb = "tool_call"
        decision = "block"
        conditions = [
          { field = "q", op = "regex", value = '(\\w+)\\1' },
        ]
        """
    ).lstrip()
    with pytest.raises(PolicyConfigError) as info:
        parse_policy(text, path="team/heso.toml")
    error = info.value
    assert (error.path, error.line, error.key) == (
        "team/heso.toml",
        6,
        "rule[0].conditions[0].value",
    )
    assert "backreference" in error.message and "'(\\\\w+)\\\\1'" in error.message
    assert error.hint and "linear time" in error.hint
    assert str(error).startswith("team/heso.toml:6:")


def test_plain_and_anchored_text_patterns_skip_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Literal patterns are matched with str methods: no RE2 call on the hot path."""
    from heso.policy import regex

    def no_engine(*args: object) -> None:
        raise AssertionError("compiled for RE2")

    monkeypatch.setattr(regex, "_engine", lambda: (no_engine, None, None))
    for pattern in ("^gpt-4", "^(gpt-4|claude-3)", "https?://", "gpt", "^a$", r"x\Z", "(a|b)c$"):
        assert compile_search(pattern)("xx") is (re.search(pattern, "xx") is not None)
    with pytest.raises(AssertionError, match="compiled for RE2"):
        compile_search(r"^\d")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    patterns=st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=6),
    text=st.text(alphabet=ALPHABET, max_size=12),
)
def test_searching_several_patterns_at_once_finds_what_each_finds(
    patterns: list[str], text: str
) -> None:
    expected = any(re.search(p, text) is not None for p in patterns)
    assert compile_search_any(patterns)(text) is expected


def test_case_ignoring_text_patterns_read_ascii_text_without_the_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``(?i)`` plain text is matched by string methods on ASCII text (whose only case pairs
    are A-Z/a-z); any other text still goes to RE2, where Kelvin signs and long s's match."""
    from heso.policy import regex

    calls: list[str] = []
    real = regex._engine_search

    def counted(translated: str) -> Callable[[str], bool] | str:
        search = real(translated)
        assert not isinstance(search, str)
        return lambda text: calls.append(text) or search(text)

    monkeypatch.setattr(regex, "_engine_search", counted)
    urgent = compile_search("(?i)^(urgent|wire transfer)")
    assert [urgent(t) for t in ("URGENT: pay", "WIRE Transfer now", "not urgent")] == [
        True,
        True,
        False,
    ]
    assert calls == []
    assert urgent("wire tran\u017ffer") is True  # non-ASCII text: the engine (a long s)
    assert compile_search("(?i)kelvin")("\u212aelvin") is True
    assert calls == ["wire tran\u017ffer", "\u212aelvin"]
