"""Text that tries to make a terminal or a page show something other than what is stored.

Each value is one technique; tests put them in tool names, fields, labels and reasons and
check that every surface shows them as visible escapes (``heso.display``).
"""

from __future__ import annotations

HOSTILE = {
    "csi": "\x1b[2K\r\x1b[1A",
    "sgr": "\x1b[8mhidden\x1b[0m",
    "osc-title": "\x1b]0;approved\x07",
    "osc-link": "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "c1-csi": "\x9b2K",
    "c1-osc": "\x9d0;t\x9c",
    "nel": "\x85",
    "rlo": "\u202e",
    "lro": "\u202d",
    "embeddings": "\u202a\u202b\u202c",
    "isolates": "\u2066\u2067\u2068\u2069",
    "marks": "\u200e\u200f\u061c",
    "zero-width": "\u200b\u200c\u200d\u2060\ufeff",
    "soft-hyphen": "\u00ad",
    "line-separators": "\u2028\u2029",
    "c0": "\x00\x07\x08\t\n\x0b\x0c\r\x7f",
    "tag": "\U000e0041\U000e007f",
}
"""Technique name → a string using it."""

PRINTABLE = ["plain", "héllo wörld", "日本語テキスト", "emoji 😀", r"a literal \x1b", "tab-less"]
"""Text that must be shown unchanged."""

HIDDEN = frozenset(ch for text in HOSTILE.values() for ch in text if not ch.isprintable())
"""Every character of :data:`HOSTILE` that must never be shown raw."""
