"""Key files on disk: bounded reads of the key-file format (:mod:`heso.keys.keyfile`) and
private writes through :mod:`heso.durable` (mode 0600, atomic, fsynced with their directory)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from heso import durable
from heso.errors import HesoConfigError, KeyDecryptionError
from heso.keys.keyfile import (
    GENERIC_DECRYPT_HINT,
    MAX_KEY_FILE_BYTES,
    KeyDocument,
    check_passphrase_type,
    corrupt,
    parse_document,
    seal,
    unseal,
)
from heso.keys.primitives import PublicKey, SigningKey

OPERATOR_KEY_FILE: Final = "operator.key"
DEV_PASSPHRASE_FILE: Final = "DEV-ONLY.passphrase"
ENV_APPROVER_HOME: Final = "HESO_APPROVER_HOME"


def read_document(path: Path, *, missing_hint: str) -> KeyDocument:
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise HesoConfigError("key file not found", path=path, hint=missing_hint) from None
    except OSError as exc:
        raise HesoConfigError(f"cannot read key file: {exc.strerror}", path=path) from None
    if len(raw) > MAX_KEY_FILE_BYTES:
        raise corrupt(path, f"larger than {MAX_KEY_FILE_BYTES} bytes")
    return parse_document(path, raw)


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
    doc = seal(
        key, passphrase, role=role, require_passphrase=require_passphrase, kdf_profile=kdf_profile
    )
    write_private(path, doc.to_bytes(), exclusive=False)


def read_key_file(path: Path, passphrase: bytes) -> SigningKey:
    """Decrypt the key in ``path``.

    Raises :class:`HesoConfigError` if the file is missing or unreadable, and
    :class:`KeyDecryptionError` if it is corrupt, of an unknown version, or the passphrase is wrong.
    """
    check_passphrase_type(passphrase)
    path = Path(path)
    doc = read_document(path, missing_hint="check the path")
    result = unseal(doc, passphrase)
    del passphrase  # not in the traceback's locals
    if isinstance(result, str):
        raise KeyDecryptionError(result, path=path, hint=GENERIC_DECRYPT_HINT)
    return result


def read_public_key(path: Path) -> PublicKey:
    """The cleartext public key of a key file, without the passphrase.

    It is not authenticated until the file is decrypted (:func:`read_key_file` checks it).
    """
    path = Path(path)
    return read_document(path, missing_hint="check the path").public_key


def key_file_requires_passphrase(path: Path) -> bool:
    """Whether the key file refuses the dev passphrase file (``heso init --require-passphrase``)."""
    path = Path(path)
    return read_document(path, missing_hint="check the path").require_passphrase


def _make_private_dir(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def write_private(path: Path, data: bytes, *, exclusive: bool) -> None:
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


def approver_key_dir() -> Path:
    """Where approver key files live: ``HESO_APPROVER_HOME``, else ``~/.config/heso/approvers``."""
    override = os.environ.get(ENV_APPROVER_HOME)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".config" / "heso" / "approvers"


__all__ = [
    "DEV_PASSPHRASE_FILE",
    "ENV_APPROVER_HOME",
    "OPERATOR_KEY_FILE",
    "approver_key_dir",
    "key_file_requires_passphrase",
    "read_document",
    "read_key_file",
    "read_public_key",
    "write_key_file",
    "write_private",
]
