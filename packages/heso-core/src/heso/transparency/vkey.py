"""Verifier keys (``vkey``): the one-line text form of a note verifier, parsed and checked.

    <key name>+<hex(32-bit key ID)>+<base64(signature type || public key)>

for example ``sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8``. The key ID
must be the one the name and key imply. Types ``0x01`` (Ed25519 note signatures) and ``0x04``
(witness cosignatures) are understood.
"""

from __future__ import annotations

import base64
import binascii
import re

from heso.errors import TransparencyError
from heso.keys import PublicKey
from heso.transparency.cosignature import COSIGNATURE_V1, CosignatureVerifier
from heso.transparency.note import ED25519, Ed25519Verifier, Verifier, check_key_name, key_id

__all__ = ["parse_vkey"]

_HEX8 = re.compile(r"[0-9a-f]{8}")


def parse_vkey(vkey: str) -> Verifier:
    """The verifier for ``vkey``; raises :class:`TransparencyError` with what is wrong."""
    if not isinstance(vkey, str):
        raise TransparencyError(f"a verifier key is text, not {type(vkey).__name__}")
    vkey = vkey.strip()
    name, _, rest = vkey.partition("+")
    ident, _, b64 = rest.partition("+")
    try:
        check_key_name(name)
    except TransparencyError as exc:
        raise TransparencyError(f"invalid verifier key: {exc}") from None
    if _HEX8.fullmatch(ident) is None:
        raise TransparencyError(
            f"invalid verifier key for {name!r}: the key ID must be 8 lowercase hex digits"
        )
    try:
        blob = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        blob = b""
    if len(blob) < 2:
        raise TransparencyError(
            f"invalid verifier key for {name!r}: the key part is not base64 of type || key "
            "(copy the whole vkey line)"
        )
    kind, raw = blob[0], blob[1:]
    if kind not in (ED25519, COSIGNATURE_V1):
        raise TransparencyError(
            f"verifier key {name!r} has signature type 0x{kind:02x}; heso understands 0x01 "
            "(Ed25519) and 0x04 (Ed25519 cosignatures)"
        )
    if len(raw) != 32:
        raise TransparencyError(
            f"verifier key {name!r}: an Ed25519 key is 32 bytes, got {len(raw)}"
        )
    if key_id(name, kind, raw) != int(ident, 16):
        raise TransparencyError(
            f"verifier key {name!r}: the key ID {ident} does not match the name and key "
            "(a mistyped or altered vkey)"
        )
    try:
        public = PublicKey.from_bytes(raw)
    except ValueError as exc:
        raise TransparencyError(f"verifier key {name!r}: {exc}") from None
    if kind == ED25519:
        return Ed25519Verifier(name, public)
    return CosignatureVerifier(name, public)
