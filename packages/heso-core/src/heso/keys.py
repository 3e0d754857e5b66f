"""Ed25519 signing and public keys, encrypted key files, passphrases and the did:key form.

A :class:`SigningKey` signs; its :class:`PublicKey` verifies and has two text forms,
``ed25519:<hex>`` and did:key (``z6Mk…``). Key files are JSON: the seed is sealed with
XSalsa20-Poly1305 under a key derived from a passphrase with Argon2id (``docs/spec/keys.md``).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, NoReturn

import nacl.exceptions
import nacl.secret
import nacl.signing
import nacl.utils
from nacl.pwhash import argon2id

try:  # libsodium's crypto_sign through pynacl's own cffi module: the same library and bytes as
    # nacl.signing, without its SignedMessage wrapper and copies (~1.5 µs of a ~16 µs signature).
    from nacl._sodium import ffi as _ffi
    from nacl._sodium import lib as _lib

    _crypto_sign: Any = _lib.crypto_sign
    _crypto_sign_open: Any = _lib.crypto_sign_open
except (ImportError, AttributeError):  # pragma: no cover - another pynacl layout
    _ffi = _crypto_sign = _crypto_sign_open = None

from heso import durable
from heso.errors import HesoConfigError, KeyDecryptionError

__all__ = [
    "DEFAULT_KDF_PROFILE",
    "DEV_PASSPHRASE_FILE",
    "KDF_PROFILES",
    "KEY_FILE_VERSION",
    "OPERATOR_KEY_FILE",
    "PublicKey",
    "SigningKey",
    "approver_key_dir",
    "ensure_operator_key",
    "key_file_requires_passphrase",
    "load_operator_key",
    "read_key_file",
    "read_public_key",
    "resolve_passphrase",
    "write_key_file",
]

DEV_PASSPHRASE_FILE: Final = "DEV-ONLY.passphrase"
OPERATOR_KEY_FILE: Final = "operator.key"
KEY_FILE_VERSION: Final = 1
DEFAULT_KDF_PROFILE: Final = "moderate"
KDF_PROFILES: Final[Mapping[str, tuple[int, int]]] = MappingProxyType(
    {
        "moderate": (argon2id.OPSLIMIT_MODERATE, argon2id.MEMLIMIT_MODERATE),
        "interactive": (argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE),
    }
)
"""Argon2id ``(opslimit, memlimit)`` per profile. ``interactive`` is meant for tests and CI."""

ENV_PASSPHRASE: Final = "HESO_KEY_PASSPHRASE"
ENV_KDF_PROFILE: Final = "HESO_KDF_PROFILE"
ENV_APPROVER_HOME: Final = "HESO_APPROVER_HOME"
ENV_HESO_ENV: Final = "HESO_ENV"

_PREFIX: Final = "ed25519:"
_PUBLIC_KEY_TEXT: Final = re.compile(r"ed25519:[0-9a-f]{64}")
_MULTICODEC_ED25519_PUB: Final = b"\xed\x01"
_B58_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_FILE_TYPE: Final = "heso-key"
_KDF_NAME: Final = "argon2id"
_CIPHER_NAME: Final = "xsalsa20-poly1305"
_ROLES: Final = frozenset({"operator", "approver", "witness"})
_SEED_BYTES: Final = 32
_MAX_KEY_FILE_BYTES: Final = 64 * 1024
# Reading accepts up to libsodium's "sensitive" limits so a crafted file cannot make us
# allocate terabytes; anything heso writes is well inside.
_OPSLIMIT_RANGE: Final = (argon2id.OPSLIMIT_MIN, argon2id.OPSLIMIT_SENSITIVE)
_MEMLIMIT_RANGE: Final = (argon2id.MEMLIMIT_MIN, argon2id.MEMLIMIT_SENSITIVE)
_BIND_PERSON: Final = b"heso-key-file-v1"


def _base58btc(data: bytes) -> str:
    """Base58 with the Bitcoin alphabet; each leading zero byte becomes a ``1``."""
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(_B58_ALPHABET[remainder])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


class PublicKey:
    """An Ed25519 public key: 32 raw bytes, text form ``ed25519:<64 lowercase hex>``."""

    __slots__ = ("_hash", "_raw", "_verify_key")

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes):
            raise TypeError(f"an Ed25519 public key is bytes, not {type(raw).__name__}")
        if len(raw) != 32:
            raise ValueError(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
        self._raw = raw
        self._hash = hash((PublicKey, raw))
        self._verify_key = nacl.signing.VerifyKey(raw)

    @classmethod
    def from_bytes(cls, raw: bytes) -> PublicKey:
        """The key from its 32 raw bytes."""
        return cls(raw)

    @classmethod
    def from_str(cls, text: str) -> PublicKey:
        """Parse ``ed25519:<64 lowercase hex digits>``."""
        if not isinstance(text, str):
            raise TypeError(f"a public key text is str, not {type(text).__name__}")
        if _PUBLIC_KEY_TEXT.fullmatch(text) is None:
            # Never echo the input: a caller may have passed a private key by mistake.
            if not text.startswith(_PREFIX):
                problem = "it does not start with 'ed25519:'"
            elif len(text) != len(_PREFIX) + 64:
                problem = f"it has {len(text) - len(_PREFIX)} characters after the prefix"
            else:
                problem = "it contains characters other than lowercase hex digits"
            raise ValueError(
                f"invalid public key: expected 'ed25519:<64 lowercase hex>'; {problem}"
            )
        return cls(bytes.fromhex(text[len(_PREFIX) :]))

    @property
    def raw(self) -> bytes:
        """The 32 raw key bytes."""
        return self._raw

    def to_str(self) -> str:
        """``ed25519:<64 lowercase hex>``."""
        return _PREFIX + self._raw.hex()

    def did_key(self) -> str:
        """The did:key id (``z6Mk…``): base58btc multibase of ``0xed 0x01 || raw``."""
        return "z" + _base58btc(_MULTICODEC_ED25519_PUB + self._raw)

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is a valid signature of ``data``; never raises on bad input.

        libsodium rejects non-canonical and small-order keys here, so a key that is not a valid
        curve point verifies nothing.
        """
        if _crypto_sign_open is not None and type(signature) is bytes and type(data) is bytes:
            # crypto_sign_open with no output buffer: nacl.signing's own check, without its copies.
            if len(signature) != 64:
                return False
            signed = signature + data
            status: int = _crypto_sign_open(_ffi.NULL, _ffi.NULL, signed, len(signed), self._raw)
            return status == 0
        try:
            self._verify_key.verify(data, signature)
        except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
            return False
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicKey):
            return NotImplemented
        return self._raw == other._raw

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"PublicKey({self.to_str()!r})"

    def __str__(self) -> str:
        return self.to_str()

    def __reduce__(self) -> tuple[Any, ...]:
        return (PublicKey.from_bytes, (self._raw,))


class SigningKey:
    """An Ed25519 private key. Its repr shows only the public key; it cannot be pickled.

    Create one with :meth:`generate` or :meth:`from_private_bytes`, or load one with
    :func:`read_key_file`.
    """

    __slots__ = ("_key", "_public_key", "_sk")

    def __init__(self, key: nacl.signing.SigningKey) -> None:
        if not isinstance(key, nacl.signing.SigningKey):
            raise TypeError("use SigningKey.generate() or SigningKey.from_private_bytes()")
        self._key = key
        self._public_key = PublicKey(bytes(key.verify_key))
        sk = getattr(key, "_signing_key", None)  # libsodium's 64-byte secret key
        self._sk: bytes | None = (
            sk if _crypto_sign is not None and type(sk) is bytes and len(sk) == 64 else None
        )

    @classmethod
    def generate(cls) -> SigningKey:
        """A new random key."""
        return cls(nacl.signing.SigningKey.generate())

    @classmethod
    def from_private_bytes(cls, seed: bytes) -> SigningKey:
        """The key from its 32-byte seed (RFC 8032 private key)."""
        if not isinstance(seed, bytes):
            raise TypeError(f"an Ed25519 private key seed is bytes, not {type(seed).__name__}")
        if len(seed) != _SEED_BYTES:
            raise ValueError(f"an Ed25519 private key seed is 32 bytes, got {len(seed)}")
        return cls(nacl.signing.SigningKey(seed))

    def public_key(self) -> PublicKey:
        """The matching public key."""
        return self._public_key

    def sign(self, data: bytes) -> bytes:
        """The 64-byte detached Ed25519 signature of ``data``."""
        sk = self._sk
        if sk is not None and type(data) is bytes:
            n = len(data)
            out = _ffi.new("unsigned char[]", n + 64)  # signature ‖ message
            if _crypto_sign(out, _ffi.NULL, data, n, sk) == 0:
                signature: bytes = _ffi.buffer(out, 64)[:]
                return signature
        return self._key.sign(data).signature

    def private_bytes_unsafe(self) -> bytes:
        """The 32-byte seed. Only the key file writer should need this."""
        return bytes(self._key)

    def __repr__(self) -> str:
        return f"SigningKey(public_key={self._public_key.to_str()!r})"

    __str__ = __repr__

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("a SigningKey cannot be pickled; store it with heso.keys.write_key_file()")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a SigningKey cannot be pickled; store it with heso.keys.write_key_file()")

    def __getstate__(self) -> NoReturn:
        raise TypeError("a SigningKey cannot be pickled; store it with heso.keys.write_key_file()")

    def __copy__(self) -> SigningKey:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SigningKey:
        return self


# ---------------------------------------------------------------------------------------------
# Key files


def _kdf_limits(profile: str | None) -> tuple[int, int]:
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
class _KeyDocument:
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


def _box_key(passphrase: bytes, doc: _KeyDocument) -> bytes:
    # SecretBox has no associated data, so the cleartext header is bound by mixing it into the
    # key: changing any header field makes decryption fail like a wrong passphrase.
    derived = argon2id.kdf(32, passphrase, doc.salt, opslimit=doc.opslimit, memlimit=doc.memlimit)
    return hashlib.blake2b(
        doc.header_bytes(), key=derived, digest_size=32, person=_BIND_PERSON
    ).digest()


def _check_passphrase_type(passphrase: bytes) -> None:
    if not isinstance(passphrase, bytes):
        raise TypeError(
            f"a passphrase is bytes, not {type(passphrase).__name__} (encode it, e.g. .encode())"
        )


def _seal(
    key: SigningKey,
    passphrase: bytes,
    *,
    role: str,
    require_passphrase: bool,
    kdf_profile: str | None,
) -> _KeyDocument:
    if not isinstance(key, SigningKey):
        raise TypeError(f"expected a SigningKey, not {type(key).__name__}")
    _check_passphrase_type(passphrase)
    if not passphrase:
        raise ValueError("the passphrase must not be empty")
    if role not in _ROLES:
        raise ValueError(f"unknown key role {role!r}; expected one of {sorted(_ROLES)}")
    opslimit, memlimit = _kdf_limits(kdf_profile)
    doc = _KeyDocument(
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


def _corrupt(path: Path, detail: str) -> KeyDecryptionError:
    return KeyDecryptionError(
        f"not a valid heso key file: {detail}",
        path=path,
        hint="the file is damaged; restore it from a backup",
    )


def _field(mapping: Mapping[str, Any], name: str, kind: type, path: Path) -> Any:
    value = mapping.get(name)
    if type(value) is not kind:
        raise _corrupt(path, f"field {name!r} is missing or not a {kind.__name__}")
    return value


def _b64_field(mapping: Mapping[str, Any], name: str, size: int, path: Path) -> bytes:
    try:
        value = base64.b64decode(_field(mapping, name, str, path), validate=True)
    except binascii.Error:
        raise _corrupt(path, f"field {name!r} is not base64") from None
    if len(value) != size:
        raise _corrupt(path, f"field {name!r} is {len(value)} bytes, expected {size}")
    return value


def _parse_document(path: Path, raw: bytes) -> _KeyDocument:
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _corrupt(path, f"not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    except ValueError:
        raise _corrupt(path, "not valid UTF-8 JSON") from None
    except RecursionError:
        raise _corrupt(path, "not valid JSON (nested too deeply)") from None
    if not isinstance(document, dict) or document.get("type") != _FILE_TYPE:
        raise _corrupt(path, f'not a JSON object with "type": "{_FILE_TYPE}"')
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
        raise _corrupt(path, f"unknown role {role!r}")
    try:
        public_key = PublicKey.from_str(_field(document, "public_key", str, path))
    except ValueError as exc:
        raise _corrupt(path, str(exc)) from None
    kdf = _field(document, "kdf", dict, path)
    if kdf.get("name") != _KDF_NAME:
        raise _corrupt(path, f"unsupported kdf (expected {_KDF_NAME!r})")
    opslimit = _field(kdf, "opslimit", int, path)
    memlimit = _field(kdf, "memlimit", int, path)
    if not (_OPSLIMIT_RANGE[0] <= opslimit <= _OPSLIMIT_RANGE[1]):
        raise _corrupt(path, f"kdf opslimit {opslimit} is out of range {_OPSLIMIT_RANGE}")
    if not (_MEMLIMIT_RANGE[0] <= memlimit <= _MEMLIMIT_RANGE[1]):
        raise _corrupt(path, f"kdf memlimit {memlimit} is out of range {_MEMLIMIT_RANGE}")
    cipher = _field(document, "cipher", dict, path)
    if cipher.get("name") != _CIPHER_NAME:
        raise _corrupt(path, f"unsupported cipher (expected {_CIPHER_NAME!r})")
    return _KeyDocument(
        role=role,
        public_key=public_key,
        require_passphrase=_field(document, "require_passphrase", bool, path),
        opslimit=opslimit,
        memlimit=memlimit,
        salt=_b64_field(kdf, "salt", argon2id.SALTBYTES, path),
        nonce=_b64_field(cipher, "nonce", nacl.secret.SecretBox.NONCE_SIZE, path),
        ciphertext=_b64_field(
            cipher, "ciphertext", _SEED_BYTES + nacl.secret.SecretBox.MACBYTES, path
        ),
    )


def _read_document(path: Path, *, missing_hint: str) -> _KeyDocument:
    try:
        with open(path, "rb") as file:
            raw = file.read(_MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise HesoConfigError("key file not found", path=path, hint=missing_hint) from None
    except OSError as exc:
        raise HesoConfigError(f"cannot read key file: {exc.strerror}", path=path) from None
    if len(raw) > _MAX_KEY_FILE_BYTES:
        raise _corrupt(path, f"larger than {_MAX_KEY_FILE_BYTES} bytes")
    return _parse_document(path, raw)


def _unseal(doc: _KeyDocument, passphrase: bytes) -> SigningKey | str:
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


_GENERIC_DECRYPT_HINT: Final = (
    "check the passphrase; if it is right, the file was damaged or edited: restore it from a backup"
)


def write_key_file(
    path: Path,
    key: SigningKey,
    passphrase: bytes,
    *,
    role: str = "operator",
    require_passphrase: bool = False,
    kdf_profile: str | None = None,
) -> None:
    """Encrypt ``key`` under ``passphrase`` into ``path`` (mode 0600), atomically replacing it.

    ``kdf_profile`` (else ``HESO_KDF_PROFILE``, else ``"moderate"``) picks the Argon2id cost;
    the parameters are stored in the file. A missing parent directory is created with mode 0700.
    """
    path = Path(path)
    doc = _seal(
        key, passphrase, role=role, require_passphrase=require_passphrase, kdf_profile=kdf_profile
    )
    _write_private_file(path, doc.to_bytes(), exclusive=False)


def read_key_file(path: Path, passphrase: bytes) -> SigningKey:
    """Decrypt the key in ``path``.

    Raises :class:`HesoConfigError` if the file is missing or unreadable, and
    :class:`KeyDecryptionError` if it is corrupt, of an unknown version, or the passphrase is wrong.
    """
    _check_passphrase_type(passphrase)
    path = Path(path)
    doc = _read_document(path, missing_hint="check the path")
    result = _unseal(doc, passphrase)
    del passphrase  # not in the traceback's locals
    if isinstance(result, str):
        raise KeyDecryptionError(result, path=path, hint=_GENERIC_DECRYPT_HINT)
    return result


def read_public_key(path: Path) -> PublicKey:
    """The cleartext public key of a key file, without the passphrase.

    It is not authenticated until the file is decrypted (:func:`read_key_file` checks it).
    """
    path = Path(path)
    return _read_document(path, missing_hint="check the path").public_key


def key_file_requires_passphrase(path: Path) -> bool:
    """Whether the key file refuses the dev passphrase file (``heso init --require-passphrase``)."""
    path = Path(path)
    return _read_document(path, missing_hint="check the path").require_passphrase


# ---------------------------------------------------------------------------------------------
# Private files


def _write_private_file(path: Path, data: bytes, *, exclusive: bool) -> None:
    """Write ``data`` to ``path`` durably and privately (:func:`heso.durable.write_private`).

    ``exclusive``: raise :class:`FileExistsError` instead of replacing an existing file.
    Other OS errors become :class:`HesoConfigError`.
    """
    try:
        durable.write_private(path, data, exclusive=exclusive)
    except FileExistsError:
        if exclusive:
            raise
        raise HesoConfigError("cannot write: a temporary file is in the way", path=path) from None
    except OSError as exc:
        raise HesoConfigError(f"cannot write: {exc.strerror or exc}", path=path) from None


# ---------------------------------------------------------------------------------------------
# Passphrases and the operator key


def _is_production() -> bool:
    return os.environ.get(ENV_HESO_ENV, "").strip().lower() == "production"


def _env_passphrase() -> bytes | None:
    value = os.environ.get(ENV_PASSPHRASE)
    return value.encode("utf-8", "surrogateescape") if value else None


def _resolve(
    data_dir: Path, *, create_dev: bool, require_real: bool, key_requires: bool | None
) -> tuple[bytes, str]:
    """The passphrase and a description of where it came from.

    ``key_requires`` is the key file's ``require_passphrase`` flag, or None without a key file.
    """
    env = _env_passphrase()
    if env is not None:
        return env, ENV_PASSPHRASE
    dev_file = data_dir / DEV_PASSPHRASE_FILE
    refusal = None
    if _is_production():
        refusal = f"{ENV_HESO_ENV}=production refuses the dev passphrase file"
    elif require_real:
        refusal = "a real passphrase is required (--require-passphrase)"
    elif key_requires:
        refusal = f"{OPERATOR_KEY_FILE} was created with --require-passphrase"
    if refusal is not None:
        raise HesoConfigError(
            f"{ENV_PASSPHRASE} is not set and {refusal}",
            key=ENV_PASSPHRASE,
            hint=f"set {ENV_PASSPHRASE} to the operator key's passphrase",
        )
    try:
        passphrase = dev_file.read_bytes().strip()
    except FileNotFoundError:
        passphrase = None
    except OSError as exc:
        raise HesoConfigError(f"cannot read: {exc.strerror}", path=dev_file) from None
    if passphrase is None and create_dev:
        passphrase = _create_dev_passphrase(dev_file)
    if passphrase is None:
        if key_requires is None:
            raise HesoConfigError(
                "no passphrase for the operator key",
                key=ENV_PASSPHRASE,
                hint=f"set {ENV_PASSPHRASE} or run `heso init`",
            )
        raise HesoConfigError(
            f"{OPERATOR_KEY_FILE} exists but neither {ENV_PASSPHRASE} nor {DEV_PASSPHRASE_FILE}"
            " is available",
            path=data_dir,
            key=ENV_PASSPHRASE,
            hint=f"set {ENV_PASSPHRASE} to the passphrase the key was created with",
        )
    if not passphrase:
        raise HesoConfigError(
            "the dev passphrase file is empty",
            path=dev_file,
            hint=f"set {ENV_PASSPHRASE}, or restore the file",
        )
    return passphrase, str(dev_file)


def _create_dev_passphrase(dev_file: Path) -> bytes:
    token = secrets.token_urlsafe(32).encode("ascii")
    try:
        _write_private_file(dev_file, token + b"\n", exclusive=True)
    except FileExistsError:
        # Another process created it first: use theirs.
        return dev_file.read_bytes().strip()
    return token


def _key_flag(key_path: Path) -> bool | None:
    if not os.path.lexists(key_path):
        return None
    return _read_document(key_path, missing_hint="run `heso init`").require_passphrase


def resolve_passphrase(
    data_dir: Path, *, create_dev: bool = False, require_real: bool = False
) -> bytes:
    """The operator key's passphrase for ``data_dir``.

    ``HESO_KEY_PASSPHRASE`` (non-empty) wins. Otherwise the dev passphrase file is used, created
    only if ``create_dev``; it is refused when ``HESO_ENV=production``, when ``require_real``, or
    when the key file was written with ``require_passphrase``. Raises :class:`HesoConfigError`
    when no passphrase is available.
    """
    data_dir = Path(data_dir)
    passphrase, _ = _resolve(
        data_dir,
        create_dev=create_dev,
        require_real=require_real,
        key_requires=_key_flag(data_dir / OPERATOR_KEY_FILE),
    )
    return passphrase


def _load_operator(data_dir: Path, doc: _KeyDocument) -> SigningKey:
    key_path = data_dir / OPERATOR_KEY_FILE
    if doc.role != "operator":
        raise HesoConfigError(
            f"this is an {doc.role} key, not an operator key",
            path=key_path,
            hint="move it aside and run `heso init`",
        )
    passphrase, source = _resolve(
        data_dir, create_dev=False, require_real=False, key_requires=doc.require_passphrase
    )
    result = _unseal(doc, passphrase)
    del passphrase  # not in the traceback's locals
    if isinstance(result, str):
        raise KeyDecryptionError(
            result,
            path=key_path,
            hint=f"the passphrase came from {source}; check it is the one the key was created"
            f" with ({ENV_PASSPHRASE} takes precedence over {DEV_PASSPHRASE_FILE})",
        )
    return result


def load_operator_key(data_dir: Path) -> SigningKey:
    """Decrypt ``<data_dir>/operator.key``, resolving the passphrase as
    :func:`resolve_passphrase` does (never creating the dev file)."""
    data_dir = Path(data_dir)
    doc = _read_document(
        data_dir / OPERATOR_KEY_FILE, missing_hint="run `heso init` to create the operator key"
    )
    return _load_operator(data_dir, doc)


def ensure_operator_key(
    data_dir: Path, *, require_passphrase: bool = False
) -> tuple[SigningKey, bool]:
    """Load the operator key, or create it if there is none; returns ``(key, created)``.

    An existing key is never overwritten. A new key is encrypted under ``HESO_KEY_PASSPHRASE``,
    else under a newly generated dev passphrase file. ``require_passphrase`` makes
    ``HESO_KEY_PASSPHRASE`` mandatory and is persisted in the key file.
    """
    data_dir = Path(data_dir)
    key_path = data_dir / OPERATOR_KEY_FILE
    if not os.path.lexists(key_path):
        key = SigningKey.generate()
        doc = _seal(
            key,
            _resolve(
                data_dir,
                create_dev=not require_passphrase,
                require_real=require_passphrase,
                key_requires=None,
            )[0],
            role="operator",
            require_passphrase=require_passphrase,
            kdf_profile=None,
        )
        try:
            _write_private_file(key_path, doc.to_bytes(), exclusive=True)
        except FileExistsError:
            pass  # another process created it meanwhile: load theirs below
        else:
            return key, True
    doc = _read_document(key_path, missing_hint="run `heso init`")
    if require_passphrase and not doc.require_passphrase:
        raise HesoConfigError(
            "the existing operator key was created without --require-passphrase",
            path=key_path,
            hint="heso init never rewrites an existing key; rerun without --require-passphrase,"
            " or move the key aside to create a new one",
        )
    return _load_operator(data_dir, doc), False


def approver_key_dir() -> Path:
    """Where approver key files live: ``HESO_APPROVER_HOME``, else ``~/.config/heso/approvers``."""
    override = os.environ.get(ENV_APPROVER_HOME)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".config" / "heso" / "approvers"
