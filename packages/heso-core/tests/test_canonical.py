"""heso.canonical: conversion rules, RFC 8785 bytes (against the independent rfc8785 package)
and strict parsing."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
import struct
import subprocess
import sys
import types
from collections import OrderedDict, deque, namedtuple
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any
from uuid import UUID

import blake3
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from heso import canonical
from heso.canonical import (
    MAX_DEPTH,
    MAX_PARSE_DEPTH,
    MAX_SAFE_INTEGER,
    canonical_bytes,
    format_number,
    loads_canonical,
    loads_strict,
    to_json_value,
)
from heso.errors import CanonicalizationError

SPEC = Path(__file__).resolve().parents[3] / "docs" / "spec" / "canonical.md"


def jcs(value: Any) -> bytes:
    """The independent reference implementation."""
    return rfc8785.dumps(value)


def nested(depth: int) -> list[Any]:
    root: list[Any] = []
    node = root
    for _ in range(depth - 1):
        child: list[Any] = []
        node.append(child)
        node = child
    return root


# --------------------------------------------------------------------------- numbers

# RFC 8785 Appendix B: IEEE 754 bit pattern → ECMAScript text.
RFC8785_NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "text"), RFC8785_NUMBERS)
def test_rfc8785_appendix_b_numbers(bits: str, text: str) -> None:
    x = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert format_number(x) == text
    assert canonical_bytes(x) == text.encode()
    assert canonical_bytes([x]) == f"[{text}]".encode()
    assert canonical_bytes({"k": x}) == f'{{"k":{text}}}'.encode()
    assert canonical_bytes(to_json_value({"k": x})) == f'{{"k":{text}}}'.encode()
    assert canonical_bytes(loads_strict(f"[{text}]")) == f"[{text}]".encode()


NUMBERS = [
    0,
    1,
    -1,
    0.0,
    -0.0,
    1.0,
    -3.0,
    100.0,
    0.1,
    -0.5,
    19.99,
    123.456,
    1e-4,
    1.5e-4,
    9.9e-5,
    1e-5,
    1e-6,
    1e-7,
    1.5e-7,
    -1.5e-9,
    1e-27,
    5e-324,
    2.2250738585072014e-308,
    1e15,
    1e15 + 0.5,
    1e16,
    1e20,
    1e21,
    1.5e21,
    1e22,
    1e300,
    1.7976931348623157e308,
    2**53 - 1,
    -(2**53 - 1),
    2.0**53,
    2.0**60,
    -(2.0**60),
    float(2**53 - 1),
    333333333.33333329,
    4.35,
    0.30000000000000004,
]


@pytest.mark.parametrize("x", NUMBERS, ids=repr)
def test_numbers_match_rfc8785(x: float) -> None:
    for value in (x, [x], {"n": x}, {"a": [1, {"b": x}], "c": "x"}):
        assert canonical_bytes(value) == jcs(value)
        assert canonical_bytes(to_json_value(value)) == jcs(value)
        assert canonical_bytes(loads_strict(jcs(value))) == jcs(value)


def test_every_float_takes_the_right_path_inside_a_large_document() -> None:
    doc = {f"k{i:03d}": f"value {i}" for i in range(200)}
    for x in (3.0, 1e-7, 1e16, -0.0, 2.0**60, 0.25):
        doc["x"] = x
        assert canonical_bytes(doc) == jcs(doc)


@pytest.mark.parametrize(
    "text",
    [
        "x:1.0,",
        "[1e-07]",
        "a,-2.0}",
        "9b2f6c1e-2d4a-4c55-9a2e-0f3b1d7c8e21",
        "e-5, 1.0] {:3e+16}",
        "version 1.0",
        "1e-07",
    ],
)
def test_number_like_strings_are_serialized_exactly(text: str) -> None:
    for value in ({"s": text}, [text, 1.5], {"n": 2, text: [text]}):
        assert canonical_bytes(value) == jcs(value)


def test_format_number_rejects_non_finite() -> None:
    for x in (math.nan, math.inf, -math.inf):
        with pytest.raises(CanonicalizationError, match="not a finite number"):
            format_number(x)


# --------------------------------------------------------------------------- strings and keys


def test_rfc8785_sorting_example() -> None:
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    out = canonical_bytes(value)
    assert out == jcs(value)
    order = [k for k in json.loads(out)]
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_astral_keys_sort_by_utf16_even_deep_inside() -> None:
    value = {"z": [{"\uffff": 1, "\U00010000": 2, "\ue000": 3}], "a": "😀 in a value"}
    assert canonical_bytes(value) == jcs(value)
    assert list(json.loads(canonical_bytes(value))["z"][0]) == ["\U00010000", "\ue000", "\uffff"]


def test_astral_characters_only_in_values_keep_code_point_order() -> None:
    value = {"b": "😀", "a": ["𝄞", {"c": "\U0010ffff"}], "\ufb33": 1}
    assert canonical_bytes(value) == jcs(value)


def test_string_escapes() -> None:
    text = "".join(chr(c) for c in range(0x30)) + "\x7f\u2028\u2029/\\\"'é€😀"
    for value in (text, [text], {text: text}):
        assert canonical_bytes(value) == jcs(value)
    assert canonical_bytes("\x00\x1f\b\f\n\r\t") == b'"\\u0000\\u001f\\b\\f\\n\\r\\t"'
    assert canonical_bytes("/\x7f") == b'"/\x7f"'


@pytest.mark.parametrize(
    "value",
    ["\ud800", ["ok", "a\udfffb"], {"k": {"x": "\ud83d"}}, {"\udc00": 1}],
    ids=repr,
)
def test_lone_surrogates_never_become_bytes(value: Any) -> None:
    with pytest.raises(CanonicalizationError, match="lone surrogate"):
        canonical_bytes(value)
    with pytest.raises(CanonicalizationError, match="lone surrogate"):
        to_json_value(value)


def test_lone_surrogate_error_names_the_path() -> None:
    with pytest.raises(CanonicalizationError, match=r"value\.k\.x \(str\)"):
        canonical_bytes({"k": {"x": "a\ud83d"}})
    with pytest.raises(CanonicalizationError, match=r"fields\.k\.x \(str\).*U\+D83D at index 1"):
        to_json_value({"k": {"x": "a\ud83d"}})


# --------------------------------------------------------------------------- whole documents


def test_rfc8785_section_3_2_4_example() -> None:
    text = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], '
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", '
        '"literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    ).encode()
    assert canonical_bytes(loads_strict(text)) == expected
    assert canonical_bytes(loads_strict(text.encode())) == expected


def test_top_level_scalars_and_containers() -> None:
    for value in (None, True, False, 0, -7, 1.5, "é", [], {}, (1, "a"), [[], {}]):
        assert canonical_bytes(value) == jcs(value)


def test_tuples_and_dict_subclasses_are_arrays_and_objects() -> None:
    value = OrderedDict([("b", (1, 2)), ("a", [3.0])])
    assert canonical_bytes(value) == b'{"a":[3],"b":[1,2]}'
    assert canonical_bytes(types.MappingProxyType({"b": 1, "a": 2})) == b'{"a":2,"b":1}'


def test_canonical_bytes_refuses_what_is_not_json() -> None:
    cases: list[tuple[Any, str]] = [
        ({"a": {1, 2}}, r"value\.a \(set\)"),
        ({"a": [datetime(2020, 1, 1)]}, r"value\.a\.0 \(datetime\.datetime\)"),
        ({"a": float("nan")}, r"value\.a \(float\): nan is not a finite number"),
        ([1, {"b": math.inf}], r"value\.1\.b \(float\)"),
        ({"a": [2**60, 1e-7]}, r"value\.a\.0 \(int\).*outside"),
        ({"x": {1: "a", "b": 2}}, r"value\.x \(dict\): the key 1 is of type int"),
        (object(), r"value \(object\)"),
    ]
    for value, message in cases:
        with pytest.raises(CanonicalizationError, match=message):
            canonical_bytes(value)


def test_canonical_bytes_refuses_cycles() -> None:
    cyclic: dict[str, Any] = {}
    cyclic["self"] = [cyclic]
    with pytest.raises(CanonicalizationError, match="cycle"):
        canonical_bytes(cyclic)


def test_canonical_bytes_is_stable_for_equal_values_in_any_order() -> None:
    a = {"b": [1, {"y": 2, "x": "é"}], "a": None}
    b = {"a": None, "b": [1, {"x": "é", "y": 2}]}
    assert canonical_bytes(a) == canonical_bytes(b) == b'{"a":null,"b":[1,{"x":"\xc3\xa9","y":2}]}'


# --------------------------------------------------------------------------- property tests

KEY_CHARS = st.sampled_from(
    ["a", "b", "Z", "1", "\x00", "\t", '"', "\\", "é", "€", "\ue000", "\uffff", "\ufb33",
     "\U00010000", "\U0001f600", "\U0010ffff", "\u2028"]
)  # fmt: skip
KEYS = st.one_of(st.text(max_size=6), st.text(KEY_CHARS, max_size=4))
NUMBERS_ST = st.one_of(
    st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 5e-324, 1e21, 1e-7, 1e-6, 1e16, 2.0**53, float(2**53 - 1)]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS_ST, st.text())
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_canonical_bytes_matches_rfc8785(value: Any) -> None:
    expected = jcs(value)
    assert canonical_bytes(value) == expected
    assert canonical._full_bytes(value) == expected  # the complete serializer agrees alone


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_round_trips_through_loads_strict(value: Any) -> None:
    expected = jcs(value)
    parsed = loads_strict(expected)
    assert canonical_bytes(parsed) == expected
    assert parsed == to_json_value(value)
    # Any JSON spelling of the value: spaces, \u escapes, surrogate pairs for astral chars.
    assert canonical_bytes(loads_strict(json.dumps(value))) == expected
    assert canonical_bytes(loads_strict(json.dumps(value, ensure_ascii=False).encode())) == (
        expected
    )


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_to_json_value_is_idempotent_and_keeps_json(value: Any) -> None:
    converted = to_json_value(value)
    assert converted == value
    assert to_json_value(converted) == converted
    assert canonical_bytes(converted) == jcs(value)


# --------------------------------------------------------------------------- conversion rules


class Color(str, enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Pair(enum.Enum):
    AB = ("a", 2.0)


class Opaque(enum.Enum):
    X = object()


def test_scalars_are_returned_as_exact_json_types() -> None:
    class MyStr(str):
        def __str__(self) -> str:
            return "not me"

    class MyInt(int):
        pass

    class MyFloat(float):
        pass

    out = to_json_value(
        {"s": MyStr("abc"), "i": MyInt(5), "f": MyFloat(0.5), "b": True, "n": None, "x": 7}
    )
    assert out == {"s": "abc", "i": 5, "f": 0.5, "b": True, "n": None, "x": 7}
    assert [type(v) for v in out.values()] == [str, int, float, bool, type(None), int]


def test_floats_are_normalized() -> None:
    out = to_json_value([3.0, -0.0, 0.5, 2.0**53, 1e300, float(MAX_SAFE_INTEGER), 1e-7])
    assert out == [3, 0, 0.5, 2.0**53, 1e300, MAX_SAFE_INTEGER, 1e-7]
    assert [type(v) for v in out] == [int, int, float, float, float, int, float]
    assert math.copysign(1, out[1]) == 1


@pytest.mark.parametrize("x", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_refused(x: float) -> None:
    with pytest.raises(CanonicalizationError, match=r"fields\.x \(float\).*replace it with null"):
        to_json_value({"x": x})


def test_integer_range() -> None:
    assert to_json_value([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]) == [
        MAX_SAFE_INTEGER,
        -MAX_SAFE_INTEGER,
    ]
    for n in (2**53, -(2**53), 10**30):
        with pytest.raises(CanonicalizationError, match=r"fields\.n \(int\).*str\(value\)"):
            to_json_value({"n": n})


def test_enums_convert_to_their_values() -> None:
    out = to_json_value({"c": Color.RED, "l": Level.HIGH, "p": Pair.AB})
    assert out == {"c": "red", "l": 3, "p": ["a", 2]}
    assert type(out["c"]) is str and type(out["l"]) is int
    with pytest.raises(CanonicalizationError, match=r"fields\.o \(object\)"):
        to_json_value({"o": Opaque.X})


def test_mappings_keys_and_order() -> None:
    proxy = types.MappingProxyType({"b": 1, "a": {"c": (1, 2)}})
    out = to_json_value({"m": proxy, Color.RED: "enum key"})
    assert out == {"m": {"b": 1, "a": {"c": [1, 2]}}, "red": "enum key"}
    assert list(out["m"]) == ["b", "a"]
    assert all(type(k) is str for k in out)


@pytest.mark.parametrize("key", [1, 1.5, None, True, b"k", ("a",), Level.HIGH], ids=repr)
def test_non_string_keys_are_refused_never_stringified(key: Any) -> None:
    with pytest.raises(
        CanonicalizationError, match=r"fields\.outer \(dict\): the key .* is of type"
    ):
        to_json_value({"outer": {key: 1}})


def test_keys_with_the_same_characters_are_refused() -> None:
    class Weird(str):
        def __hash__(self) -> int:
            return 1

        def __eq__(self, other: object) -> bool:
            return other is self

    with pytest.raises(CanonicalizationError, match="two keys have the same text"):
        to_json_value({"a": 1, Weird("a"): 2})


def test_sequences() -> None:
    point = namedtuple("point", "x y")
    assert to_json_value({"t": (1, (2, [3.0])), "p": point(1, 2)}) == {
        "t": [1, [2, [3]]],
        "p": [1, 2],
    }


def test_sets_are_sorted_by_canonical_bytes() -> None:
    value = {"b", "a", 10, 9, None, True, 2.5, ("z", 1)}
    expected = ['"a"', '"b"', "10", "2.5", "9", '["z",1]', "null", "true"]
    assert [canonical_bytes(x).decode() for x in to_json_value(value)] == expected
    assert to_json_value(frozenset({"é", "e", "\U0001f600", "\uffff"})) == [
        "e",
        "é",
        "\uffff",
        "\U0001f600",
    ]


def test_set_order_does_not_depend_on_insertion_order() -> None:
    words = [f"w{i}" for i in range(50)]
    forward, backward = set(words), set(reversed(words))
    assert to_json_value(forward) == to_json_value(backward) == sorted(words)


def test_set_order_does_not_depend_on_the_hash_seed() -> None:
    script = (
        "from heso.canonical import canonical_bytes, to_json_value\n"
        "s = {f'item-{i}' for i in range(40)} | {'é', 'Z', '10', '9'}\n"
        "print(repr(list(s)))\n"
        "print(canonical_bytes(to_json_value({'s': s})).decode())\n"
    )
    outputs = []
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        outputs.append(result.stdout.splitlines())
    raw_orders = {out[0] for out in outputs}
    canonical_forms = {out[1] for out in outputs}
    assert len(raw_orders) > 1  # the seeds really reorder the set...
    assert len(canonical_forms) == 1  # ...and the canonical form does not move


def test_bytes_are_standard_base64() -> None:
    out = to_json_value(
        {
            "b": b"\x00\xff",
            "ba": bytearray(b"\xfb\xff\xfe"),
            "mv": memoryview(b"abcdef")[::2],
            "e": b"",
        }
    )
    assert out == {"b": "AP8=", "ba": "+//+", "mv": "YWNl", "e": ""}


def test_datetimes() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert to_json_value(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == (
        "2026-01-02T03:04:05Z"
    )
    assert to_json_value(datetime(2026, 1, 2, 1, 0, 0, 120, tzinfo=plus2)) == (
        "2026-01-01T23:00:00.000120Z"
    )
    assert to_json_value(datetime(5, 1, 1, 12, tzinfo=timezone.utc)) == "0005-01-01T12:00:00Z"
    assert to_json_value(date(2026, 2, 3)) == "2026-02-03"
    assert to_json_value(date(33, 2, 3)) == "0033-02-03"


def test_naive_and_ambiguous_datetimes_are_refused() -> None:
    class NoOffset(tzinfo):
        def utcoffset(self, dt: datetime | None) -> timedelta | None:
            return None

    for when in (datetime(2026, 1, 2), datetime(2026, 1, 2, tzinfo=NoOffset())):
        with pytest.raises(
            CanonicalizationError,
            match=r"fields\.payload\.when \(datetime\.datetime\): a naive datetime.*timezone",
        ):
            to_json_value({"payload": {"when": when}})


def test_datetime_with_nanoseconds_or_out_of_range_is_refused() -> None:
    class NanoDatetime(datetime):
        nanosecond = 7

    with pytest.raises(CanonicalizationError, match="nanoseconds"):
        to_json_value(NanoDatetime(2026, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(CanonicalizationError, match="outside years"):
        to_json_value(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))


def test_times_and_durations_are_refused_with_a_hint() -> None:
    with pytest.raises(CanonicalizationError, match=r"fields\.t \(datetime\.time\).*isoformat"):
        to_json_value({"t": time(12, 0)})
    with pytest.raises(CanonicalizationError, match=r"\(datetime\.timedelta\).*total_seconds"):
        to_json_value({"d": timedelta(seconds=3)})


def test_decimals_keep_their_exact_text() -> None:
    assert to_json_value([Decimal("1.10"), Decimal("1E+2"), Decimal("-0"), Decimal("0.1")]) == [
        "1.10",
        "1E+2",
        "-0",
        "0.1",
    ]
    for bad in ("NaN", "sNaN", "Infinity", "-Infinity"):
        with pytest.raises(CanonicalizationError, match=r"fields\.d \(decimal\.Decimal\)"):
            to_json_value({"d": Decimal(bad)})


def test_uuid_and_paths() -> None:
    out = to_json_value(
        [
            UUID("12345678-1234-5678-1234-567812345678"),
            PurePosixPath("/a/b"),
            PureWindowsPath("C:/x/y"),
            Path("rel/p"),
        ]
    )
    assert out == ["12345678-1234-5678-1234-567812345678", "/a/b", "C:\\x\\y", "rel/p"]


@dataclasses.dataclass
class Inner:
    when: datetime
    tags: set[str]


@dataclasses.dataclass(frozen=True)
class Outer:
    name: str
    inner: Inner
    count: float = 2.0


class NoDeepCopy(UUID):
    def __deepcopy__(self, memo: Any) -> Any:
        raise AssertionError("to_json_value must not deep-copy")


def test_dataclasses_become_objects_without_deep_copies() -> None:
    value = Outer("n", Inner(datetime(2026, 1, 1, tzinfo=timezone.utc), {"b", "a"}))
    assert to_json_value(value) == {
        "name": "n",
        "inner": {"when": "2026-01-01T00:00:00Z", "tags": ["a", "b"]},
        "count": 2,
    }

    @dataclasses.dataclass
    class Holder:
        id: Any

    uid = NoDeepCopy("12345678-1234-5678-1234-567812345678")
    assert to_json_value(Holder(uid)) == {"id": str(uid)}


def test_dataclass_errors_name_the_field_path() -> None:
    value = Outer("n", Inner(datetime(2026, 1, 1), set()))
    with pytest.raises(CanonicalizationError, match=r"fields\.v\.inner\.when \(datetime"):
        to_json_value({"v": value})


def test_dataclass_classes_are_not_instances() -> None:
    with pytest.raises(CanonicalizationError, match=r"fields\.cls \(type\)"):
        to_json_value({"cls": Outer})


class FakeModel:
    """Duck-typed like a pydantic v2 model."""

    calls: list[str] = []

    def __init__(self, payload: Any) -> None:
        self.payload = payload

    def model_dump(self, *, mode: str = "python") -> Any:
        FakeModel.calls.append(mode)
        if isinstance(self.payload, Exception):
            raise self.payload
        return self.payload


def test_pydantic_like_models_use_model_dump_json_mode() -> None:
    FakeModel.calls.clear()
    out = to_json_value({"m": FakeModel({"a": 1.0, "b": [FakeModel("inner")]})})
    assert out == {"m": {"a": 1, "b": ["inner"]}}
    assert FakeModel.calls == ["json", "json"]


def test_pydantic_like_failures_and_classes() -> None:
    with pytest.raises(
        CanonicalizationError, match=r"fields\.m \(.*FakeModel\).*RuntimeError: boom"
    ):
        to_json_value({"m": FakeModel(RuntimeError("boom"))})
    with pytest.raises(CanonicalizationError, match=r"fields\.m \(type\)"):
        to_json_value({"m": FakeModel})


@pytest.mark.parametrize(
    ("value", "type_name", "hint"),
    [
        ((i for i in range(2)), "generator", r"list\(value\)"),
        (iter([1]), "list_iterator", r"list\(value\)"),
        (deque([1]), "collections.deque", r"list\(value\)"),
        ({"a": 1}.keys(), "dict_keys", r"list\(value\)"),
        (range(3), "range", r"list\(value\)"),
        (1 + 2j, "complex", r"never calls str\(\)"),
        (object(), "object", r"never calls str\(\)"),
        (len, "builtin_function_or_method", r"never calls str\(\)"),
    ],
)
def test_unsupported_types_are_refused_naming_path_and_type(
    value: Any, type_name: str, hint: str
) -> None:
    with pytest.raises(CanonicalizationError) as info:
        to_json_value({"payload": [None, {"x": value}]})
    message = str(info.value)
    assert message.startswith(f"cannot canonicalize fields.payload.1.x ({type_name}): ")
    assert __import__("re").search(hint, message)


def test_error_paths_use_field_path_syntax_and_the_given_root() -> None:
    with pytest.raises(
        CanonicalizationError, match=r'^cannot canonicalize args\["a\.b"\]\["0"\]\.1'
    ):
        to_json_value({"a.b": {"0": [None, object()]}}, path="args")
    with pytest.raises(CanonicalizationError, match=r"^cannot canonicalize k \(object\)"):
        to_json_value({"k": object()}, path="")
    with pytest.raises(CanonicalizationError, match=r"^cannot canonicalize the value \(object\)"):
        to_json_value(object(), path="")


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        to_json_value({"x": object()})


def test_depth_limit() -> None:
    assert to_json_value(nested(MAX_DEPTH)) == nested(MAX_DEPTH)
    with pytest.raises(CanonicalizationError, match=f"deeper than {MAX_DEPTH} levels"):
        to_json_value(nested(MAX_DEPTH + 1))
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(MAX_DEPTH):
        node["d"] = {}
        node = node["d"]
    with pytest.raises(CanonicalizationError, match=r"fields(\.d)+ \(dict\): nested deeper"):
        to_json_value(deep)


def test_cycles_are_reported_with_both_paths() -> None:
    value: dict[str, Any] = {"a": {"b": []}}
    value["a"]["b"].append(value["a"])
    with pytest.raises(
        CanonicalizationError,
        match=r"fields\.a\.b\.0: it contains itself \(it is the same object as fields\.a, a cyc",
    ):
        to_json_value(value)

    @dataclasses.dataclass
    class Node:
        next: Any = None

    ring = Node()
    ring.next = Node(ring)
    with pytest.raises(CanonicalizationError, match=r"same object as fields\.r, a cycle"):
        to_json_value({"r": ring})


def test_shared_subobjects_are_not_cycles() -> None:
    shared = {"x": 1}
    assert to_json_value({"a": shared, "b": [shared, shared]}) == {
        "a": {"x": 1},
        "b": [{"x": 1}, {"x": 1}],
    }


def test_input_is_not_modified() -> None:
    value = {"a": [1.0, {"b": {"c", "d"}}], "t": (1,)}
    before = repr(value)
    to_json_value(value)
    assert repr(value) == before


def test_set_element_errors_name_the_set() -> None:
    with pytest.raises(
        CanonicalizationError,
        match=r"fields\.tags \(datetime\.time\): in an element of this set: a time of day",
    ):
        to_json_value({"tags": {"a", time(1)}})


# --------------------------------------------------------------------------- loads_strict


def test_loads_strict_returns_normalized_json() -> None:
    value = loads_strict(
        b' {"a": 1.0, "b": -0, "c": -0.0, "d": 1e2, "e": 0.5, "f": 12345678901234567890,'
        b' "g": 9007199254740991, "h": 9007199254740993, "i": 1e-400, "j": "\\ud83d\\ude00"} '
    )
    assert value == {
        "a": 1,
        "b": 0,
        "c": 0,
        "d": 100,
        "e": 0.5,
        "f": 1.2345678901234567e19,
        "g": MAX_SAFE_INTEGER,
        "h": 2.0**53,
        "i": 0,
        "j": "\U0001f600",
    }
    assert [type(value[k]) for k in "abcdefghi"] == [
        int,
        int,
        int,
        int,
        float,
        float,
        int,
        float,
        int,
    ]
    assert canonical_bytes(value) == (
        b'{"a":1,"b":0,"c":0,"d":100,"e":0.5,"f":12345678901234567000,"g":9007199254740991,'
        b'"h":9007199254740992,"i":0,"j":"\xf0\x9f\x98\x80"}'
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a": 1, "a": 2}', 'duplicate object key "a"'),
        (b'{"x": [{"k": 1, "\\u006b": 2}]}', 'duplicate object key "k"'),
        (b"[NaN]", "NaN is not a JSON number"),
        (b'{"a": Infinity}', "Infinity is not a JSON number"),
        (b"[-Infinity]", "-Infinity is not a JSON number"),
        (b"[1e400]", "out of range for a double"),
        (b"[-" + b"9" * 400 + b"]", "out of range for a double"),
        (b'["\xff"]', r"invalid UTF-8 at byte 2"),
        (b'["\xed\xa0\x80"]', "invalid UTF-8 at byte 2"),
        (b'["\xc0\xaf"]', "invalid UTF-8"),
        (b'\xef\xbb\xbf{"a": 1}', "byte order mark"),
        (b'["\\ud800"]', "lone surrogate"),
        (b'["\\udc00\\ud800"]', "lone surrogate"),
        (b'{"\\uDBFF": 1}', "lone surrogate"),
        (b'["a\\ud83dx"]', "lone surrogate"),
        (b'{"a": 1', "line 1 column 8"),
        (b'{"a": 1} x', "Extra data"),
        (b'["a\nb"]', "Invalid control character"),
        (b"", "Expecting value"),
        (b"[01]", "line 1"),
    ],
)
def test_loads_strict_rejections(data: bytes, message: str) -> None:
    with pytest.raises(CanonicalizationError, match=message):
        loads_strict(data)


def test_loads_strict_rejects_raw_surrogates_in_str_and_other_types() -> None:
    with pytest.raises(CanonicalizationError, match=r"lone surrogate U\+D800 at char 2"):
        loads_strict('["\ud800"]')
    with pytest.raises(CanonicalizationError, match="takes str or bytes"):
        loads_strict(123)  # type: ignore[arg-type]


def test_loads_strict_accepts_escaped_backslash_before_u() -> None:
    assert loads_strict(b'["\\\\ud800"]') == ["\\ud800"]
    assert loads_strict(bytearray(b'{"a": [true]}')) == {"a": [True]}
    assert loads_strict(memoryview(b"[null]")) == [None]


def test_loads_strict_depth_limit() -> None:
    ok = "[" * MAX_PARSE_DEPTH + "]" * MAX_PARSE_DEPTH
    assert canonical_bytes(loads_strict(ok)) == ok.encode()
    too_deep = '{"a":' * (MAX_PARSE_DEPTH + 1) + "1" + "}" * (MAX_PARSE_DEPTH + 1)
    with pytest.raises(CanonicalizationError, match=f"nested deeper than {MAX_PARSE_DEPTH}"):
        loads_strict(too_deep)
    with pytest.raises(CanonicalizationError, match="nested deeper"):
        loads_strict("[" * 100_000)
    brackets_in_strings = json.dumps(["[{" * 300, {"k": "]]" * 300}, [[[]]]])
    assert loads_strict(brackets_in_strings) == json.loads(brackets_in_strings)
    wide = json.dumps([[i] for i in range(500)])
    assert loads_strict(wide) == json.loads(wide)


def test_loads_strict_of_a_fields_value_at_max_depth_inside_a_chain_entry() -> None:
    fields = to_json_value({"deep": nested(MAX_DEPTH - 1)})
    entry = {"receipt": {"content": {"action": {"fields": fields}}}, "seq": 1}
    assert loads_strict(canonical_bytes(entry)) == entry


# --------------------------------------------------------------------------- the spec page

SPEC_VECTORS = [
    (
        to_json_value(
            {
                "to": "alice@example.com",
                "amount": Decimal("19.99"),
                "quantity": 3.0,
                "when": datetime(2026, 1, 2, 4, 4, 5, 250000, tzinfo=timezone(timedelta(hours=1))),
                "tags": {"urgent", "billing"},
                "attachment": b"\x00\xff",
                "request_id": UUID("12345678-1234-5678-1234-567812345678"),
            }
        ),
        b'{"amount":"19.99","attachment":"AP8=","quantity":3,'
        b'"request_id":"12345678-1234-5678-1234-567812345678","tags":["billing","urgent"],'
        b'"to":"alice@example.com","when":"2026-01-02T03:04:05.250000Z"}',
        "928e3302239525676b877b7608e20f94ac9335b7001c374f267b4ddc124e9da4",
    ),
    (
        {
            "numbers": [
                333333333.33333329,
                1e30,
                4.5,
                0.002,
                1e-27,
                -0.0,
                1e21,
                1e-7,
                9007199254740991,
                0.1,
                100.0,
            ]
        },
        b'{"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27,0,1e+21,1e-7,9007199254740991,'
        b"0.1,100]}",
        "d0657d29cd36f6b23d4a603839ae12a439c4c109dd2ced1533a16ec1433c8155",
    ),
    (
        loads_strict(
            '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], '
            '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", '
            '"literals": [null, true, false]}'
        ),
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'.encode(),
        "5b3b80c51be7d32b5df2e507fa592a888faf3a4c98b39ef647fadffcd4ce73bd",
    ),
    (
        {
            "\u20ac": "Euro Sign",
            "\r": "Carriage Return",
            "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\U0001f600": "Emoji: Grinning Face",
            "\u0080": "Control",
            "\u00f6": "Latin Small Letter O With Diaeresis",
        },
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'.encode(),
        "1d92db223ed85aff50243cf33830f0388abf422d5ce8cd0f2875b2c71ebc933d",
    ),
    (
        {"s": 'tab\tnl\ncr\rbs\\q"nul\x00us\x1fdel\x7fls\u2028/'},
        b'{"s":"tab\\tnl\\ncr\\rbs\\\\q\\"nul\\u0000us\\u001fdel\x7fls\xe2\x80\xa8/"}',
        "ecd1929946cc0fc7702d7cf6b891e49922ad0d8fd8186518fdb2548dfff0bdb6",
    ),
]


@pytest.mark.parametrize(("value", "expected", "digest"), SPEC_VECTORS)
def test_spec_examples(value: Any, expected: bytes, digest: str) -> None:
    assert canonical_bytes(value) == expected == jcs(value)
    assert blake3.blake3(expected).hexdigest() == digest


@pytest.mark.skipif(not SPEC.exists(), reason="the spec page ships with the repository only")
def test_spec_page_states_the_example_hashes_and_limits() -> None:
    text = SPEC.read_text(encoding="utf-8")
    for _, _, digest in SPEC_VECTORS:
        assert digest in text
    assert f"`MAX_DEPTH` = **{MAX_DEPTH}**" in text
    assert f"`MAX_PARSE_DEPTH` = **{MAX_PARSE_DEPTH}**" in text
    for bits, number in RFC8785_NUMBERS:
        if f"`{bits}`" in text:
            assert f"| `{bits}` | `{number}` |" in text


# -- hardening (issue #9) -----------------------------------------------------------------------


def test_an_integer_out_of_range_is_refused_without_echoing_it() -> None:
    """The value may be a secret about to be redacted: the error (and so logs) never hold it."""
    with pytest.raises(CanonicalizationError) as caught:
        to_json_value({"card": 4111111111111111111111})
    assert "4111111111111111111111" not in str(caught.value)
    assert "an integer with 22 digits is outside" in str(caught.value)


def test_a_duplicate_key_error_is_printable_and_short() -> None:
    """The message escapes lone surrogates (a CLI could not print them) and clips long keys."""
    for key in ("\\udc80", "k" * 10_000):
        with pytest.raises(CanonicalizationError) as caught:
            loads_strict(f'{{"{key}": 1, "{key}": 2}}')
        message = str(caught.value)
        message.encode("utf-8")  # printable
        assert "duplicate object key" in message and len(message) < 200


# -- the verifier's fast path: loads_canonical (issue #8) ---------------------------------------


def _decides_like_the_strict_path(data: bytes) -> None:
    """``loads_canonical`` may only answer where the strict path would answer the same."""
    fast = loads_canonical(data)
    if fast is None:
        return
    strict = loads_strict(data)
    assert canonical_bytes(strict) == data
    assert fast == strict


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_loads_canonical_accepts_only_canonical_bytes(value: Any) -> None:
    expected = jcs(value)
    _decides_like_the_strict_path(expected)
    for other in (json.dumps(value).encode(), json.dumps(value, ensure_ascii=False).encode()):
        _decides_like_the_strict_path(other)
        if other != expected:
            assert loads_canonical(other) is None


def test_loads_canonical_escapes_every_bmp_character_as_rfc8785_does() -> None:
    """The fast path rests on orjson printing strings byte for byte as JCS does."""
    for start in range(0, 0x10000, 0x800):
        chars = [chr(c) for c in range(start, start + 0x800) if not 0xD800 <= c < 0xE000]
        if not chars:
            continue
        data = canonical_bytes({"s": chars, "k": {c: 0 for c in chars}})
        assert loads_canonical(data) == loads_strict(data)


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1.0}',  # floats orjson lays out unlike RFC 8785 go to the strict path
        b'{"a":1e+21}',
        b'{"a":1e16}',
        b'{"a":0.000001}',
        b'{"a":1e-6}',
        b'{"a":9.99e-6}',
        b'{"a":9007199254740992}',  # beyond 2**53 - 1
        b'{"a":-9007199254740992}',
        b'{"a":18446744073709551616}',
        b'{"a":-0}',
        b'{"b":1,"a":2}',  # unsorted
        b'{"a":1,"a":1}',  # duplicate key
        b'{"a": 1}',
        b'{"a":"\\u0041"}',  # an escape JCS does not use
        '{"\U0001f600":1,"\ue000":2}'.encode(),  # UTF-16 order, not code point order
        '{"\ue000":2,"\U0001f600":1}'.encode(),
        b"[" * (MAX_PARSE_DEPTH + 1) + b"]" * (MAX_PARSE_DEPTH + 1),
        b"\xef\xbb\xbf{}",  # byte order mark
        b'{"a":"\xed\xa0\x80"}',  # an encoded surrogate
        b'{"a":NaN}',
        b'"text"',  # not an object or array
        b"",
    ],
)
def test_loads_canonical_leaves_the_doubtful_to_the_strict_path(data: bytes) -> None:
    assert loads_canonical(data) is None


def test_loads_canonical_answers_for_plain_canonical_documents() -> None:
    deep = b"[" * MAX_PARSE_DEPTH + b"]" * MAX_PARSE_DEPTH
    wide = b"[" + b",".join([b"[[]]"] * 300) + b"]"  # many containers, shallow
    plain = (b'{"a":[1,true,null,"x"],"b":{}}', b'{"a":1.5,"b":[0.1,-123.456,0.00001]}')
    for data in (*plain, deep, wide, '{"a":"\U0001f600"}'.encode()):
        assert loads_canonical(data) == loads_strict(data)


# -- canonical_bytes' fast path: orjson under the same guards (issue #21) ---------------------


def _strict_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(canonical, "_orjson", None)


def _fast_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(value: Any) -> bytes:
        raise AssertionError(f"the strict serializer was used for {value!r}")

    monkeypatch.setattr(canonical, "_full_bytes", refuse)


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_the_fast_path_and_the_strict_serializer_give_the_same_bytes(value: Any) -> None:
    fast = canonical_bytes(value)
    assert fast == canonical._full_bytes(value) == jcs(value)
    if isinstance(value, (dict, list)) and canonical._plain(value, not fast.isascii()):
        import orjson

        assert orjson.dumps(value, option=orjson.OPT_SORT_KEYS) == fast


def test_plain_documents_never_reach_the_strict_serializer(monkeypatch: pytest.MonkeyPatch) -> None:
    docs: list[Any] = [
        {"a": [1, True, None, "x", -MAX_SAFE_INTEGER, MAX_SAFE_INTEGER], "b": {}},
        {"price": 12.5, "rate": 0.00001, "big": 999999999999999.5, "neg": -0.3},
        ["é€\u2028", {"\uffff": "\U0001f600 in a value", "\ue000": 1}],
        (1, (2, [3])),
        nested(MAX_PARSE_DEPTH),
    ]
    expected = [jcs(d) for d in docs]
    _fast_only(monkeypatch)
    assert [canonical_bytes(d) for d in docs] == expected


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1.0},
        {"a": -0.0},
        {"a": 1e16},
        {"a": 9.99e-6},
        {"a": 1e-7},
        {"a": 1e21},
        {"a": 2.0**60},
        {"\U0001f600": 1, "\ue000": 2},
        [{"z": {"\U00010000": 1, "\uffff": 2}}],
        {"a": OrderedDict(b=1)},
        {"a": Level.HIGH},
        nested(MAX_PARSE_DEPTH + 1),
    ],
    ids=repr,
)
def test_what_the_guards_reject_goes_to_the_strict_serializer(value: Any) -> None:
    data = canonical_bytes(value)
    assert data == canonical._full_bytes(value)
    assert not canonical._plain(value, not data.isascii())
    assert data == jcs(value)


def test_every_bmp_character_encodes_alike_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = []
    for start in range(0, 0x10000, 0x800):
        chars = [chr(c) for c in range(start, start + 0x800) if not 0xD800 <= c < 0xE000]
        if chars:
            docs.append({"s": chars, "k": {c: 0 for c in chars}, "j": "".join(chars)})
    strict = [canonical._full_bytes(d) for d in docs]
    _fast_only(monkeypatch)
    assert [canonical_bytes(d) for d in docs] == strict


def test_floats_the_guard_admits_print_as_rfc8785_does() -> None:
    rng = __import__("random").Random(21)
    low, high = canonical._FLOAT_LOW, canonical._FLOAT_HIGH
    edges = [low, math.nextafter(low, 1), math.nextafter(high, 0), 0.1, 0.3, 2 / 3, 4.35]
    samples = edges + [rng.uniform(-1, 1) * 10.0 ** rng.randint(-5, 16) for _ in range(20_000)]
    samples += [
        struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0] for _ in range(5_000)
    ]
    admitted = 0
    for x in samples:
        if canonical._plain([x], False):
            admitted += 1
            assert canonical_bytes([x]) == canonical._full_bytes([x]) == jcs([x]), x
    assert admitted > 15_000


@pytest.mark.parametrize("n", [2**53, -(2**53), 2**64, -(2**70)])
def test_integers_beyond_the_range_are_refused_on_the_fast_path_too(n: int) -> None:
    with pytest.raises(CanonicalizationError, match="outside"):
        canonical_bytes({"a": [n]})


def test_lone_surrogates_and_cycles_are_refused_by_the_strict_serializer() -> None:
    with pytest.raises(CanonicalizationError, match="lone surrogate"):
        canonical_bytes({"a": ["x\ud800"]})
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(CanonicalizationError, match="cycle"):
        canonical_bytes(cyclic)


def test_without_orjson_the_strict_serializer_gives_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    doc = {"a": [1, "é", 1.5, {"\U0001f600": None}], "b": 1.0}
    fast = canonical_bytes(doc)
    _strict_only(monkeypatch)
    assert canonical_bytes(doc) == fast == jcs(doc)
    assert loads_canonical(fast) is None


@pytest.mark.parametrize("key", [1, 1.5, None, True], ids=repr)
def test_non_string_keys_are_refused_even_in_plain_values(key: Any) -> None:
    with pytest.raises(CanonicalizationError, match="JSON object keys must be strings"):
        canonical_bytes({"a": [{key: "x"}]})
