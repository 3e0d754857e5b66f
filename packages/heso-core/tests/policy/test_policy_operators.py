"""Every operator, including its type edge cases."""

from __future__ import annotations

import re
from decimal import Decimal
from fnmatch import fnmatchcase
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heso import fieldpath
from heso.action import Action, Verb
from heso.policy import DecisionKind, destinations, parse_policy
from heso.policy.destinations import AddressError, _Parser, parse_address_list
from heso.policy.operators import OPERATORS, OperatorValueError, compile_glob, to_number


def check(op: str, value: Any, field: Any) -> bool | None:
    return OPERATORS[op].build(value)(field)


@pytest.mark.parametrize(
    ("value", "field", "expected"),
    [
        ("prod", "prod", True),
        ("prod", "Prod", False),
        (1, 1.0, True),
        (4200, "4200", True),
        (4200, " 4200 ", True),
        (4200.5, "4200.5", True),
        ("4200", 4200, True),
        ("4200", "4200.0", False),  # two strings compare as text
        (True, True, True),
        (True, 1, False),
        (1, True, False),
        (0, False, False),
        (False, "false", False),
        ("a", ["a"], False),
        (1.0, float("nan"), False),
        (4200, Decimal("4200"), True),
        (0.5, Fraction(1, 2), True),
    ],
)
def test_eq(value: Any, field: Any, expected: bool) -> None:
    assert check("eq", value, field) is expected
    assert check("ne", value, field) is (not expected)


@pytest.mark.parametrize(
    ("values", "field", "expected"),
    [
        (["us", "eu"], "eu", True),
        (["us", "eu"], "EU", False),
        ([1, 2, 3], "2", True),
        ([1, 2, 3], 2.0, True),
        (["1", "2"], 2, True),
        ([True], 1, False),
        ([1], True, False),
        ([False, 0], False, True),
        (["a"], ["a"], False),
        (["a"], {"a": 1}, False),
    ],
)
def test_in_and_not_in(values: list[Any], field: Any, expected: bool) -> None:
    assert check("in", values, field) is expected
    assert check("not_in", values, field) is (not expected)


@pytest.mark.parametrize(
    ("op", "bound", "field", "expected"),
    [
        ("gt", 1000, 1001, True),
        ("gt", 1000, 1000, False),
        ("gte", 1000, 1000, True),
        ("lt", 1000, 999.99, True),
        ("lte", 1000, 1000.0, True),
        ("gt", 1000, "4200", True),
        ("gt", 1000, " 4200 ", True),
        ("lt", 0, "-1.5", True),
        ("gt", 999, "1e3", True),
        ("gte", 0.1, "0.1", True),
        ("gte", 0.1, Decimal("0.1"), True),
        ("lte", 0.1, Decimal("0.1"), True),
        ("gt", 10**20, 10**20 + 1, True),
        ("gt", 10**20, str(10**20 + 1), True),
        ("gt", 0, float("inf"), True),
        # not numbers: indeterminate, never a silent pass or fail
        ("gt", 1000, "lots", None),
        ("gt", 1000, "$4200", None),
        ("gt", 1000, "1_000", None),
        ("gt", 1000, "nan", None),
        ("gt", 1000, "inf", None),
        ("gt", 1000, "", None),
        ("gt", 0, True, None),
        ("lt", 1, False, None),
        ("gt", 1000, [5000], None),
        ("gt", 1000, {"v": 5000}, None),
        ("gt", 1000, float("nan"), None),
        ("lte", 1000, Decimal("NaN"), None),
    ],
)
def test_numeric(op: str, bound: Any, field: Any, expected: bool | None) -> None:
    assert check(op, bound, field) is expected


def test_to_number() -> None:
    assert to_number("4200") == 4200 and isinstance(to_number("4200"), int)
    assert to_number("-0.25") == -0.25
    assert to_number(Fraction(3, 4)) == 0.75
    assert to_number(True) is None
    assert to_number("0x10") is None
    assert to_number(None) is None


@pytest.mark.parametrize(
    ("pattern", "field", "expected"),
    [
        ("^gpt-4", "gpt-4o", True),
        ("^gpt-4", "my-gpt-4", False),
        ("gpt-4", "my-gpt-4", True),  # search: found anywhere
        ("^gpt-4$", "gpt-4o", False),
        ("(?i)^GPT", "gpt-4", True),
        (r"\d{3}", "abc123", True),
        ("^a", 123, None),
        ("^a", ["a"], None),
    ],
)
def test_regex_searches(pattern: str, field: Any, expected: bool | None) -> None:
    assert check("regex", pattern, field) is expected


def test_regex_is_compiled_once_at_build(monkeypatch: pytest.MonkeyPatch) -> None:
    test = OPERATORS["regex"].build("^gpt-4")

    def no_compile(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("compiled during evaluation")

    monkeypatch.setattr(re, "compile", no_compile)
    monkeypatch.setattr(re, "search", no_compile)
    assert test("gpt-4o") is True


def test_invalid_regex_is_rejected_at_build() -> None:
    with pytest.raises(OperatorValueError, match="invalid regular expression"):
        OPERATORS["regex"].build("[unclosed")


@pytest.mark.parametrize(
    ("value", "field", "expected"),
    [
        ("secret", "top secret plan", True),
        ("secret", "Top Secret", False),
        ("a", ["a", "b"], True),
        (2, [1, 2, 3], True),
        (2, ["2"], True),
        (1, [True], False),
        ("c", ["a", None], False),
        ("key", {"key": 1}, True),
        ("nope", {"key": 1}, False),
        ("1", 12, None),
        (5, "a5", None),
        (5, {"5": 1}, None),
    ],
)
def test_contains(value: Any, field: Any, expected: bool | None) -> None:
    assert check("contains", value, field) is expected
    assert check("not_contains", value, field) is (None if expected is None else not expected)


@pytest.mark.parametrize(
    ("op", "value", "field", "expected"),
    [
        ("starts_with", "http://", "http://x", True),
        ("starts_with", "http://", "https://x", False),
        ("starts_with", ["a", "b"], "bcd", True),
        ("starts_with", "1", 123, None),
        ("ends_with", "@example.com", "bob@example.com", True),
        ("ends_with", "@example.com", "bob@example.com.evil", False),
        ("ends_with", [".pdf", ".doc"], "x.doc", True),
        ("ends_with", "x", ["x"], None),
    ],
)
def test_starts_and_ends_with(op: str, value: Any, field: Any, expected: bool | None) -> None:
    assert check(op, value, field) is expected


@pytest.mark.parametrize(
    ("value", "field", "expected"),
    [
        ("*.pdf", "report.pdf", True),
        ("*.pdf", "report.PDF", False),
        ("report-?.csv", "report-1.csv", True),
        ("report-?.csv", "report-10.csv", False),
        ("[abc]*", "beta", True),
        ("[!abc]*", "beta", False),
        (["*.pdf", "*.csv"], "x.csv", True),
        ("*", "", True),
        ("/tmp/*", "/tmp/a/b", True),  # * crosses slashes
        ("*.pdf", 5, None),
    ],
)
def test_glob(value: Any, field: Any, expected: bool | None) -> None:
    assert check("glob", value, field) is expected


@pytest.mark.parametrize(
    ("value", "field", "inside", "outside"),
    [
        ("example.com", "a@example.com", True, False),
        ("example.com", "A <A@EXAMPLE.COM>", True, False),
        (["example.com"], "a@example.com, b@evil.example", False, True),
        (["example.com"], '"a@example.com" <b@evil.example>', False, True),
        (["example.com"], "b@evil.example (a@example.com)", False, True),
        (["example.com", "example.org"], ["a@example.com", "b@example.org"], True, False),
        (["example.com"], ["a@example.com", "b@evil.example"], False, True),
        (["example.com"], "team: a@example.com, b@evil.example;", False, True),
        (["example.com"], "a@sub.example.com", False, True),
        (["*.example.com"], "a@sub.example.com", True, False),
        (["*.example.com"], "a@example.com", False, True),
        (["example.com"], "a@example.com.evil.example", False, True),
        (["example.com"], "a@[192.0.2.1]", False, True),
        (["example.com"], "", None, False),  # no recipient: "every" never holds vacuously
        (["example.com"], [], None, False),
        (["example.com"], "a@example.com,", None, None),  # not an address list
        (["example.com"], "a@example.com\nb@evil.example", None, None),
        (["example.com"], [{"email": "a@example.com"}], None, None),
        (["example.com"], 5, None, None),
    ],
)
def test_email_domains(value: Any, field: Any, inside: bool | None, outside: bool | None) -> None:
    assert check("email_domain_in", value, field) is inside
    assert check("email_domain_not_in", value, field) is outside


@pytest.mark.parametrize(
    ("value", "field", "expected"),
    [
        ("https", "https://x", True),
        ("https", "HTTPS://x", True),
        (["https"], "http://x", False),
        (["https"], "HTTP://x", False),
        (["https", "wss"], "  wss://x", True),
        (["https"], "ht\ttps://x", True),
        (["https"], "https:x", True),
        (["https"], "/relative", None),
        (["https"], "//host/x", None),
        (["https"], 5, None),
    ],
)
def test_url_schemes(value: Any, field: Any, expected: bool | None) -> None:
    assert check("url_scheme_in", value, field) is expected
    assert check("url_scheme_not_in", value, field) is (None if expected is None else not expected)


@pytest.mark.parametrize(
    ("op", "value", "message", "hint"),
    [
        ("email_domain_in", "@example.com", "lists domains, not addresses", '"example.com"'),
        ("email_domain_in", "a@example.com", "lists domains, not addresses", '"example.com"'),
        ("email_domain_not_in", "exa mple.com", "needs domains", "*.example.com"),
        ("email_domain_in", [], "at least one", None),
        ("email_domain_in", 5, "string or an array", None),
        ("url_scheme_in", "https://", "needs URL schemes", 'value = "https"'),
        ("url_scheme_not_in", ["http:"], "needs URL schemes", 'value = "http"'),
    ],
)
def test_destination_operators_reject_bad_values(
    op: str, value: Any, message: str, hint: str | None
) -> None:
    with pytest.raises(OperatorValueError, match=re.escape(message)) as info:
        OPERATORS[op].build(value)
    if hint:
        assert hint in (info.value.hint or "")


POLICY = """
[policy]
default = "allow"

[[rule]]
id = "r"
verb = "tool_call"
conditions = [{{ field = "{field}", op = "{op}"{value} }}]
decision = "block"
"""


def decide(op: str, value: str, fields: dict[str, Any], field: str = "x") -> DecisionKind:
    text = POLICY.format(field=field, op=op, value=f", value = {value}" if value else "")
    return parse_policy(text).evaluate(Action(Verb.TOOL_CALL, "t", fields)).kind


ALL_VALUED = [
    ("eq", '"a"'),
    ("ne", '"a"'),
    ("in", '["a"]'),
    ("not_in", '["a"]'),
    ("lt", "1"),
    ("lte", "1"),
    ("gt", "1"),
    ("gte", "1"),
    ("regex", '"a"'),
    ("contains", '"a"'),
    ("not_contains", '"a"'),
    ("starts_with", '"a"'),
    ("ends_with", '"a"'),
    ("glob", '"a*"'),
    ("email_domain_in", '["example.com"]'),
    ("email_domain_not_in", '["example.com"]'),
    ("url_scheme_in", '["https"]'),
    ("url_scheme_not_in", '["https"]'),
    ("exists", ""),
]


@pytest.mark.parametrize(("op", "value"), ALL_VALUED)
@pytest.mark.parametrize("fields", [{}, {"x": None}, {"y": 1}])
def test_missing_or_null_field_never_matches(op: str, value: str, fields: dict[str, Any]) -> None:
    assert decide(op, value, fields) is DecisionKind.ALLOW


@pytest.mark.parametrize("fields", [{}, {"x": None}, {"x": {"y": None}}])
def test_missing_matches_absent_or_null(fields: dict[str, Any]) -> None:
    assert decide("missing", "", fields, field="x.y") is DecisionKind.BLOCK


@pytest.mark.parametrize("present", [0, "", False, [], {}])
def test_exists_counts_falsy_values_as_present(present: Any) -> None:
    assert decide("exists", "", {"x": present}) is DecisionKind.BLOCK
    assert decide("missing", "", {"x": present}) is DecisionKind.ALLOW


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("customer.email", {"customer": {"email": "a"}}),
        ("messages.1.role", {"messages": [{"role": "x"}, {"role": "a"}]}),
        ('headers["x.api-key"]', {"headers": {"x.api-key": "a"}}),
        ("items.1", {"items": ["z", "a"]}),
    ],
)
def test_nested_paths(path: str, fields: dict[str, Any]) -> None:
    assert decide("eq", '"a"', fields, field=path.replace('"', '\\"')) is DecisionKind.BLOCK


def test_path_through_a_scalar_is_missing() -> None:
    assert decide("exists", "", {"customer": "plain"}, field="customer.email") is DecisionKind.ALLOW
    assert decide("exists", "", {"items": ["a"]}, field="items.3") is DecisionKind.ALLOW


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet="ab*?", min_size=1, max_size=6) | st.sampled_from(["[ab]*", "*[!a]", "a[b"]),
    st.text(alphabet="ab.", max_size=6),
)
def test_glob_fast_paths_agree_with_fnmatch(pattern: str, name: str) -> None:
    assert compile_glob(pattern)(name) is fnmatchcase(name, pattern)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet='ab@.,;:<>()"\\[] \t\r\n\u00e9\u00a0x-', max_size=40)
    | st.lists(st.text(alphabet="ab@.,; <>", max_size=12), max_size=3)
)
def test_address_lists_never_crash_and_in_never_passes_what_not_in_flags(field: Any) -> None:
    inside = check("email_domain_in", ["a.b", "b"], field)
    outside = check("email_domain_not_in", ["a.b", "b"], field)
    assert inside in (True, False, None) and outside in (True, False, None)
    if inside is True:
        assert outside is False


# -- building blocks of the fast paths -----------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab.@-_+\"' <>(),;:[]\\\tAé", max_size=14))
def test_a_plain_address_is_read_as_the_full_parser_reads_it(text: str) -> None:
    try:
        expected: Any = _Parser(text).address_list()
    except AddressError:
        expected = AddressError
    try:
        found: Any = parse_address_list(text)
    except AddressError:
        found = AddressError
    assert found == expected


PATHS = ["a", "a.b", "a.0", "a.b.c", '["x.y"].b', "0", "a.-1"]
NESTED = st.recursive(
    st.sampled_from([None, 1, "s", True]),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "c", "x.y", "0"]), inner, max_size=3),
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PATHS), NESTED)
def test_a_compiled_field_path_reads_what_the_plain_one_reads(path: str, obj: Any) -> None:
    segments = fieldpath.parse(path)
    assert fieldpath.compile_get(segments)(obj) == fieldpath.get(obj, segments)


# -- remembered address readings decide as the full parser does --------------------------------

HOSTILE_ADDRESS = st.one_of(
    st.text(
        alphabet='ab@.,;:<>()"\\[] \t\r\n%+-xX\u00e9\u0131\u3002\uff0e\u2024\u00a0\u200b\u212a',
        max_size=30,
    ),
    st.sampled_from(
        [
            "a@b.a.b",
            "a@A.B",
            "a@b.",
            "a@b..b",
            "a@xn--bcher-kva.b",
            "a@b\u00fccher.b",
            "a@b\u3002b",
            "a%40b@b",
            "a@b%2eb",
            "user:pw@b",
            "a@[IPv6:::1]",
            "a@[192.0.2.1]",
            '"a@b" <c@evil.b>',
            "x: a@b, c@a.b;",
            "a@b (comment) ",
            "a@" + "b." * 200 + "b",
            "a" * 400 + "@b",
        ]
    ),
)


def _old_domain_test(negated: bool, value: list[str]) -> Any:
    """The email-domain tests as written before their readings were remembered."""
    exact = {d.lower() for d in value if not d.startswith("*.")}
    suffixes = tuple(d[1:].lower() for d in value if d.startswith("*."))

    def test(x: Any) -> bool | None:
        found = recipients_by_parser(x)
        if negated:
            if found is None:
                return None
            return any(not (m.domain in exact or m.domain.endswith(suffixes)) for m in found)
        if not found:
            return None
        return all(m.domain in exact or m.domain.endswith(suffixes) for m in found)

    return test


def recipients_by_parser(value: Any) -> list[Any] | None:
    items = value if isinstance(value, (list, tuple)) else [value]
    found: list[Any] = []
    for item in items:
        if type(item) is not str:
            return None
        try:
            found.extend(_Parser(item).address_list())
        except AddressError:
            return None
    return found


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        HOSTILE_ADDRESS,
        st.lists(HOSTILE_ADDRESS, max_size=3),
        st.sampled_from([None, 1, ["a@b", 2], ("a@b",), {"a@b": 1}]),
    ),
    st.lists(st.sampled_from(["b", "a.b", "*.b", "*.a.b", "B", "xn--bcher-kva.b"]), min_size=1),
)
def test_remembered_address_readings_decide_as_the_parser(field: Any, value: list[str]) -> None:
    for _ in range(2):  # read, then remembered
        for op, negated in (("email_domain_in", False), ("email_domain_not_in", True)):
            assert check(op, value, field) is _old_domain_test(negated, value)(field)
        expected = recipients_by_parser(field)
        assert destinations.recipients(field) == expected
        domains = destinations.recipient_domains(field)
        assert domains == (None if expected is None else {m.domain for m in expected})


def test_remembered_readings_are_bounded_against_endless_distinct_addresses() -> None:
    destinations._read.cache_clear()
    for i in range(3 * destinations._MEMO_SIZE):
        assert destinations.recipient_domains(f"user{i}@host{i}.example") == {f"host{i}.example"}
    assert destinations._read.cache_info().currsize == destinations._MEMO_SIZE
    long = "a" * destinations._MEMO_TEXT + "@b.example"
    hits = destinations._read.cache_info()
    assert destinations.recipient_domains(long) == {"b.example"}
    assert destinations._read.cache_info() == hits  # too long to be remembered
