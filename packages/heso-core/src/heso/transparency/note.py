"""C2SP ``signed-note``: a text signed by one or more keys, and its Ed25519 signatures.

A note is its text (UTF-8, ending in a newline), a blank line, then one signature line per
signature: ``— <key name> <base64(key ID || signature)>``. A key is known by its name and its
4-byte key ID, ``SHA-256(name || 0x0A || type || public key)[:4]`` (type ``0x01`` for Ed25519).

:func:`open_note` follows the spec and Go's ``golang.org/x/mod/sumdb/note``: signatures from
unknown keys are ignored (kept as *unverified*), a known key whose signature fails rejects the
whole note, and a note with no verified signature is rejected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from heso.errors import TransparencyError
from heso.keys import PublicKey, SigningKey

__all__ = [
    "ED25519",
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "Ed25519Signer",
    "Ed25519Verifier",
    "NamedKey",
    "NamedSigner",
    "Note",
    "OpenedNote",
    "Signature",
    "Signer",
    "VerifiedSignature",
    "Verifier",
    "check_key_name",
    "format_vkey",
    "key_id",
    "open_note",
    "parse_note",
    "sign_note",
]

ED25519: Final = 0x01
"""Signature type of plain Ed25519 note signatures."""
MAX_SIGNATURES: Final = 100
"""Signature lines accepted in one note (the spec asks for at least 16; Go allows 100)."""
MAX_NOTE_BYTES: Final = 1 << 20
"""Largest note parsed, 1 MiB."""
SIGNATURE_PREFIX: Final = "\u2014 "  # em dash, space

_SPLIT: Final = "\n\n"


def key_id(name: str, signature_type: int, public_key: bytes) -> int:
    """The 32-bit key ID: ``SHA-256(name || "\\n" || type || public key)[:4]``, big-endian."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_key)
    return int.from_bytes(digest.digest()[:4], "big")


def check_key_name(name: str) -> str:
    """``name`` if it is a valid key name (non-empty, no spaces, no ``+``), else raise."""
    if not isinstance(name, str) or not name:
        raise TransparencyError("a key name must be a non-empty string")
    if "+" in name or any(c.isspace() for c in name) or _has_control(name):
        raise TransparencyError(f"invalid key name {name!r}: no spaces, '+' or control characters")
    return name


def _has_control(text: str) -> bool:
    return any(c < " " and c != "\n" for c in text)


class Verifier(Protocol):
    """A key that checks one kind of note signature."""

    @property
    def name(self) -> str:
        """The key name."""
        ...

    @property
    def key_id(self) -> int:
        """The 32-bit key ID."""
        ...

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (the bytes after the key ID) signs the note ``text``."""
        ...

    def vkey(self) -> str:
        """The verifier key text ``name+hex(key ID)+base64(type || public key)``."""
        ...


class Signer(Protocol):
    """A key that makes one kind of note signature."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def sign(self, text: bytes) -> bytes:
        """The signature bytes (after the key ID) over the note ``text``."""
        ...


def format_vkey(name: str, ident: int, signature_type: int, public_key: bytes) -> str:
    """``name+hex(key ID)+base64(type || public key)``: a verifier key's text form."""
    encoded = base64.b64encode(bytes([signature_type]) + public_key).decode()
    return f"{name}+{ident:08x}+{encoded}"


class NamedKey:
    """An Ed25519 public key under a key name, for one signature type: the name, key ID and
    vkey every verifier shares."""

    signature_type: int = ED25519

    def __init__(self, name: str, public_key: PublicKey) -> None:
        self._name = check_key_name(name)
        self.public_key = public_key
        self._id = key_id(name, self.signature_type, public_key.raw)

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> int:
        return self._id

    def vkey(self) -> str:
        return format_vkey(self._name, self._id, self.signature_type, self.public_key.raw)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.vkey()!r})"


class Ed25519Verifier(NamedKey):
    """Checks Ed25519 note signatures (type ``0x01``) of one named key."""

    signature_type = ED25519

    def verify(self, text: bytes, signature: bytes) -> bool:
        return len(signature) == 64 and self.public_key.verify(signature, text)


class NamedSigner:
    """A private key under a key name: the name and key ID come from its :attr:`verifier`."""

    def __init__(self, verifier: NamedKey, key: SigningKey) -> None:
        self._verifier = verifier
        self._key = key

    @property
    def name(self) -> str:
        return self._verifier.name

    @property
    def key_id(self) -> int:
        return self._verifier.key_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._verifier.vkey()!r})"


class Ed25519Signer(NamedSigner):
    """Signs notes with an Ed25519 key (heso's :class:`~heso.keys.SigningKey`) under a name."""

    def __init__(self, name: str, key: SigningKey) -> None:
        super().__init__(Ed25519Verifier(name, key.public_key()), key)

    def sign(self, text: bytes) -> bytes:
        return self._key.sign(text)

    def verifier(self) -> Ed25519Verifier:
        """The matching verifier."""
        return self._verifier  # type: ignore[return-value]


@dataclass(frozen=True)
class Signature:
    """One signature line: key name, key ID, and the signature bytes after the ID."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        """``— <name> <base64(key ID || signature)>\\n``."""
        blob = self.key_id.to_bytes(4, "big") + self.signature
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"


@dataclass(frozen=True)
class Note:
    """A note's text and its signature lines, as written (nothing verified yet)."""

    text: str
    signatures: tuple[Signature, ...]

    def to_bytes(self) -> bytes:
        """The note in its wire form."""
        return (self.text + "\n" + "".join(s.line() for s in self.signatures)).encode()

    def with_signatures(self, signatures: Iterable[Signature]) -> Note:
        """This note with ``signatures`` added; each replaces one by the same key."""
        new = tuple(signatures)
        keys = {(s.name, s.key_id) for s in new}
        kept = tuple(s for s in self.signatures if (s.name, s.key_id) not in keys)
        return Note(self.text, kept + new)


@dataclass(frozen=True)
class VerifiedSignature:
    """A signature that verified, and the key that verified it."""

    signature: Signature
    verifier: Verifier


@dataclass(frozen=True)
class OpenedNote:
    """A note whose signatures from known keys all verified (at least one)."""

    text: str
    verified: tuple[VerifiedSignature, ...]
    unverified: tuple[Signature, ...]
    """Signatures from keys the caller did not name: ignored, never trusted."""


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise TransparencyError("a note's text must end with a newline")
    if _has_control(text):
        raise TransparencyError("a note may not contain control characters other than newline")


def parse_note(data: bytes | str, *, max_bytes: int = MAX_NOTE_BYTES) -> Note:
    """Split a note into its text and signature lines; checks the syntax only."""
    if isinstance(data, bytes):
        if len(data) > max_bytes:
            raise TransparencyError(f"a note is at most {max_bytes} bytes, got {len(data)}")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TransparencyError(f"a note must be UTF-8: {exc}") from None
    elif len(data.encode("utf-8", "surrogatepass")) > max_bytes:
        raise TransparencyError(f"a note is at most {max_bytes} bytes")
    if _has_control(data) or any("\ud800" <= c <= "\udfff" for c in data):
        raise TransparencyError("a note may not contain control characters other than newline")
    split = data.rfind(_SPLIT)
    if split < 0:
        raise TransparencyError("a note needs a blank line between its text and signatures")
    text, block = data[: split + 1], data[split + 2 :]
    if not block or not block.endswith("\n"):
        raise TransparencyError("a note needs signature lines, each ending with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise TransparencyError(f"a note carries at most {MAX_SIGNATURES} signatures")
    return Note(text, tuple(_parse_signature(line) for line in lines))


def _parse_signature(line: str) -> Signature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise TransparencyError(f"not a signature line (must start with '\u2014 '): {line[:40]!r}")
    name, _, b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
    check_key_name(name)
    try:
        blob = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        blob = b""
    if len(blob) < 5:
        raise TransparencyError(f"malformed signature for key {name!r}")
    return Signature(name, int.from_bytes(blob[:4], "big"), blob[4:])


def sign_note(text: str, signers: Iterable[Signer], *, keep: Iterable[Signature] = ()) -> bytes:
    """A note of ``text`` signed by each of ``signers``; ``keep`` are signatures already on
    it (a signer's new signature replaces one of its own)."""
    _check_text(text)
    raw = text.encode()
    new = []
    for signer in signers:
        check_key_name(signer.name)
        new.append(Signature(signer.name, signer.key_id, signer.sign(raw)))
    note = Note(text, tuple(keep)).with_signatures(new)
    if not note.signatures:
        raise TransparencyError("a note needs at least one signature")
    return note.to_bytes()


def _index(verifiers: Iterable[Verifier]) -> dict[tuple[str, int], Verifier | None]:
    """Verifiers by (name, key ID); ``None`` marks two different keys claiming one pair."""
    known: dict[tuple[str, int], Verifier | None] = {}
    for v in verifiers:
        pair = (v.name, v.key_id)
        if pair in known and (known[pair] is None or known[pair].vkey() != v.vkey()):  # type: ignore[union-attr]
            known[pair] = None
        else:
            known[pair] = v
    return known


def open_note(data: bytes | str | Note, verifiers: Sequence[Verifier]) -> OpenedNote:
    """Parse ``data`` and verify its signatures against ``verifiers`` (the trusted keys).

    Raises :class:`TransparencyError` if the note is malformed, if a signature from a trusted
    key does not verify, or if no trusted key signed it.
    """
    note = data if isinstance(data, Note) else parse_note(data)
    known = _index(verifiers)
    text = note.text.encode()
    verified: list[VerifiedSignature] = []
    unverified: list[Signature] = []
    seen: set[tuple[str, int]] = set()
    for sig in note.signatures:
        pair = (sig.name, sig.key_id)
        if pair not in known:
            if sig not in unverified:
                unverified.append(sig)
            continue
        verifier = known[pair]
        if verifier is None:
            raise TransparencyError(f"ambiguous key {sig.name}+{sig.key_id:08x}: two keys match")
        if pair in seen:
            continue  # a repeated signature by one key counts once
        seen.add(pair)
        if not verifier.verify(text, sig.signature):
            raise TransparencyError(
                f"the signature of key {sig.name}+{sig.key_id:08x} does not verify: "
                "the note was altered or signed by another key"
            )
        verified.append(VerifiedSignature(sig, verifier))
    if not verified:
        names = ", ".join(f"{s.name}+{s.key_id:08x}" for s in unverified) or "none"
        raise TransparencyError(f"no trusted key signed this note (signatures by: {names})")
    return OpenedNote(note.text, tuple(verified), tuple(unverified))
