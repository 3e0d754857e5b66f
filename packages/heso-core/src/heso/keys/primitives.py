"""Ed25519 key primitives: :class:`SigningKey` signs; its :class:`PublicKey` verifies and has
two text forms, ``ed25519:<hex>`` and did:key (``z6Mk…``)."""

from __future__ import annotations

import re
from typing import Any, Final, NoReturn

import nacl.exceptions
import nacl.signing

try:  # libsodium's crypto_sign through pynacl's own cffi module: the same library and bytes as
    # nacl.signing, without its SignedMessage wrapper and copies (~1.5 µs of a ~16 µs signature).
    from nacl._sodium import ffi as _ffi
    from nacl._sodium import lib as _lib

    _crypto_sign: Any = _lib.crypto_sign
    _crypto_sign_open: Any = _lib.crypto_sign_open
except (ImportError, AttributeError):  # pragma: no cover - another pynacl layout
    _ffi = _crypto_sign = _crypto_sign_open = None

SEED_BYTES: Final = 32
"""An Ed25519 private key is its 32-byte seed."""

_PREFIX: Final = "ed25519:"
_PUBLIC_KEY_TEXT: Final = re.compile(r"ed25519:[0-9a-f]{64}")
_MULTICODEC_ED25519_PUB: Final = b"\xed\x01"
_B58_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58btc(data: bytes) -> str:
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
        return "z" + base58btc(_MULTICODEC_ED25519_PUB + self._raw)

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
        if len(seed) != SEED_BYTES:
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


__all__ = ["SEED_BYTES", "PublicKey", "SigningKey", "base58btc"]
