"""C2SP ``tlog-cosignature``: a witness's timestamped Ed25519 cosignature on a checkpoint.

A cosignature is a note signature of type ``0x04`` whose bytes are ``timestamp (u64, big
endian) || Ed25519 signature`` over

    cosignature/v1
    time <timestamp>
    <the whole checkpoint text>

It states that, at that time, the checkpoint is the largest consistent tree the witness has
seen for the log named by its origin line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from heso.errors import TransparencyError
from heso.keys import SigningKey
from heso.transparency.note import NamedKey, NamedSigner

__all__ = [
    "COSIGNATURE_V1",
    "CosignatureSigner",
    "CosignatureVerifier",
    "cosigned_message",
]

COSIGNATURE_V1: Final = 0x04
"""Signature type of timestamped Ed25519 checkpoint cosignatures."""
MAX_TIMESTAMP: Final = (1 << 63) - 1


def cosigned_message(text: bytes, timestamp: int) -> bytes:
    """The bytes a cosigner signs for checkpoint ``text`` at ``timestamp``."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise TransparencyError(f"cosignature timestamp {timestamp} is out of range")
    return b"cosignature/v1\ntime %d\n" % timestamp + text


class CosignatureVerifier(NamedKey):
    """Checks the cosignatures (type ``0x04``) of one named witness key."""

    signature_type = COSIGNATURE_V1

    @staticmethod
    def timestamp(signature: bytes) -> int:
        """The time (POSIX seconds) a cosignature claims; its signature covers it."""
        if len(signature) != 72:
            raise TransparencyError(f"a cosignature is 72 bytes, got {len(signature)}")
        return int.from_bytes(signature[:8], "big")

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != 72:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        return self.public_key.verify(signature[8:], cosigned_message(text, timestamp))


class CosignatureSigner(NamedSigner):
    """Cosigns checkpoints with a witness's Ed25519 key, stamped with ``clock()``."""

    def __init__(
        self, name: str, key: SigningKey, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(CosignatureVerifier(name, key.public_key()), key)
        self.clock = clock
        """Where cosignature times come from (POSIX seconds)."""

    def sign(self, text: bytes, timestamp: int | None = None) -> bytes:
        """``timestamp || signature`` over ``text`` (default time: now, never 0)."""
        if timestamp is None:
            timestamp = int(self.clock())
        if timestamp <= 0:
            raise TransparencyError("a witness cosignature must carry a time after 1970")
        sig = self._key.sign(cosigned_message(text, timestamp))
        return timestamp.to_bytes(8, "big") + sig

    def verifier(self) -> CosignatureVerifier:
        """The matching verifier."""
        return self._verifier  # type: ignore[return-value]
