"""Approver identities: each approver's own Ed25519 key, encrypted at rest on their device.

Key files live in :func:`heso.keys.approver_key_dir` (``HESO_APPROVER_HOME``, else
``~/.config/heso/approvers``) as ``<name>.key``, sealed under ``HESO_APPROVER_PASSPHRASE``.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from heso.approvals.registry import NAME
from heso.errors import HesoConfigError
from heso.keys import PublicKey, SigningKey, approver_key_dir, read_key_file, read_public_key
from heso.keys import write_key_file as _write_key_file

ENV_APPROVER_PASSPHRASE = "HESO_APPROVER_PASSPHRASE"


def key_path(name: str) -> Path:
    """Where approver ``name``'s key file lives."""
    check_name(name)
    return approver_key_dir() / f"{name}.key"


def check_name(name: str) -> str:
    """``name`` if it is a valid approver name."""
    if not NAME.fullmatch(name):
        raise HesoConfigError(
            f"invalid approver name {name!r}",
            hint="use letters, digits, '_', '.' or '-' (at most 64), starting with a letter "
            "or digit",
        )
    return name


def passphrase(*, confirm: bool = False) -> bytes:
    """``HESO_APPROVER_PASSPHRASE``, else a prompt on a terminal; never echoed or stored."""
    value = os.environ.get(ENV_APPROVER_PASSPHRASE)
    if value:
        return value.encode("utf-8", "surrogateescape")
    if sys.stdin is not None and sys.stdin.isatty():
        first = getpass.getpass("approver key passphrase: ")
        if confirm and getpass.getpass("again: ") != first:
            raise HesoConfigError("the passphrases differ")
        if first:
            return first.encode("utf-8", "surrogateescape")
    raise HesoConfigError(
        f"{ENV_APPROVER_PASSPHRASE} is not set",
        key=ENV_APPROVER_PASSPHRASE,
        hint="set it to your approver key's passphrase (approver keys have no dev passphrase)",
    )


def new_approver(name: str) -> tuple[Path, PublicKey]:
    """Create approver ``name``'s key (never replacing one); returns its path and public key."""
    path = key_path(name)
    if os.path.lexists(path):
        raise HesoConfigError(
            f"approver {name!r} already has a key",
            path=path,
            hint="`heso approver show` prints its public key; move the file aside to replace it",
        )
    key = SigningKey.generate()
    _write_key_file(path, key, passphrase(confirm=True), role="approver", require_passphrase=True)
    return path, key.public_key()


def load_approver(name: str) -> SigningKey:
    """Unlock approver ``name``'s key with :func:`passphrase`."""
    path = key_path(name)
    if not os.path.lexists(path):
        raise HesoConfigError(
            f"no key for approver {name!r}",
            path=path,
            hint=f"create it with `heso approver new {name}` (HESO_APPROVER_HOME picks the folder)",
        )
    return read_key_file(path, passphrase())


def approver_public_key(name: str) -> PublicKey:
    """Approver ``name``'s public key, read without the passphrase."""
    path = key_path(name)
    if not os.path.lexists(path):
        raise HesoConfigError(f"no key for approver {name!r}", path=path)
    return read_public_key(path)
