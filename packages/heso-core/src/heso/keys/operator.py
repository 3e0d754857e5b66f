"""The project's operator key: ``<data_dir>/operator.key``, loaded or created once, its
passphrase resolved by :mod:`heso.keys.passphrase`."""

from __future__ import annotations

import os
from pathlib import Path

from heso.errors import HesoConfigError, KeyDecryptionError
from heso.keys.files import DEV_PASSPHRASE_FILE, OPERATOR_KEY_FILE, read_document, write_private
from heso.keys.keyfile import KeyDocument, seal, unseal
from heso.keys.passphrase import OPERATOR_PASSPHRASE, SecretSource, resolve
from heso.keys.primitives import SigningKey


def _load_operator(data_dir: Path, doc: KeyDocument, secret: SecretSource) -> SigningKey:
    key_path = data_dir / OPERATOR_KEY_FILE
    if doc.role != "operator":
        raise HesoConfigError(
            f"this is an {doc.role} key, not an operator key",
            path=key_path,
            hint="move it aside and run `heso init`",
        )
    passphrase, source = resolve(
        data_dir,
        create_dev=False,
        require_real=False,
        key_requires=doc.require_passphrase,
        secret=secret,
    )
    result = unseal(doc, passphrase)
    del passphrase  # not in the traceback's locals
    if isinstance(result, str):
        raise KeyDecryptionError(
            result,
            path=key_path,
            hint=f"the passphrase came from {source}; check it is the one the key was created"
            f" with ({secret.name} takes precedence over {DEV_PASSPHRASE_FILE})",
        )
    return result


def load_operator_key(data_dir: Path, *, secret: SecretSource = OPERATOR_PASSPHRASE) -> SigningKey:
    """Decrypt ``<data_dir>/operator.key``, resolving the passphrase as
    :func:`resolve_passphrase` does (never creating the dev file)."""
    data_dir = Path(data_dir)
    doc = read_document(
        data_dir / OPERATOR_KEY_FILE, missing_hint="run `heso init` to create the operator key"
    )
    return _load_operator(data_dir, doc, secret)


def ensure_operator_key(
    data_dir: Path,
    *,
    require_passphrase: bool = False,
    secret: SecretSource = OPERATOR_PASSPHRASE,
) -> tuple[SigningKey, bool]:
    """Load the operator key, or create it if there is none; returns ``(key, created)``.

    An existing key is never overwritten. A new key is encrypted under ``secret``,
    else under a newly generated dev passphrase file. ``require_passphrase`` makes
    ``HESO_KEY_PASSPHRASE`` mandatory and is persisted in the key file.
    """
    data_dir = Path(data_dir)
    key_path = data_dir / OPERATOR_KEY_FILE
    if not os.path.lexists(key_path):
        key = SigningKey.generate()
        doc = seal(
            key,
            resolve(
                data_dir,
                create_dev=not require_passphrase,
                require_real=require_passphrase,
                key_requires=None,
                secret=secret,
            )[0],
            role="operator",
            require_passphrase=require_passphrase,
            kdf_profile=None,
        )
        try:
            write_private(key_path, doc.to_bytes(), exclusive=True)
        except FileExistsError:
            pass  # another process created it meanwhile: load theirs below
        else:
            return key, True
    doc = read_document(key_path, missing_hint="run `heso init`")
    if require_passphrase and not doc.require_passphrase:
        raise HesoConfigError(
            "the existing operator key was created without --require-passphrase",
            path=key_path,
            hint="heso init never rewrites an existing key; rerun without --require-passphrase,"
            " or move the key aside to create a new one",
        )
    return _load_operator(data_dir, doc, secret), False


__all__ = ["ensure_operator_key", "load_operator_key"]
