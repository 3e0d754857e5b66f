"""The encrypted key-file format (``docs/spec/keys.md``), as bytes: a JSON document whose
seed is sealed with XSalsa20-Poly1305 under a key derived from a passphrase with Argon2id, the
cleartext header bound into that key. No file IO here (:mod:`heso.keys.files`)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import nacl.exceptions
import nacl.secret
import nacl.utils
from nacl.pwhash import argon2id

from heso.errors import HesoConfigError, KeyDecryptionError
from heso.keys.primitives import SEED_BYTES, PublicKey, SigningKey

KEY_FILE_VERSION: Final = 1
DEFAULT_KDF_PROFILE: Final = "moderate"
KDF_PROFILES: Final[Mapping[str, tuple[int, int]]] = MappingProxyType(
    {
        "moderate": (argon2id.OPSLIMIT_MODERATE, argon2id.MEMLIMIT_MODERATE),
        "interactive": (argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE),
    }
)
"""Argon2id ``(opslimit, memlimit)`` per profile. ``interactive`` is meant for tests and CI."""

ENV_KDF_PROFILE: Final = "HESO_KDF_PROFILE"
MAX_KEY_FILE_BYTES: Final = 64 * 1024

_FILE_TYPE: Final = "heso-key"
_KDF_NAME: Final = "argon2id"
_CIPHER_NAME: Final = "xsalsa20-poly1305"
_ROLES: Final = frozenset({"operator", "approver", "witness"})
# Reading accepts up to libsodium's "sensitive" limits so a crafted file cannot make us
# allocate terabytes; anything heso writes is well inside.
_OPSLIMIT_RANGE: Final = (argon2id.OPSLIMIT_MIN, argon2id.OPSLIMIT_SENSITIVE)
_MEMLIMIT_RANGE: Final = (argon2id.MEMLIMIT_MIN, argon2id.MEMLIMIT_SENSITIVE)
_BIND_PERSON: Final = b"heso-key-file-v1"


def kdf_limits(profile: str | None) -> tuple[int, int]:
    if profile is not None:
        if profile not in KDF_PROFILES:
            raise ValueError(
                f"unknown KDF profile {profile!r}; expected one of {sorted(KDF_PROFILES)}"
            )
        return KDF_PROFILES[profile]
    name = os.environ.get(ENV_KDF_PROFILE) or DEFAULT_KDF_PROFILE
    if name not in KDF_PROFILES:
        raise HesoConfigError(
            f"unknown {ENV_KDF_PROFILE} {name!r}",
            key=ENV_KDF_PROFILE,
            hint=f"use one of {', '.join(sorted(KDF_PROFILES))}, or unset it for the default",
        )
    return KDF_PROFILES[name]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclasses.dataclass(frozen=True)
class KeyDocument:
    """A parsed, validated key file."""

    role: str
    public_key: PublicKey
    require_passphrase: bool
    opslimit: int
    memlimit: int
    salt: bytes
    nonce: bytes
    ciphertext: bytes

    def _header(self) -> dict[str, Any]:
        return {
            "type": _FILE_TYPE,
            "version": KEY_FILE_VERSION,
            "role": self.role,
            "public_key": self.public_key.to_str(),
            "require_passphrase": self.require_passphrase,
            "kdf": {
                "name": _KDF_NAME,
                "opslimit": self.opslimit,
                "memlimit": self.memlimit,
                "salt": _b64(self.salt),
            },
            "cipher": {"name": _CIPHER_NAME},
        }

    def header_bytes(self) -> bytes:
        """Every field except nonce and ciphertext, canonically: bound into the box key."""
        return json.dumps(self._header(), sort_keys=True, separators=(",", ":")).encode()

    def to_bytes(self) -> bytes:
        document = self._header()
        document["cipher"]["nonce"] = _b64(self.nonce)
        document["cipher"]["ciphertext"] = _b64(self.ciphertext)
        return (json.dumps(document, indent=2) + "\n").encode()


def _box_key(passphrase: bytes, doc: KeyDocument) -> bytes:
    # SecretBox has no associated data, so the cleartext header is bound by mixing it into the
    # key: changing any header field makes decryption fail like a wrong passphrase.
    derived = argon2id.kdf(32, passphrase, doc.salt, opslimit=doc.opslimit, memlimit=doc.memlimit)
    return hashlib.blake2b(
        doc.header_bytes(), key=derived, digest_size=32, person=_BIND_PERSON
    ).digest()


def check_passphrase_type(passphrase: bytes) -> None:
    if not isinstance(passphrase, bytes):
        raise TypeError(
            f"a passphrase is bytes, not {type(passphrase).__name__} (encode it, e.g. .encode())"
        )


def seal(
    key: SigningKey,
    passphrase: bytes,
    *,
    role: str,
    require_passphrase: bool,
    kdf_profile: str | None,
) -> KeyDocument:
    if not isinstance(key, SigningKey):
        raise TypeError(f"expected a SigningKey, not {type(key).__name__}")
    check_passphrase_type(passphrase)
    if not passphrase:
        raise ValueError("the passphrase must not be empty")
    if role not in _ROLES:
        raise ValueError(f"unknown key role {role!r}; expected one of {sorted(_ROLES)}")
    opslimit, memlimit = kdf_limits(kdf_profile)
    doc = KeyDocument(
        role=role,
        public_key=key.public_key(),
        require_passphrase=bool(require_passphrase),
        opslimit=opslimit,
        memlimit=memlimit,
        salt=nacl.utils.random(argon2id.SALTBYTES),
        nonce=nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE),
        ciphertext=b"",
    )
    box = nacl.secret.SecretBox(_box_key(passphrase, doc))
    sealed = box.encrypt(key.private_bytes_unsafe(), doc.nonce)
    return dataclasses.replace(doc, ciphertext=sealed.ciphertext)


def corrupt(path: Path, detail: str) -> KeyDecryptionError:
    return KeyDecryptionError(
        f"not a valid heso key file: {detail}",
        path=path,
        hint="the file is damaged; restore it from a backup",
    )


def _field(mapping: Mapping[str, Any], name: str, kind: type, path: Path) -> Any:
    value = mapping.get(name)
    if type(value) is not kind:
        raise corrupt(path, f"field {name!r} is missing or not a {kind.__name__}")
    return value


def _b64_field(mapping: Mapping[str, Any], name: str, size: int, path: Path) -> bytes:
    try:
        value = base64.b64decode(_field(mapping, name, str, path), validate=True)
    except binascii.Error:
        raise corrupt(path, f"field {name!r} is not base64") from None
    if len(value) != size:
        raise corrupt(path, f"field {name!r} is {len(value)} bytes, expected {size}")
    return value


def parse_document(path: Path, raw: bytes) -> KeyDocument:
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise corrupt(path, f"not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    except ValueError:
        raise corrupt(path, "not valid UTF-8 JSON") from None
    except RecursionError:
        raise corrupt(path, "not valid JSON (nested too deeply)") from None
    if not isinstance(document, dict) or document.get("type") != _FILE_TYPE:
        raise corrupt(path, f'not a JSON object with "type": "{_FILE_TYPE}"')
    version = _field(document, "version", int, path)
    if version != KEY_FILE_VERSION:
        newer = version > KEY_FILE_VERSION
        raise KeyDecryptionError(
            f"unsupported key file version {version} (this heso reads version {KEY_FILE_VERSION})",
            path=path,
            hint="upgrade heso to read it" if newer else "restore the file from a backup",
        )
    role = _field(document, "role", str, path)
    if role not in _ROLES:
        raise corrupt(path, f"unknown role {role!r}")
    try:
        public_key = PublicKey.from_str(_field(document, "public_key", str, path))
    except ValueError as exc:
        raise corrupt(path, str(exc)) from None
    kdf = _field(document, "kdf", dict, path)
    if kdf.get("name") != _KDF_NAME:
        raise corrupt(path, f"unsupported kdf (expected {_KDF_NAME!r})")
    opslimit = _field(kdf, "opslimit", int, path)
    memlimit = _field(kdf, "memlimit", int, path)
    if not (_OPSLIMIT_RANGE[0] <= opslimit <= _OPSLIMIT_RANGE[1]):
        raise corrupt(path, f"kdf opslimit {opslimit} is out of range {_OPSLIMIT_RANGE}")
    if not (_MEMLIMIT_RANGE[0] <= memlimit <= _MEMLIMIT_RANGE[1]):
        raise corrupt(path, f"kdf memlimit {memlimit} is out of range {_MEMLIMIT_RANGE}")
    cipher = _field(document, "cipher", dict, path)
    if cipher.get("name") != _CIPHER_NAME:
        raise corrupt(path, f"unsupported cipher (expected {_CIPHER_NAME!r})")
    return KeyDocument(
        role=role,
        public_key=public_key,
        require_passphrase=_field(document, "require_passphrase", bool, path),
        opslimit=opslimit,
        memlimit=memlimit,
        salt=_b64_field(kdf, "salt", argon2id.SALTBYTES, path),
        nonce=_b64_field(cipher, "nonce", nacl.secret.SecretBox.NONCE_SIZE, path),
        ciphertext=_b64_field(
            cipher, "ciphertext", SEED_BYTES + nacl.secret.SecretBox.MACBYTES, path
        ),
    )


def unseal(doc: KeyDocument, passphrase: bytes) -> SigningKey | str:
    """The key, or why it could not be unlocked. Returns instead of raising so that no
    exception is ever raised from a frame holding derived secrets."""
    try:
        box = nacl.secret.SecretBox(_box_key(passphrase, doc))
    except (nacl.exceptions.CryptoError, MemoryError):
        return f"Argon2id key derivation failed (it needs {doc.memlimit} bytes of memory)"
    try:
        key = SigningKey.from_private_bytes(box.decrypt(doc.ciphertext, doc.nonce))
    except nacl.exceptions.CryptoError:
        return "cannot decrypt the key: wrong passphrase, or the file was modified"
    if key.public_key() != doc.public_key:
        return "the decrypted key does not match the file's public key"
    return key


GENERIC_DECRYPT_HINT: Final = (
    "check the passphrase; if it is right, the file was damaged or edited: restore it from a backup"
)


__all__ = [
    "DEFAULT_KDF_PROFILE",
    "ENV_KDF_PROFILE",
    "GENERIC_DECRYPT_HINT",
    "KDF_PROFILES",
    "KEY_FILE_VERSION",
    "MAX_KEY_FILE_BYTES",
    "KeyDocument",
    "check_passphrase_type",
    "corrupt",
    "kdf_limits",
    "parse_document",
    "seal",
    "unseal",
]
