"""A TOML file with line/column locations, so any module can point an error at a key.

:class:`TomlSource` parses with ``tomllib`` (``tomli`` on Python 3.10); a syntax error becomes a
:class:`~heso.errors.HesoConfigError` with the file, line and column. After a successful parse,
:meth:`TomlSource.locate` finds where a key path such as ``("rule", 3, "conditions", 0, "op")``
is written, by scanning the text the way a TOML parser would (table and array-of-tables headers,
dotted keys, inline tables, multi-line arrays and strings). :meth:`TomlSource.error` builds the
error that names the file, the line, the column, the key and a hint.
"""

from __future__ import annotations

import bisect
import difflib
import os
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from heso.errors import HesoConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

KeyPath = tuple[str | int, ...]

_AT_LINE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_AT_END = re.compile(r"\s*\(at end of document\)\s*$")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")

_SYNTAX_HINTS = (
    ("Cannot overwrite a value", "this key is already set above; keep only one of them"),
    ("Cannot declare", "this table header appears twice; merge the two tables"),
    ("Duplicate inline table key", "this key appears twice in the inline table"),
    ("Unterminated string", 'close the string with a matching quote: key = "text"'),
    ("Illegal character", 'close the string on the same line, or use """ for multi-line text'),
    ("Invalid value", 'text values need quotes: key = "text"; true and false are lower case'),
    ("Expected '=' after a key", 'write key = value; keys with spaces need quotes: "my key" = 1'),
    ("Unclosed array", "close the array with ]"),
    ("Unclosed inline table", "close the inline table with } on the same line"),
    ("Expected newline or end of document", "put one key = value per line"),
    ("Invalid initial character for a key part", "check for a stray comma or a missing quote"),
)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word`` (case-insensitive), or ``None`` if none is close."""
    matches = close_matches(word, choices, n=1)
    return matches[0] if matches else None


def close_matches(
    word: str, choices: Iterable[str], *, n: int = 3, cutoff: float = 0.6
) -> list[str]:
    """Up to ``n`` of ``choices`` closest to ``word``, best first (case-insensitive)."""
    by_lower: dict[str, str] = {}
    for choice in choices:
        by_lower.setdefault(choice.lower(), choice)
    found = difflib.get_close_matches(str(word).lower(), list(by_lower), n=n, cutoff=cutoff)
    return [by_lower[f] for f in found]


def type_name(value: Any) -> str:
    """How a TOML value's type reads in a message: "a string", "an array", "a table"."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date/time" if hasattr(value, "isoformat") else type(value).__name__


def format_key(key_path: Sequence[str | int]) -> str:
    """A key path as written in messages: ``rule[3].conditions[0].op``."""
    out = ""
    for part in key_path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if _BARE_KEY.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
            out += ("." if out else "") + text
    return out


class TomlSource:
    """The text, parsed data and key locations of one TOML document."""

    def __init__(self, text: str, path: str | Path = "heso.toml") -> None:
        self.path = str(path)
        self.text = text[1:] if text.startswith("\ufeff") else text
        self._locations: dict[KeyPath, tuple[int, int]] | None = None
        self._line_starts: list[int] | None = None
        self.data: dict[str, Any] = self._parse()

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> TomlSource:
        """Read and parse ``path``; a missing, unreadable or invalid file is a config error."""
        p = Path(path)
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            raise HesoConfigError(
                "file not found",
                path=p,
                hint="create it with `heso init`, or pass the path of an existing file",
            ) from None
        except IsADirectoryError:
            raise HesoConfigError(
                "is a directory, not a TOML file", path=p, hint="pass the path of the file itself"
            ) from None
        except OSError as exc:
            raise HesoConfigError(
                f"cannot read file: {exc.strerror or exc}", path=p, hint="check its permissions"
            ) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            raise HesoConfigError(
                "file is not valid UTF-8",
                path=p,
                line=line,
                column=column,
                hint="save the file as UTF-8",
            ) from None
        return cls(text, p)

    def _parse(self) -> dict[str, Any]:
        try:
            return tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            raise self._syntax_error(exc) from None
        except RecursionError:
            raise HesoConfigError(
                "invalid TOML: arrays or inline tables nested too deeply",
                path=self.path,
                hint="a policy never needs more than a few levels of nesting",
            ) from None

    def _syntax_error(self, exc: Exception) -> HesoConfigError:
        full = str(exc).splitlines()[0] if str(exc) else "error"
        message = str(getattr(exc, "msg", None) or full)
        line: int | None = getattr(exc, "lineno", None)
        column: int | None = getattr(exc, "colno", None)
        m = _AT_LINE.search(message)
        if m:
            line, column = int(m.group(1)), int(m.group(2))
            message = message[: m.start()]
        if _AT_END.search(full):
            message = _AT_END.sub("", message)
            line, column = self.position(len(self.text.rstrip()))
        hint = next((h for prefix, h in _SYNTAX_HINTS if message.startswith(prefix)), None)
        return HesoConfigError(
            f"invalid TOML: {message}", path=self.path, line=line, column=column, hint=hint
        )

    def position(self, offset: int) -> tuple[int, int]:
        """The 1-based (line, column) of a character offset in the text."""
        if self._line_starts is None:
            self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        index = bisect.bisect_right(self._line_starts, offset) - 1
        return index + 1, offset - self._line_starts[index] + 1

    def locate(
        self, key_path: Sequence[str | int], *, value: bool = False
    ) -> tuple[int, int] | None:
        """Where ``key_path`` is written, as (line, column); ``value=True`` points at its value.

        A path that is not written in the file (a missing key) resolves to its nearest written
        ancestor, e.g. the ``[[rule]]`` header of a rule that lacks ``decision``.
        """
        if self._locations is None:
            scanner = _Scanner(self.text)
            try:
                scanner.run()
            except (IndexError, ValueError, RecursionError):  # pragma: no cover
                pass
            self._locations = scanner.locations
        path = tuple(key_path)
        while path:
            found = self._locations.get(path)
            if found is not None:
                return self.position(found[1] if value else found[0])
            path = path[:-1]
        return None

    def error(
        self,
        message: str,
        key_path: Sequence[str | int] = (),
        *,
        hint: str | None = None,
        value: bool = False,
    ) -> HesoConfigError:
        """A config error located at ``key_path`` (or its value), naming the key."""
        where = self.locate(key_path, value=value) if key_path else None
        return HesoConfigError(
            message,
            path=self.path,
            line=where[0] if where else None,
            column=where[1] if where else None,
            key=format_key(key_path) if key_path else None,
            hint=hint,
        )


class _Scanner:
    """Finds the offsets of keys and values in valid TOML text.

    ``locations`` maps a resolved key path to (key offset, value offset); an array element's
    key and value offsets are both where the element starts.
    """

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.locations: dict[KeyPath, tuple[int, int]] = {}
        self._aot: dict[KeyPath, int] = {}

    def run(self) -> None:
        s = self.s
        table: KeyPath = ()
        while True:
            self._skip_blank(newlines=True)
            if self.i >= len(s):
                return
            start = self.i
            if s.startswith("[[", start):
                self.i += 2
                keys = self._key()
                self._skip_blank()
                self.i += 2
                prefix = self._resolve([k for k, _ in keys[:-1]])
                full = (*prefix, keys[-1][0])
                count = self._aot.get(full, 0)
                self._aot[full] = count + 1
                table = (*full, count)
                self._record_parts(prefix, keys[:-1])
                self.locations.setdefault(full, (keys[-1][1], start))
                self.locations[table] = (start, start)
            elif s[start] == "[":
                self.i += 1
                keys = self._key()
                self._skip_blank()
                self.i += 1
                table = self._resolve([k for k, _ in keys])
                self._record_parts(table, keys)
            else:
                self._keyval(table)

    def _resolve(self, keys: list[str]) -> KeyPath:
        path: KeyPath = ()
        for key in keys:
            path = (*path, key)
            if path in self._aot:
                path = (*path, self._aot[path] - 1)
        return path

    def _record_parts(self, resolved: KeyPath, keys: list[tuple[str, int]]) -> None:
        """Record each header part at its key token, skipping array-of-tables indexes."""
        parts = [i for i, p in enumerate(resolved) if not isinstance(p, int)]
        for (_, offset), end in zip(keys, parts, strict=False):
            self.locations.setdefault(resolved[: end + 1], (offset, offset))

    def _skip_blank(self, *, newlines: bool = False) -> None:
        s, n = self.s, len(self.s)
        while self.i < n:
            c = s[self.i]
            if c in " \t" or (newlines and c in "\r\n"):
                self.i += 1
            elif c == "#":
                while self.i < n and s[self.i] != "\n":
                    self.i += 1
            else:
                return

    def _key(self) -> list[tuple[str, int]]:
        """A dotted key as (part, offset) pairs."""
        parts: list[tuple[str, int]] = []
        while True:
            self._skip_blank()
            start = self.i
            c = self.s[start]
            if c == '"':
                end = self._basic_end(start + 1)
                parts.append((_unescape(self.s[start + 1 : end - 1]), start))
                self.i = end
            elif c == "'":
                end = self.s.index("'", start + 1) + 1
                parts.append((self.s[start + 1 : end - 1], start))
                self.i = end
            else:
                m = _BARE_KEY.match(self.s, start)
                if m is None:
                    raise ValueError("not a key")
                parts.append((m.group(), start))
                self.i = m.end()
            self._skip_blank()
            if self.i < len(self.s) and self.s[self.i] == ".":
                self.i += 1
                continue
            return parts

    def _keyval(self, base: KeyPath) -> None:
        keys = self._key()
        self._skip_blank()
        self.i += 1  # "="
        self._skip_blank()
        path = base
        for name, offset in keys:
            path = (*path, name)
            self.locations.setdefault(path, (offset, self.i))
        self.locations[path] = (keys[-1][1], self.i)
        self._value(path)

    def _basic_end(self, j: int) -> int:
        """Offset just past the closing quote of a one-line basic string starting at ``j``."""
        s = self.s
        while s[j] != '"':
            j += 2 if s[j] == "\\" else 1
        return j + 1

    def _value(self, path: KeyPath) -> None:
        s = self.s
        c = s[self.i]
        if s.startswith('"""', self.i) or s.startswith("'''", self.i):
            quote = s[self.i : self.i + 3]
            j = self.i + 3
            while not s.startswith(quote, j):
                j += 2 if (s[j] == "\\" and quote == '"""') else 1
            j += 3
            while j < len(s) and s[j] == quote[0] and j - self.i < 8:
                j += 1
            self.i = j
        elif c == '"':
            self.i = self._basic_end(self.i + 1)
        elif c == "'":
            self.i = s.index("'", self.i + 1) + 1
        elif c == "[":
            self.i += 1
            index = 0
            while True:
                self._skip_blank(newlines=True)
                if s[self.i] == "]":
                    self.i += 1
                    return
                element = (*path, index)
                self.locations[element] = (self.i, self.i)
                self._value(element)
                index += 1
                self._skip_blank(newlines=True)
                if s[self.i] == ",":
                    self.i += 1
        elif c == "{":
            self.i += 1
            while True:
                self._skip_blank(newlines=True)
                if s[self.i] == "}":
                    self.i += 1
                    return
                self._keyval(path)
                self._skip_blank(newlines=True)
                if s[self.i] == ",":
                    self.i += 1
        else:
            n = len(s)
            while self.i < n and s[self.i] not in ",]}#\r\n":
                self.i += 1


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    try:
        return str(tomllib.loads(f'k = "{text}"')["k"])
    except tomllib.TOMLDecodeError:  # pragma: no cover - the text already parsed once
        return text


__all__ = [
    "KeyPath",
    "TomlSource",
    "close_matches",
    "did_you_mean",
    "format_key",
    "type_name",
]
