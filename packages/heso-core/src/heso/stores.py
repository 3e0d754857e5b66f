"""Where a project's evidence is kept: the ``store`` setting and the one factory for stores.

``[heso] store`` in ``heso.toml``, or ``HESO_STORE`` (the environment wins), is ``"file"`` (the
default: ``heso-local-data/`` beside ``heso.toml``) or a PostgreSQL URL (``postgresql://`` or
``postgres://``). Everything that reads or writes evidence (``heso.init``, every CLI verb, the
console) resolves a :class:`StoreSpec` with :func:`setting` and opens its stores with
:func:`open_ledger` and :func:`open_approvals`.

A store URL may carry a password. It is kept only in :class:`StoreSpec` and shown only through
:func:`redact_url`: never in an error, a log line or ``--json`` output.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from heso.approvals.file_store import FileApprovalStore
from heso.errors import HesoConfigError
from heso.ledger.file_store import FileLedger
from heso.project import data_dir
from heso.store_url import redact_url as redact_url
from heso.toml_source import type_name

if TYPE_CHECKING:
    from heso.approvals.store import ApprovalStore
    from heso.database import Database
    from heso.keys import SigningKey
    from heso.ledger.store import LedgerStore
    from heso.toml_source import TomlSource
    from heso.transparency.settings import TransparencySettings

FILE: Final = "file"
POSTGRESQL: Final = "postgresql"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
ENV_STORE = "HESO_STORE"
SETTING = ("heso", "store")


@dataclass(frozen=True)
class StoreSpec:
    """Where a project's evidence is kept: a directory (the file store) or a database URL.
    Its text (``str``, ``repr``) never shows a password."""

    kind: Literal["file", "postgresql"]
    path: Path | None = None
    """The project's ``heso-local-data/``: the file store's directory; beside a database it
    still holds this host's operator key and reveal salts."""
    url: str | None = field(default=None, repr=False)
    origin: str = "default"
    """Where the setting came from (``HESO_STORE``, ``heso.toml``), for messages."""

    def __str__(self) -> str:
        return redact_url(self.url) if self.url is not None else str(self.path)

    def __repr__(self) -> str:
        return f"StoreSpec({self.kind!r}, {str(self)!r}, origin={self.origin!r})"


def parse_store(value: str, origin: str, root: str | os.PathLike[str]) -> StoreSpec:
    """The store ``value`` selects for the project at ``root``; ``ValueError`` (with a message
    that never holds a password) for anything but ``"file"`` or a PostgreSQL URL."""
    text = value.strip()
    if text == FILE:
        return StoreSpec(FILE, data_dir(root), None, origin)
    if text.lower().startswith(POSTGRES_SCHEMES):
        return StoreSpec(POSTGRESQL, data_dir(root), text, origin)
    shown = redact_url(text) if ("://" in text or "=" in text or "@" in text) else text
    raise ValueError(
        f'the store must be "file" or a postgresql:// URL, not {shown!r} (set by {origin})'
    )


def setting(source: TomlSource | None, root: str | os.PathLike[str]) -> StoreSpec:
    """The store of the project at ``root``: ``HESO_STORE``, else ``[heso] store`` of its
    ``heso.toml`` (``source``), else the file store. A bad value is a ``HesoConfigError`` that
    names its origin (the file and line for ``heso.toml``)."""
    from_env = os.environ.get(ENV_STORE) or None
    if from_env is not None:
        try:
            return parse_store(from_env, ENV_STORE, root)
        except ValueError as exc:
            raise HesoConfigError(
                str(exc), hint=f'unset {ENV_STORE}, or set it to "file"'
            ) from None
    table = source.data.get(SETTING[0]) if source is not None else None
    if source is None or not isinstance(table, dict) or SETTING[1] not in table:
        return StoreSpec(FILE, data_dir(root))
    value = table[SETTING[1]]
    if not isinstance(value, str):
        raise source.error(
            f"[heso].store must be a string, not {type_name(value)}", SETTING, value=True
        )
    try:
        return parse_store(value, f"[heso] store in {source.path}", root)
    except ValueError as exc:
        raise source.error(str(exc), SETTING, value=True) from None


_databases: dict[str, Database] = {}


def database(spec: StoreSpec) -> Database:
    """The one :class:`~heso.database.Database` of ``spec``'s URL in this process, checked
    at every open: reachable (one try: fail fast), with this heso's schema
    (``HesoConfigError``)."""
    from heso.database import Database

    assert spec.url is not None
    db = _databases.get(spec.url) or Database(spec.url)
    db.require_schema(deadline=0, origin=spec.origin)
    _databases[spec.url] = db
    return db


def open_ledger(
    spec: StoreSpec,
    *,
    key: SigningKey | None = None,
    durability: str = "buffered",
    lock_timeout: float = 10.0,
    transparency: TransparencySettings | None = None,
) -> LedgerStore:
    """The ledger ``spec`` names: to append with the operator ``key`` (and the writer's
    ``durability``, ``lock_timeout`` and checkpoint ``transparency`` settings), or, without a
    key, to read."""
    if spec.url is not None:
        from heso.ledger.postgres_store import PostgresLedger

        # Durability is the database's (synchronous_commit), whatever ``durability`` says.
        return PostgresLedger(
            spec.url,
            key=key,
            lock_timeout=lock_timeout,
            db=database(spec),
            transparency=transparency,
        )
    assert spec.path is not None
    return FileLedger(
        spec.path,
        key=key,
        durability=durability,
        lock_timeout=lock_timeout,
        transparency=transparency,
    )


def open_approvals(spec: StoreSpec) -> ApprovalStore:
    """The approvals store ``spec`` names."""
    if spec.url is not None:
        from heso.approvals.postgres_store import PostgresApprovalStore

        root = spec.path.parent if spec.path is not None else None
        return PostgresApprovalStore(spec.url, project_root=root, db=database(spec))
    assert spec.path is not None
    return FileApprovalStore(spec.path)
