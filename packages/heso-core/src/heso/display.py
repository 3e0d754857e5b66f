"""Text that an agent or the store supplied, made safe to show a human.

A tool name, a field or a reason can carry terminal escapes (ANSI CSI and OSC sequences, C1
controls), bidi overrides and isolates, zero-width characters or line separators that make a
terminal or a page show something other than what is stored. Every such character becomes a
visible escape: the characters ``str.isprintable()`` rejects (Unicode categories Cc, Cf, Cs,
Co, Cn, Zl, Zp, and Zs other than the space) are written ``\\xNN``, ``\\uNNNN`` or
``\\UNNNNNNNN``. ``heso-ui.js`` (``escapeText``) applies the same
rule in the console and the offline page.
"""

from __future__ import annotations

import re

_NOT_PRINTABLE_OUTSIDE_ASCII = re.compile(r"[^\n -~]")


def _escape_char(ch: str) -> str:
    cp = ord(ch)
    if cp < 0x100:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def escape(text: str) -> str:
    """``text`` with every non-printable character (newlines included) as a visible escape."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape_char(ch) for ch in text)


def escape_lines(text: str) -> str:
    """Like :func:`escape`, keeping line breaks: for text whose lines the caller composed."""
    return "\n".join(escape(line) for line in text.split("\n"))


def _json_escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch.isprintable():
        return ch
    cp = ord(ch)
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    cp -= 0x10000
    return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"


def escape_json(text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with every non-printable
    character inside its strings written as a ``\\uXXXX`` escape: the same JSON value, safe
    on a terminal."""
    return _NOT_PRINTABLE_OUTSIDE_ASCII.sub(_json_escape, text)


__all__ = ["escape", "escape_json", "escape_lines"]
