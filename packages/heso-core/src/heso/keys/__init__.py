"""Ed25519 signing and public keys, encrypted key files, passphrases and the did:key form.

The public names live here; the modules behind them are one concern each:
:mod:`~heso.keys.primitives` (the keys), :mod:`~heso.keys.keyfile` (the encrypted key-file
format, ``docs/spec/keys.md``), :mod:`~heso.keys.files` (reading and privately writing key
files), :mod:`~heso.keys.passphrase` (where a passphrase comes from, and the production
policy) and :mod:`~heso.keys.operator` (the project's operator key).
"""

from __future__ import annotations

from heso.keys.files import (
    DEV_PASSPHRASE_FILE,
    ENV_APPROVER_HOME,
    OPERATOR_KEY_FILE,
    approver_key_dir,
    key_file_requires_passphrase,
    read_key_file,
    read_public_key,
    write_key_file,
)
from heso.keys.keyfile import (
    DEFAULT_KDF_PROFILE,
    ENV_KDF_PROFILE,
    KDF_PROFILES,
    KEY_FILE_VERSION,
)
from heso.keys.operator import ensure_operator_key, load_operator_key
from heso.keys.passphrase import (
    ENV_HESO_ENV,
    ENV_PASSPHRASE,
    EnvSecret,
    SecretSource,
    resolve_passphrase,
)
from heso.keys.primitives import PublicKey, SigningKey

__all__ = [
    "DEFAULT_KDF_PROFILE",
    "DEV_PASSPHRASE_FILE",
    "ENV_APPROVER_HOME",
    "ENV_HESO_ENV",
    "ENV_KDF_PROFILE",
    "ENV_PASSPHRASE",
    "KDF_PROFILES",
    "KEY_FILE_VERSION",
    "OPERATOR_KEY_FILE",
    "EnvSecret",
    "PublicKey",
    "SecretSource",
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
