"""Where an action sends something: the recipients of an email address list (RFC 5322 section
3.4, UTF-8 per RFC 6532) and the scheme of a URL, read the way the mail and HTTP stacks that act
on them read them, so a policy sees every real recipient and the real scheme.

>>> [m.domain for m in parse_address_list('"audit@example.com" <eve@evil.example>, b@example.com')]
['evil.example', 'example.com']
>>> url_scheme("  HTTP://example.com")
'http'

An address list is ``address *("," address)``; ``;`` also separates addresses (as mail clients
accept). An address is ``addr-spec`` (``local@domain``), ``[display name] <addr-spec>``, or a
group ``name: mailbox, mailbox;``. Display names, quoted local parts (``"a b"@example.com``),
comments (``(…)``, nested), folding white space and domain literals (``[192.0.2.1]``) are
understood; obsolete forms (source routes ``<@a:b@c>``, empty list elements) are not. Anything
else is an :class:`AddressError`: a policy treats it as indeterminate, never as a pass.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

_ATEXT = frozenset("!#$%&'*+-/=?^_`{|}~")
_URL_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_C0_OR_SPACE = "".join(map(chr, range(0x21)))
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_ASCII_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(
    rf"({_ASCII_ATOM}(?:\.{_ASCII_ATOM})*)@({_ASCII_ATOM}(?:\.{_ASCII_ATOM})*)"
)
_MEMO_TEXT = 320
"""The longest text whose reading is remembered (an address is at most 254 characters)."""
_MEMO_SIZE = 1024
"""Readings remembered, the least recently used dropped first: endless distinct texts from a
hostile model cost time, never memory."""


class AddressError(ValueError):
    """Text that is not an address list."""


class Mailbox(NamedTuple):
    """One recipient: its local part, its domain (lower case) and display name, if any."""

    local_part: str
    domain: str
    display_name: str = ""

    @property
    def address(self) -> str:
        return f"{self.local_part}@{self.domain}"


def _is_atext(c: str) -> bool:
    return (c.isascii() and (c.isalnum() or c in _ATEXT)) or (not c.isascii() and c.isprintable())


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def fail(self, what: str) -> AddressError:
        shown = self.s[self.i : self.i + 12]
        at = f" at {shown!r}" if shown else " at the end"
        return AddressError(f"{what}{at} (position {self.i})")

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    # -- white space and comments ------------------------------------------------------

    def fws(self) -> bool:
        """Folding white space: blanks, or CRLF followed by a blank."""
        start = self.i
        s = self.s
        while self.i < len(s):
            if s[self.i] in " \t":
                self.i += 1
            elif s.startswith("\r\n", self.i) and s[self.i + 2 : self.i + 3] in (" ", "\t"):
                self.i += 3
            else:
                break
        return self.i > start

    def cfws(self) -> None:
        while True:
            self.fws()
            if self.peek() != "(":
                return
            self.comment()

    def comment(self) -> None:
        depth = 0
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c == "(":
                depth += 1
                self.i += 1
            elif c == ")":
                depth -= 1
                self.i += 1
                if depth == 0:
                    return
            elif c == "\\":
                self.quoted_pair()
            elif self.fws():
                continue
            elif c.isprintable() and c != " ":
                self.i += 1
            else:
                raise self.fail("invalid character in a comment")
        raise self.fail("unclosed comment")

    def quoted_pair(self) -> str:
        c = self.s[self.i + 1 : self.i + 2]
        if not c or not (c.isprintable() or c == "\t"):
            raise self.fail("invalid escape")
        self.i += 2
        return c

    # -- words ---------------------------------------------------------------------------

    def atext(self) -> str:
        start = self.i
        while self.i < len(self.s) and _is_atext(self.s[self.i]):
            self.i += 1
        return self.s[start : self.i]

    def dot_atom_text(self) -> str:
        parts = [self.atext()]
        if not parts[0]:
            raise self.fail("expected a name")
        while (
            self.peek() == "."
            and self.s[self.i + 1 : self.i + 2]
            and (_is_atext(self.s[self.i + 1]))
        ):
            self.i += 1
            parts.append(self.atext())
        return ".".join(parts)

    def quoted_string(self) -> str:
        self.i += 1  # the opening quote
        out: list[str] = []
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c == '"':
                self.i += 1
                return "".join(out)
            if c == "\\":
                out.append(self.quoted_pair())
            elif self.fws():
                out.append(" ")
            elif c.isprintable():
                out.append(c)
                self.i += 1
            else:
                raise self.fail("invalid character in a quoted string")
        raise self.fail("unclosed quoted string")

    def phrase(self) -> str:
        """A display name: words (atoms or quoted strings), and dots as in "John Q. Public"."""
        words = []
        while True:
            self.cfws()
            c = self.peek()
            if c == '"':
                words.append(self.quoted_string())
            elif c and _is_atext(c):
                words.append(self.atext())
            elif c == "." and words:
                self.i += 1
                words.append(".")
            else:
                break
        if not words:
            raise self.fail("expected a name")
        return " ".join(words).replace(" .", ".")

    # -- addresses -----------------------------------------------------------------------

    def addr_spec(self) -> Mailbox:
        self.cfws()
        local = self.quoted_string() if self.peek() == '"' else self.dot_atom_text()
        self.cfws()
        if self.peek() != "@":
            raise self.fail("expected @")
        self.i += 1
        self.cfws()
        if self.peek() == "[":
            domain = self.domain_literal()
        else:
            domain = self.dot_atom_text()
        self.cfws()
        return Mailbox(local, domain.lower())

    def domain_literal(self) -> str:
        start = self.i
        self.i += 1
        while self.i < len(self.s) and self.s[self.i] != "]":
            c = self.s[self.i]
            if not (33 <= ord(c) <= 126) or c in "[\\":
                raise self.fail("invalid character in a domain literal")
            self.i += 1
        if self.peek() != "]":
            raise self.fail("unclosed domain literal")
        self.i += 1
        return self.s[start : self.i]

    def angle_addr(self, name: str) -> Mailbox:
        self.cfws()
        if self.peek() != "<":
            raise self.fail("expected <")
        self.i += 1
        if self.peek() == "@":
            raise self.fail("source routes are not accepted")
        mailbox = self.addr_spec()
        if self.peek() != ">":
            raise self.fail("expected >")
        self.i += 1
        self.cfws()
        return mailbox._replace(display_name=name)

    def mailbox(self) -> Mailbox:
        start = self.i
        try:
            found = self.addr_spec()
        except AddressError:
            found = None
        if found is not None and self.peek() in ("", ",", ";"):
            return found
        self.i = start
        self.cfws()
        name = "" if self.peek() == "<" else self.phrase()
        return self.angle_addr(name)

    def address(self) -> list[Mailbox]:
        start = self.i
        try:
            return [self.mailbox()]
        except AddressError as error:
            self.i = start
            try:
                self.phrase()
            except AddressError:
                raise error from None
            self.cfws()
            if self.peek() != ":":
                raise error from None
        return self.group()

    def group(self) -> list[Mailbox]:
        self.i += 1  # ":"
        members: list[Mailbox] = []
        self.cfws()
        while self.peek() != ";":
            if members:
                if self.peek() != ",":
                    raise self.fail("expected , or ; in a group")
                self.i += 1
            members.append(self.mailbox())
            self.cfws()
        self.i += 1
        self.cfws()
        return members

    def address_list(self) -> list[Mailbox]:
        self.cfws()
        if self.i == len(self.s):
            return []
        found = self.address()
        while self.i < len(self.s):
            separator = self.peek()
            if separator not in (",", ";"):
                raise self.fail("expected , or ; between addresses")
            self.i += 1
            self.cfws()
            if self.i == len(self.s) and separator == ";":
                break  # "a@x;": a trailing semicolon ends the list
            found.extend(self.address())
        return found


def parse_address_list(text: str) -> list[Mailbox]:
    """Every mailbox in an address list (group members included); ``[]`` for blank text.
    Raises :class:`AddressError` for anything that is not an address list."""
    plain = _PLAIN_ADDRESS.fullmatch(text)
    if plain is not None:  # one bare ASCII local@domain: what the parser reads, at once
        return [Mailbox(plain[1], plain[2].lower())]
    return _Parser(text).address_list()


def recipients(value: object) -> list[Mailbox] | None:
    """The mailboxes of a field: an address list, or an array of them; ``None`` when any
    part is not one (or not text)."""
    readings = _readings(value)
    return None if readings is None else [m for found, _ in readings for m in found]


def recipient_domains(value: object) -> frozenset[str] | None:
    """The domains of :func:`recipients` (lower case); ``None`` where it gives ``None``."""
    if type(value) is str or (type(value) is list and len(value) == 1):
        reading = _reading(value if type(value) is str else value[0])
        return None if reading is None else reading[1]
    readings = _readings(value)
    return None if readings is None else frozenset().union(*(d for _, d in readings))


_Reading = tuple[tuple[Mailbox, ...], frozenset[str]]


def _readings(value: object) -> list[_Reading] | None:
    """The reading of each address list in ``value`` (one, or an array of them)."""
    items = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for item in items:
        reading = _reading(item)
        if reading is None:
            return None
        out.append(reading)
    return out


def _reading(item: object) -> _Reading | None:
    if type(item) is not str:
        return None
    return _read(item) if len(item) <= _MEMO_TEXT else _read.__wrapped__(item)


@lru_cache(maxsize=_MEMO_SIZE)
def _read(text: str) -> _Reading | None:
    """(the mailboxes of ``text``, their domains), or ``None`` for no address list; texts up to
    :data:`_MEMO_TEXT` characters are remembered."""
    try:
        found = tuple(parse_address_list(text))
    except AddressError:
        return None
    return found, frozenset(m.domain for m in found)


def url_scheme(value: object) -> str | None:
    """The scheme of an absolute URL, lower case, read as browsers and HTTP clients read it
    (surrounding control characters and spaces ignored, tabs and newlines removed); ``None``
    for anything else (a relative URL, not text)."""
    if type(value) is not str:
        return None
    text = _URL_TAB_OR_NEWLINE.sub("", value.strip(_C0_OR_SPACE))
    m = _SCHEME.match(text)
    if m is None or text[m.end() : m.end() + 1] != ":":
        return None
    return m.group().lower()


__all__ = [
    "AddressError",
    "Mailbox",
    "parse_address_list",
    "recipient_domains",
    "recipients",
    "url_scheme",
]
