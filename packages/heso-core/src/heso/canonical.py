"""Python values → JSON values, RFC 8785 (JCS) canonical bytes, and a strict JSON parser.

:func:`to_json_value` turns tool-call arguments into plain JSON values (``dict`` with ``str``
keys, ``list``, ``str``, ``int``, ``float``, ``bool``, ``None``) by fixed, documented rules and
refuses anything ambiguous. :func:`canonical_bytes` serializes a JSON value as RFC 8785 bytes;
:func:`loads_strict` parses JSON for verification. The contract is ``docs/spec/canonical.md``.

Numbers follow the JSON/ECMAScript model: every number is an IEEE 754 double. An ``int`` must
lie within ±(2**53-1); a ``float`` is printed as ECMAScript ``Number.prototype.toString`` does.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import accumulate
from json import encoder as _json_encoder
from pathlib import PurePath
from typing import Any, NoReturn
from uuid import UUID

from heso.errors import CanonicalizationError
from heso.fieldpath import Segment, render

__all__ = [
    "MAX_DEPTH",
    "MAX_PARSE_DEPTH",
    "MAX_SAFE_INTEGER",
    "CanonicalObject",
    "canonical_bytes",
    "format_number",
    "loads_canonical",
    "loads_strict",
    "to_json_value",
]

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer a JSON number (an IEEE 754 double) holds exactly, and its bound for ``int``."""

MAX_DEPTH = 64
"""Most arrays/objects :func:`to_json_value` lets a value nest (a flat dict has depth 1)."""

MAX_PARSE_DEPTH = 128
"""Most arrays/objects :func:`loads_strict` accepts nested; room for a receipt around fields."""

_INF = math.inf
_encode_string = _json_encoder.encode_basestring


# --------------------------------------------------------------------------- errors with paths


class _Fail(Exception):
    """Internal: a conversion failure; frames add their path segment while it unwinds."""

    def __init__(self, obj: Any, what: str, fix: str, *, depth: bool = False) -> None:
        super().__init__(what)
        self.type_name = _type_name(obj)
        self.what = what
        self.fix = fix
        self.segments: list[Segment] = []  # innermost first
        self.ids: list[int] = [id(obj)] if depth else []  # containers on the path, innermost first
        self.depth = depth
        self.in_set = False

    def add(self, segment: Segment, container: Any) -> None:
        self.segments.append(segment)
        if self.depth:
            self.ids.append(id(container))


def _type_name(obj: Any) -> str:
    t = type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _join(prefix: str, segments: list[Segment]) -> str:
    if not segments:
        return prefix or "the value"
    tail = render(segments)
    if not prefix:
        return tail
    return prefix + tail if tail.startswith("[") else f"{prefix}.{tail}"


def _error(prefix: str, fail: _Fail) -> CanonicalizationError:
    outer = fail.segments[::-1]
    what = fail.what
    if fail.depth:
        ids = fail.ids[::-1]  # ids[i] is the container at outer[:i]
        first: dict[int, int] = {}
        for j, ident in enumerate(ids):
            if ident in first:
                same = _join(prefix, outer[: first[ident]])
                return CanonicalizationError(
                    f"cannot canonicalize {_join(prefix, outer[:j])}: it contains itself "
                    f"(it is the same object as {same}, a cycle); break the cycle or pass a copy"
                )
            first[ident] = j
    if fail.in_set:
        what = f"in an element of this set: {what}"
    return CanonicalizationError(
        f"cannot canonicalize {_join(prefix, outer)} ({fail.type_name}): {what}; {fail.fix}"
    )


def _not_finite(obj: Any) -> NoReturn:
    raise _Fail(obj, f"{obj!r} is not a finite number", "replace it with null or a string")


def _unsafe_int(obj: Any) -> NoReturn:
    # The value itself is not echoed: it may be a secret that was about to be redacted.
    n = abs(int(obj))
    digits = f"{len(str(n))} digits" if n.bit_length() < 13000 else "over 3900 digits"
    raise _Fail(
        obj,
        f"an integer with {digits} is outside ±(2**53-1), the range a JSON number holds exactly",
        "pass it as a string, e.g. str(value)",
    )


def _check_text(s: str) -> None:
    """Raise :class:`_Fail` when ``s`` holds a lone surrogate (not valid Unicode)."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Fail(
            s,
            f"the string has a lone surrogate U+{ord(s[exc.start]):04X} at index {exc.start}, "
            "which is not valid Unicode",
            "decode the source bytes correctly or replace the surrogate",
        ) from None


# --------------------------------------------------------------------------- to_json_value


def to_json_value(value: Any, *, path: str = "fields") -> Any:
    """Convert ``value`` to a JSON value by the rules of ``docs/spec/canonical.md``.

    ``path`` names ``value`` in error messages. Raises :class:`CanonicalizationError` naming
    the offending path and type, and how to fix it; never falls back to ``str()``.
    """
    try:
        return _conv_mapping(value, 1) if type(value) is dict else _conv(value, 1)
    except _Fail as fail:
        raise _error(path, fail) from None
    except RecursionError:
        raise CanonicalizationError(
            f"cannot canonicalize {path or 'the value'}: nested too deeply for this interpreter"
        ) from None


def _conv(v: Any, depth: int) -> Any:
    t = type(v)
    if t is str:
        if not v.isascii():
            _check_text(v)
        return v
    if t is int:
        if -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
            return v
        _unsafe_int(v)
    if t is dict:
        return _conv_mapping(v, depth)
    if t is list or t is tuple:
        return _conv_list(v, depth)
    if v is None or t is bool:
        return v
    if t is float:
        return _conv_float(v)
    return _conv_other(v, depth)


def _conv_float(v: float) -> int | float:
    if v != v or v == _INF or v == -_INF:
        _not_finite(v)
    if v.is_integer() and -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
        return int(v)  # JCS prints 1.0 as 1 and -0.0 as 0; keeps canonical_bytes on its fast path
    return v


def _enter(v: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _Fail(
            v,
            f"nested deeper than {MAX_DEPTH} levels of arrays/objects",
            "flatten the value or pass the deep part as a JSON string",
            depth=True,
        )


def _conv_mapping(v: Mapping[Any, Any], depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        _enter(v, depth)
    out: dict[str, Any] = {}
    for key, item in v.items():
        if type(key) is not str:
            key = _conv_key(key, v)
        elif not key.isascii():
            try:
                _check_text(key)
            except _Fail as fail:
                fail.what = f"the key {key!r}: {fail.what}"
                raise
        t = type(item)
        if (
            (t is str and item.isascii())
            or (t is int and -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER)
            or item is None
            or t is bool
        ):
            out[key] = item  # the common plain values, without a call (same result as _conv)
            continue
        try:
            out[key] = _conv_list(item, depth + 1) if t is list else _conv(item, depth + 1)
        except _Fail as fail:
            fail.add(key, v)
            raise
    if len(out) != len(v):
        raise _Fail(v, "two keys have the same text", "make the keys distinct strings")
    return out


def _conv_key(key: Any, mapping: Any) -> str:
    if isinstance(key, str):
        text = str.__str__(key)
        if not text.isascii():
            _check_text(text)
        return text
    raise _Fail(
        mapping,
        f"the key {key!r} is of type {_type_name(key)}; JSON object keys must be strings",
        "convert the keys explicitly, e.g. {str(k): v for k, v in value.items()}",
    )


def _conv_list(v: Any, depth: int) -> list[Any]:
    if depth > MAX_DEPTH:
        _enter(v, depth)
    out: list[Any] = []
    append = out.append
    for index, item in enumerate(v):
        if type(item) is str and item.isascii():
            append(item)  # the common plain value, without a call (same result as _conv)
            continue
        try:
            append(_conv(item, depth + 1))
        except _Fail as fail:
            fail.add(index, v)
            raise
    return out


def _conv_set(v: Any, depth: int) -> list[Any]:
    _enter(v, depth)
    items = []
    for item in v:
        try:
            items.append(_conv(item, depth + 1))
        except _Fail as fail:
            # A set element has no path of its own: report the set's path.
            fail.segments.clear()
            fail.ids.clear()
            fail.depth = False
            fail.in_set = True
            raise
    items.sort(key=canonical_bytes)
    return items


def _conv_other(v: Any, depth: int) -> Any:
    if isinstance(v, enum.Enum):
        return _conv(v.value, depth)
    if isinstance(v, str):
        return _conv(str.__str__(v), depth)
    if isinstance(v, int):  # bool is handled before; these are int subclasses
        return _conv(int(v), depth)
    if isinstance(v, float):
        return _conv_float(float(v))
    if isinstance(v, Mapping):
        return _conv_mapping(v, depth)
    if isinstance(v, (list, tuple)):
        return _conv_list(v, depth)
    if isinstance(v, (set, frozenset)):
        return _conv_set(v, depth)
    if isinstance(v, (bytes, bytearray, memoryview)):
        raw = v.tobytes() if isinstance(v, memoryview) else bytes(v)
        return base64.b64encode(raw).decode("ascii")
    if isinstance(v, datetime):
        return _conv_datetime(v)
    if isinstance(v, date):
        return f"{v.year:04d}-{v.month:02d}-{v.day:02d}"
    if isinstance(v, Decimal):
        if not v.is_finite():
            raise _Fail(v, f"{v} is not a finite number", "replace it with null or a string")
        return str(v)
    if isinstance(v, UUID):
        return str(v)
    if isinstance(v, PurePath):
        return str(v)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return _conv_dataclass(v, depth)
    dump = getattr(type(v), "model_dump", None)
    if callable(dump) and not isinstance(v, type):
        try:
            dumped = v.model_dump(mode="json")
        except Exception as exc:
            raise _Fail(
                v,
                f"model_dump(mode='json') raised {type(exc).__name__}: {exc}",
                "fix the model or pass a plain dict",
            ) from None
        return _conv(dumped, depth)
    raise _unsupported_fail(v)


def _conv_datetime(v: datetime) -> str:
    offset = v.utcoffset()
    if offset is None:
        raise _Fail(
            v,
            "a naive datetime (no tzinfo) is ambiguous",
            "attach a timezone, e.g. value.replace(tzinfo=datetime.timezone.utc), "
            "or pass an ISO 8601 string",
        )
    if getattr(v, "nanosecond", 0):
        raise _Fail(
            v,
            "it has nanoseconds, which an RFC 3339 microsecond timestamp would drop",
            "pass an ISO 8601 string",
        )
    try:
        u = datetime(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond) - offset
    except OverflowError:
        raise _Fail(
            v, "it falls outside years 1-9999 once converted to UTC", "pass an ISO 8601 string"
        ) from None
    text = f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
    return f"{text}.{u.microsecond:06d}Z" if u.microsecond else text + "Z"


def _conv_dataclass(v: Any, depth: int) -> dict[str, Any]:
    _enter(v, depth)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(v):
        try:
            out[f.name] = _conv(getattr(v, f.name), depth + 1)
        except _Fail as fail:
            fail.add(f.name, v)
            raise
    return out


def _unsupported_fail(v: Any) -> _Fail:
    if isinstance(v, time):
        return _Fail(
            v,
            "a time of day without a date has no canonical UTC form",
            "pass value.isoformat() or an aware datetime",
        )
    if isinstance(v, timedelta):
        return _Fail(
            v, "a duration has no JSON form", "pass value.total_seconds() or an ISO 8601 string"
        )
    if isinstance(v, Iterable):
        return _Fail(
            v,
            "an iterable of this type is not converted implicitly (it may be single-use)",
            "pass list(value)",
        )
    return _Fail(
        v,
        "this type has no JSON form",
        "convert it to str, int, float, bool, None, a list or a dict with str keys first "
        "(heso never calls str() implicitly)",
    )


# --------------------------------------------------------------------------- canonical_bytes


class CanonicalObject(dict):  # type: ignore[type-arg]
    """A JSON object that carries ``canonical``, its RFC 8785 bytes, set once by its maker so
    :func:`heso.receipt.mint` splices them instead of serializing the object again. Treat it
    as read-only: a changed copy must not keep the old bytes."""

    __slots__ = ("canonical",)
    canonical: bytes


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 (JCS) bytes of the JSON value ``value``, UTF-8 encoded.

    ``value`` is a JSON value: the output of :func:`to_json_value` or :func:`loads_strict`, or
    built from ``dict`` (``str`` keys), ``list``/``tuple``, ``str``, ``int`` within
    ±(2**53-1), finite ``float``, ``bool`` and ``None``. Raises
    :class:`CanonicalizationError` for anything else, naming the path.

    Objects and arrays take ``orjson``'s sorted output when :func:`_plain` proves it is the
    RFC 8785 form (the same guards as :func:`loads_canonical`); the rest, and every error, go
    through the complete serializer.
    """
    t = type(value)
    if t is dict or t is list or t is CanonicalObject or t is tuple:
        orjson = _orjson
        if orjson is False:
            orjson = _load_orjson()
        if orjson is not None:
            try:
                data: bytes = orjson.dumps(value, option=_SORTED)
            except TypeError:  # not plain JSON, a lone surrogate, a big int, a cycle: see below
                return _full_bytes(value)
            if _plain(value, not data.isascii()):
                return data
    return _full_bytes(value)


def _full_bytes(value: Any) -> bytes:
    """The complete RFC 8785 serializer (rare values: exponent floats, astral keys, errors)."""
    out: list[str] = []
    try:
        _emit(value, out)
    except _Fail as fail:
        raise _error("value", fail) from None
    except RecursionError:
        raise CanonicalizationError(
            "cannot canonicalize the value: nested too deeply (or it contains a cycle)"
        ) from None
    return "".join(out).encode("utf-8")


def _emit(v: Any, out: list[str]) -> None:
    if isinstance(v, str):
        if not v.isascii():
            _check_text(v)
        out.append(_encode_string(v))
    elif v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, int):
        if not -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
            _unsafe_int(v)
        out.append(int.__repr__(v))
    elif isinstance(v, float):
        out.append(_format_number(float(v)))
    elif isinstance(v, Mapping):
        _emit_object(v, out)
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for index, item in enumerate(v):
            if index:
                out.append(",")
            try:
                _emit(item, out)
            except _Fail as fail:
                fail.add(index, v)
                raise
        out.append("]")
    else:
        raise _Fail(
            v,
            "this type is not a JSON value",
            "convert it with heso.canonical.to_json_value() first",
        )


def _emit_object(v: Mapping[Any, Any], out: list[str]) -> None:
    members = []
    for key, item in v.items():
        if not isinstance(key, str):
            raise _Fail(
                v,
                f"the key {key!r} is of type {_type_name(key)}; JSON object keys must be strings",
                "convert it with heso.canonical.to_json_value() first",
            )
        if not key.isascii():
            try:
                _check_text(key)
            except _Fail as fail:
                fail.what = f"the key {key!r}: {fail.what}"
                raise
        members.append((key.encode("utf-16-be"), key, item))
    members.sort(key=lambda member: member[0])
    out.append("{")
    for index, (_, key, item) in enumerate(members):
        if index:
            out.append(",")
        out.append(_encode_string(key))
        out.append(":")
        try:
            _emit(item, out)
        except _Fail as fail:
            fail.add(key, v)
            raise
    out.append("}")


def format_number(x: float) -> str:
    """ECMAScript ``Number.prototype.toString(x)`` for a finite double (RFC 8785 §3.2.2.3)."""
    try:
        return _format_number(float(x))
    except _Fail as fail:
        raise CanonicalizationError(f"{fail.what}; {fail.fix}") from None


def _format_number(x: float) -> str:
    if x != x or x == _INF or x == -_INF:
        _not_finite(x)
    if x == 0:
        return "0"
    if x < 0:
        return "-" + _format_number(-x)
    # repr gives the shortest digits that round-trip, as ECMAScript requires; only the layout
    # differs. Value = 0.DIGITS * 10**n.
    mantissa, _, exponent = repr(x).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    n = len(whole) + (int(exponent) if exponent else 0)
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return f"{digits[:n]}.{digits[n:]}"
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    head = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{head}e{sign}{abs(e)}"


# --------------------------------------------------------------------------- loads_strict


def _reject(message: str) -> NoReturn:
    raise CanonicalizationError(f"invalid JSON: {message}")


def _parse_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                shown = json.dumps(key if len(key) <= 80 else key[:80] + "…")
                _reject(f"duplicate object key {shown}")
            seen.add(key)
    return obj


def _parse_float(text: str) -> int | float:
    x = float(text)
    if x == _INF or x == -_INF:
        _reject(f"the number {text} is out of range for a double")
    if x.is_integer() and -MAX_SAFE_INTEGER <= x <= MAX_SAFE_INTEGER:
        return int(x)
    return x


def _parse_int(text: str) -> int | float:
    if len(text) <= 15:  # |n| < 10**15 < 2**53
        return int(text)
    x = float(text)  # correctly rounded, like ECMAScript's JSON.parse
    if x == _INF or x == -_INF:
        _reject(f"the number {text[:20]}… is out of range for a double")
    if -MAX_SAFE_INTEGER <= x <= MAX_SAFE_INTEGER:
        return int(text)
    return x


def _parse_constant(name: str) -> NoReturn:
    _reject(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_parse_object,
    parse_float=_parse_float,
    parse_int=_parse_int,
    parse_constant=_parse_constant,
    strict=True,
)
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_DELTA = {"[": 1, "{": 1, "]": -1, "}": -1}
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def loads_strict(data: str | bytes) -> Any:
    """Parse JSON for verification, refusing what RFC 8785 input must not contain.

    Rejects invalid UTF-8, a byte order mark, lone surrogates (raw or escaped), duplicate
    object keys, ``NaN``/``Infinity``, numbers that overflow a double and nesting deeper than
    :data:`MAX_PARSE_DEPTH`, raising :class:`CanonicalizationError`. Numbers come back as
    :func:`to_json_value` makes them (integral values within ±(2**53-1) as ``int``, others as
    ``float``), so ``canonical_bytes(loads_strict(x))`` is the JCS form of ``x``.
    """
    if isinstance(data, str):
        text = data
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                _reject(f"lone surrogate U+{ord(text[exc.start]):04X} at char {exc.start}")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        try:
            text = str(data, "utf-8")
        except UnicodeDecodeError as exc:
            _reject(f"invalid UTF-8 at byte {exc.start} ({exc.reason})")
    else:
        raise CanonicalizationError(f"loads_strict takes str or bytes, not {_type_name(data)}")
    if text.startswith("\ufeff"):
        _reject("it starts with a byte order mark")
    if len(text) > MAX_PARSE_DEPTH and text.count("[") + text.count("{") > MAX_PARSE_DEPTH:
        _check_depth(text)
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        _reject(f"{exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})")
    except RecursionError:
        _reject(f"nested deeper than {MAX_PARSE_DEPTH} levels")
    if _SURROGATE_ESCAPE.search(text) is not None and _has_surrogate(value):
        _reject("an escaped lone surrogate (\\uD800-\\uDFFF without its pair)")
    return value


def _check_depth(text: str) -> None:
    brackets = _NOT_BRACKET.sub("", _STRINGS.sub("", text))
    if brackets and max(accumulate(_BRACKET_DELTA[c] for c in brackets)) > MAX_PARSE_DEPTH:
        _reject(f"nested deeper than {MAX_PARSE_DEPTH} levels")


def _has_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


# --------------------------------------------------------------------------- the orjson fast path

_orjson: Any = False
"""``orjson``, imported by the first :func:`canonical_bytes` or :func:`loads_canonical` of an
object or array (``import heso`` does not load it); ``None`` where it is not installed."""
_SORTED = 0
"""``orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER``, set with :data:`_orjson`."""


def _load_orjson() -> Any:
    global _orjson, _SORTED
    try:
        import orjson
    except ImportError:  # pragma: no cover - CPython wheels exist wherever heso-core installs it
        _orjson = None
        return None
    _SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
    _orjson = orjson
    return orjson


def loads_canonical(data: bytes) -> dict[str, Any] | list[Any] | None:
    """The object or array ``data`` holds when ``data`` is provably its own RFC 8785 form.

    A verifier's fast path: ``orjson`` parses ``data`` and prints the value back with sorted
    keys. When the bytes are equal and :func:`_plain` holds for the value, ``data`` is exactly
    ``canonical_bytes(loads_strict(data))``. ``None`` means "not decided here" — anything else
    goes to :func:`loads_strict` and :func:`canonical_bytes`, which decide.
    """
    orjson = _orjson
    if orjson is False:
        orjson = _load_orjson()
    if orjson is None:
        return None
    try:
        value = orjson.loads(data)
        if orjson.dumps(value, option=_SORTED) != data:
            return None
    except (ValueError, TypeError):  # not JSON, an integer beyond ±(2**53-1), ...
        return None
    t = type(value)
    if (t is dict or t is list) and _plain(value, not data.isascii()):
        found: dict[str, Any] | list[Any] = value
        return found
    return None


_FLOAT_LOW = 1e-5
_FLOAT_HIGH = 1e16


def _plain(value: Any, check_keys: bool) -> bool:
    """Whether ``orjson.dumps(value, option=_SORTED)`` is the RFC 8785 form of ``value``.

    The one set of rules both fast paths rest on. ``value`` (an object or array) may hold only
    ``dict``/``list``/``tuple`` (and :class:`CanonicalObject`) containers nested at most
    :data:`MAX_PARSE_DEPTH` deep, and exact ``str``, ``int``, ``bool`` and ``None``: orjson
    escapes every BMP character as RFC 8785 does (the tests compare all of them), prints
    integers as they are (``OPT_STRICT_INTEGER`` refuses those beyond ±(2**53-1)) and refuses
    lone surrogates and non-``str`` keys. Floats only when not integral and
    ``1e-5 <= |x| < 1e16``: there both print the shortest round-trip digits in plain decimal
    layout (outside it they differ: ``1.0``/``1``, ``1e-6``/``0.000001``, ``1e+16``/
    ``10000000000000000``). With ``check_keys`` (the bytes are not ASCII), no object key
    outside the BMP: JCS orders keys by UTF-16 code units, orjson by code points.
    """
    containers: list[Any] = [value]
    append = containers.append
    for node in containers:
        t = type(node)
        if t is dict or t is CanonicalObject:
            if check_keys:
                for key in node:
                    if not key.isascii() and max(key) > "\uffff":
                        return False
            node = node.values()
        for item in node:
            t = type(item)
            if t is str or t is int or t is bool or item is None:
                continue
            if t is dict or t is list or t is CanonicalObject or t is tuple:
                append(item)
            elif t is not float or not _FLOAT_LOW <= abs(item) < _FLOAT_HIGH or item.is_integer():
                return False
    # Fewer containers than the limit cannot nest deeper than it.
    return len(containers) <= MAX_PARSE_DEPTH or _nests_within(value, MAX_PARSE_DEPTH)


def _nests_within(node: Any, levels: int) -> bool:
    """Whether the arrays/objects in ``node`` nest at most ``levels`` deep (bounded recursion)."""
    t = type(node)
    if t is dict or t is CanonicalObject:
        node = node.values()
    elif t is not list and t is not tuple:
        return True
    return levels > 0 and all(_nests_within(item, levels - 1) for item in node)
