"""Paths into an action's fields: ``amount``, ``customer.email``, ``messages.0.content``.

A path is dot-separated; a segment of digits indexes a list. A key that itself contains a dot
is written in brackets with quotes: ``headers["x.api-key"]``. This one syntax is shared by
policy conditions and redaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

Segment = str | int

_MISSING = object()
MISSING: Any = _MISSING
"""Returned by :func:`get` when the path does not resolve."""

_TOKEN = re.compile(r'\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\[\s*(\d+)\s*\]|([^.\[\]]+)')


@lru_cache(maxsize=4096)
def parse(path: str) -> tuple[Segment, ...]:
    """Split a path into segments; a ``ValueError`` says what is wrong with a malformed one."""
    if not isinstance(path, str) or not path.strip():
        raise ValueError("a field path must be a non-empty string")
    segments: list[Segment] = []
    pos = 0
    expect_sep = False
    while pos < len(path):
        if expect_sep:
            if path[pos] == ".":
                pos += 1
            elif path[pos] != "[":
                raise ValueError(f"unexpected {path[pos]!r} at position {pos} in {path!r}")
        m = _TOKEN.match(path, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"cannot read field path {path!r} at position {pos}")
        quoted, index, bare = m.groups()
        if quoted is not None:
            segments.append(re.sub(r"\\(.)", r"\1", quoted))
        elif index is not None:
            segments.append(int(index))
        else:
            segments.append(int(bare) if bare.isdigit() else bare)
        pos = m.end()
        expect_sep = True
    if path.endswith("."):
        raise ValueError(f"field path {path!r} ends with a dot")
    return tuple(segments)


def get(obj: Any, path: str | tuple[Segment, ...]) -> Any:
    """The value at ``path`` in ``obj``, or :data:`MISSING`."""
    segments = parse(path) if isinstance(path, str) else path
    cur = obj
    for seg in segments:
        if isinstance(cur, Mapping):
            key: Any = seg if isinstance(seg, str) else str(seg)
            if key in cur:
                cur = cur[key]
            elif seg in cur:
                cur = cur[seg]
            else:
                return _MISSING
        elif (
            isinstance(seg, int) and isinstance(cur, Sequence) and not isinstance(cur, (str, bytes))
        ):
            if -len(cur) <= seg < len(cur):
                cur = cur[seg]
            else:
                return _MISSING
        else:
            return _MISSING
    return cur


def compile_get(segments: tuple[Segment, ...]) -> Callable[[Any], Any]:
    """:func:`get` for one parsed path, with plain ``dict`` steps resolved by direct lookups."""
    if not segments or not all(type(s) is str for s in segments):
        return lambda obj: get(obj, segments)
    if len(segments) == 1:
        key = segments[0]

        def get_one(obj: Any) -> Any:
            if type(obj) is dict:
                return obj.get(key, _MISSING)
            return get(obj, segments)

        return get_one

    def get_path(obj: Any) -> Any:
        cur = obj
        for i, key in enumerate(segments):
            if type(cur) is not dict:
                return get(cur, segments[i:])
            cur = cur.get(key, _MISSING)
            if cur is _MISSING:
                break
        return cur

    return get_path


def render(segments: Sequence[Segment]) -> str:
    """The canonical text of a parsed path."""
    out: list[str] = []
    for seg in segments:
        if isinstance(seg, int):
            out.append(str(seg))
        elif "." in seg or "[" in seg or "]" in seg or seg.isdigit():
            esc = seg.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'["{esc}"]')
        else:
            out.append(seg)
    text = ""
    for i, part in enumerate(out):
        text += part if i == 0 or part.startswith("[") else "." + part
    return text
