"""Where the operator key's passphrase comes from, and when the dev passphrase file is
refused: ``HESO_ENV=production``, ``--require-passphrase``, or a key file that requires a real
passphrase. Secrets come in through :class:`SecretSource`; the default reads
``HESO_KEY_PASSPHRASE``."""

from __future__ import annotations

import dataclasses
import os
import secrets
from pathlib import Path
from typing import Final, Protocol

from heso.errors import HesoConfigError
from heso.keys.files import DEV_PASSPHRASE_FILE, OPERATOR_KEY_FILE, read_document, write_private

ENV_PASSPHRASE: Final = "HESO_KEY_PASSPHRASE"
ENV_HESO_ENV: Final = "HESO_ENV"


class SecretSource(Protocol):
    """A passphrase from outside heso (an environment variable, a secrets manager)."""

    @property
    def name(self) -> str:
        """Where it comes from, as messages name it (never the secret)."""
        ...

    def read(self) -> bytes | None:
        """The passphrase, ``None`` when this source has none."""
        ...


@dataclasses.dataclass(frozen=True)
class EnvSecret:
    """A passphrase in an environment variable; unset or empty is none."""

    variable: str

    @property
    def name(self) -> str:
        return self.variable

    def read(self) -> bytes | None:
        value = os.environ.get(self.variable)
        return value.encode("utf-8", "surrogateescape") if value else None


OPERATOR_PASSPHRASE: Final = EnvSecret(ENV_PASSPHRASE)
"""The operator key's passphrase: ``HESO_KEY_PASSPHRASE``."""


def is_production() -> bool:
    """``HESO_ENV=production``: the dev passphrase file is refused."""
    return os.environ.get(ENV_HESO_ENV, "").strip().lower() == "production"


def resolve(
    data_dir: Path,
    *,
    create_dev: bool,
    require_real: bool,
    key_requires: bool | None,
    secret: SecretSource = OPERATOR_PASSPHRASE,
) -> tuple[bytes, str]:
    """The passphrase and a description of where it came from.

    ``key_requires`` is the key file's ``require_passphrase`` flag, or None without a key file.
    """
    given = secret.read()
    if given is not None:
        return given, secret.name
    dev_file = data_dir / DEV_PASSPHRASE_FILE
    refusal = None
    if is_production():
        refusal = f"{ENV_HESO_ENV}=production refuses the dev passphrase file"
    elif require_real:
        refusal = "a real passphrase is required (--require-passphrase)"
    elif key_requires:
        refusal = f"{OPERATOR_KEY_FILE} was created with --require-passphrase"
    if refusal is not None:
        raise HesoConfigError(
            f"{secret.name} is not set and {refusal}",
            key=secret.name,
            hint=f"set {secret.name} to the operator key's passphrase",
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
                key=secret.name,
                hint=f"set {secret.name} or run `heso init`",
            )
        raise HesoConfigError(
            f"{OPERATOR_KEY_FILE} exists but neither {secret.name} nor {DEV_PASSPHRASE_FILE}"
            " is available",
            path=data_dir,
            key=secret.name,
            hint=f"set {secret.name} to the passphrase the key was created with",
        )
    if not passphrase:
        raise HesoConfigError(
            "the dev passphrase file is empty",
            path=dev_file,
            hint=f"set {secret.name}, or restore the file",
        )
    return passphrase, str(dev_file)


def _create_dev_passphrase(dev_file: Path) -> bytes:
    token = secrets.token_urlsafe(32).encode("ascii")
    try:
        write_private(dev_file, token + b"\n", exclusive=True)
    except FileExistsError:
        # Another process created it first: use theirs.
        return dev_file.read_bytes().strip()
    return token


def _key_flag(key_path: Path) -> bool | None:
    if not os.path.lexists(key_path):
        return None
    return read_document(key_path, missing_hint="run `heso init`").require_passphrase


def resolve_passphrase(
    data_dir: Path,
    *,
    create_dev: bool = False,
    require_real: bool = False,
    secret: SecretSource = OPERATOR_PASSPHRASE,
) -> bytes:
    """The operator key's passphrase for ``data_dir``.

    ``secret`` (``HESO_KEY_PASSPHRASE``, when non-empty) wins. Otherwise the dev passphrase
    file is used, created only if ``create_dev``; it is refused when ``HESO_ENV=production``,
    when ``require_real``, or when the key file was written with ``require_passphrase``.
    Raises :class:`HesoConfigError` when no passphrase is available.
    """
    data_dir = Path(data_dir)
    passphrase, _ = resolve(
        data_dir,
        secret=secret,
        create_dev=create_dev,
        require_real=require_real,
        key_requires=_key_flag(data_dir / OPERATOR_KEY_FILE),
    )
    return passphrase


__all__ = [
    "ENV_HESO_ENV",
    "ENV_PASSPHRASE",
    "OPERATOR_PASSPHRASE",
    "EnvSecret",
    "SecretSource",
    "is_production",
    "resolve",
    "resolve_passphrase",
]
