"""The PostgreSQL database behind the fleet stores: connections, the schema and its migrations,
retries, and errors that never show a password.

The schema is versioned (:data:`MIGRATIONS`; the applied version is in ``heso_schema``) and
changed only by ``heso store migrate`` (:func:`migrate`), run by the database's owner. Every
store refuses a database without the schema, with an older one (run the migration) or with a
newer one than this heso knows (upgrade heso). Roles (created by the migration when the
migrating user may create roles; see ``docs/fleet.md``):

``heso_writer``
    what agents' hosts run as: reads everything, inserts entries, tree hashes, signed heads,
    checkpoints and approval records, moves the chain's tip; can never update or delete an
    entry or a record (no grant, and a trigger refuses it even to the owner).
``heso_reader``
    what auditors and consoles run as: reads everything, changes nothing.

Credentials come from the URL or libpq's environment and service files; every message built
here passes through :func:`heso.stores.redact_url` and drops the URL's password.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from heso.errors import ChainError, HesoConfigError

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")

SCHEMA_TABLE = "heso_schema"
WRITER_ROLE = "heso_writer"
READER_ROLE = "heso_reader"

POOL_WAIT = 2.0
"""Seconds :meth:`Database.run` waits for a pooled connection before it connects directly."""

_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION heso_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'heso: % on % refused: evidence is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;
"""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        # 1: the ledger (entries, the linking tip, signed heads) and approvals.
        f"CREATE TABLE {SCHEMA_TABLE} (one boolean PRIMARY KEY DEFAULT true CHECK (one), "
        "version integer NOT NULL)",
        "CREATE TABLE heso_entries (seq bigint PRIMARY KEY, action_hash text NOT NULL, "
        "byte_offset bigint NOT NULL, line bytea NOT NULL)",
        "CREATE INDEX heso_entries_action_hash ON heso_entries (action_hash text_pattern_ops)",
        "CREATE TABLE heso_tip (one boolean PRIMARY KEY DEFAULT true CHECK (one), "
        "length bigint NOT NULL, prev text NOT NULL, size bigint NOT NULL)",
        "INSERT INTO heso_tip (length, prev, size) VALUES (0, repeat('0', 64), 0)",
        "CREATE TABLE heso_heads (id bigserial PRIMARY KEY, length bigint NOT NULL, "
        "doc bytea NOT NULL, stored_at timestamptz NOT NULL DEFAULT now())",
        "CREATE INDEX heso_heads_length ON heso_heads (length, id)",
        "CREATE TABLE heso_sessions (session text PRIMARY KEY, binding_secret bytea NOT NULL)",
        "CREATE TABLE heso_lifecycle (session text NOT NULL, seq integer NOT NULL, "
        "line bytea NOT NULL, PRIMARY KEY (session, seq))",
        "CREATE TABLE heso_fired (session text PRIMARY KEY, note bytea NOT NULL, "
        "claimed_at timestamptz NOT NULL DEFAULT now())",
        "CREATE TABLE heso_action_sessions (action_hash text PRIMARY KEY, session text NOT NULL)",
        _APPEND_ONLY,
        *(
            f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
            "FOR EACH ROW EXECUTE FUNCTION heso_append_only()"
            for t in (
                "heso_entries",
                "heso_heads",
                "heso_lifecycle",
                "heso_fired",
                "heso_action_sessions",
                "heso_sessions",
            )
        ),
        *(
            f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
            "FOR EACH STATEMENT EXECUTE FUNCTION heso_append_only()"
            for t in ("heso_entries", "heso_heads", "heso_lifecycle", "heso_fired")
        ),
    ),
    (
        # 2: the Merkle tree (one row per leaf: its group of hashes, written with the entry)
        # and the signed checkpoints (a cosigned copy is a newer row of the same size).
        "CREATE TABLE heso_tree (seq bigint PRIMARY KEY, hashes bytea NOT NULL "
        "CHECK (octet_length(hashes) > 0 AND octet_length(hashes) % 32 = 0))",
        "CREATE TABLE heso_checkpoints (id bigserial PRIMARY KEY, size bigint NOT NULL, "
        "note bytea NOT NULL, stored_at timestamptz NOT NULL DEFAULT now())",
        "CREATE INDEX heso_checkpoints_size ON heso_checkpoints (size, id)",
        *(
            f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
            "FOR EACH ROW EXECUTE FUNCTION heso_append_only()"
            for t in ("heso_tree", "heso_checkpoints")
        ),
        *(
            f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
            "FOR EACH STATEMENT EXECUTE FUNCTION heso_append_only()"
            for t in ("heso_tree", "heso_checkpoints")
        ),
    ),
    (
        # 3: the host each entry was appended from (unsigned metadata, not part of the line).
        "ALTER TABLE heso_entries ADD COLUMN host text",
    ),
)
"""Each migration's statements; migration ``n`` (1-based) brings the schema to version ``n``."""
SCHEMA_VERSION = len(MIGRATIONS)

_GRANTS = (
    f"GRANT USAGE ON SCHEMA public TO {WRITER_ROLE}, {READER_ROLE}",
    f"GRANT SELECT ON {SCHEMA_TABLE}, heso_entries, heso_tip, heso_heads, heso_sessions, "
    f"heso_lifecycle, heso_fired, heso_action_sessions TO {WRITER_ROLE}, {READER_ROLE}",
    f"GRANT INSERT ON heso_entries, heso_heads, heso_sessions, heso_lifecycle, heso_fired, "
    f"heso_action_sessions TO {WRITER_ROLE}",
    f"GRANT UPDATE ON heso_tip TO {WRITER_ROLE}",
    f"GRANT USAGE ON SEQUENCE heso_heads_id_seq TO {WRITER_ROLE}",
    f"GRANT SELECT ON heso_tree, heso_checkpoints TO {WRITER_ROLE}, {READER_ROLE}",
    f"GRANT INSERT ON heso_tree, heso_checkpoints TO {WRITER_ROLE}",
    f"GRANT USAGE ON SEQUENCE heso_checkpoints_id_seq TO {WRITER_ROLE}",
)


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise HesoConfigError(
            "the PostgreSQL store needs psycopg",
            hint='pip install "heso-core[postgres]"',
        ) from None
    return psycopg


def shown(url: str) -> str:
    from heso.store_url import redact_url

    return redact_url(url)


def scrub(url: str, exc: BaseException) -> str:
    """``exc``'s message without the URL's password (or any ``password=`` parameter)."""
    from heso.store_url import redact_url

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    try:
        from psycopg.conninfo import conninfo_to_dict

        secret = conninfo_to_dict(url).get("password")
    except Exception:
        secret = None
    if secret:
        text = text.replace(str(secret), "***")
    return redact_url(text)


def _pool_timeout(exc: BaseException) -> bool:
    from psycopg_pool import PoolTimeout

    return isinstance(exc, PoolTimeout)


def _close_quietly(pool: Any) -> None:
    with contextlib.suppress(Exception):
        pool.close(timeout=1.0)


_forks = 0


def _forked() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_forked)


class Database:
    """Connections to one database (a small pool per process, reopened in a forked child)."""

    def __init__(self, url: str, *, max_size: int = 8) -> None:
        self.url = url
        self.max_size = max_size
        self._pool: Any = None
        self._gen = -1
        self._lock = threading.Lock()
        self._checked = False
        self._own: psycopg.Connection[Any] | None = None
        self._own_gen = -1

    @property
    def location(self) -> str:
        return shown(self.url)

    def error(self, doing: str, exc: BaseException) -> ChainError:
        """A :class:`ChainError` for a failure while ``doing``, fit to show."""
        return ChainError(
            f"cannot {doing} in the PostgreSQL store {self.location}: {scrub(self.url, exc)}"
        )

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection[Any]:
        """A new connection of its own (for LISTEN, locks, migrations)."""
        pg = _psycopg()
        try:
            conn: psycopg.Connection[Any] = pg.connect(
                self.url, autocommit=autocommit, connect_timeout=10
            )
        except pg.Error as exc:
            raise self.error("connect", exc) from None
        return conn

    def _get_pool(self) -> Any:
        with self._lock:
            if self._pool is None or self._gen != _forks:
                _psycopg()
                from psycopg_pool import ConnectionPool

                self._pool = ConnectionPool(
                    self.url,
                    min_size=1,
                    max_size=self.max_size,
                    kwargs={"connect_timeout": 10},
                    open=True,
                    timeout=30,
                    check=ConnectionPool.check_connection,
                    name="heso",
                )
                # A store nobody closes (a reader, a dropped runtime) still closes its pool.
                weakref.finalize(self, _close_quietly, self._pool)
                self._gen = _forks
            return self._pool

    def _own_connection(self) -> psycopg.Connection[Any]:
        """This process's connection of its own (see :meth:`run`'s ``own``), opened on first
        use and again after a fork or a failure."""
        conn = self._own
        if conn is None or self._own_gen != _forks or conn.closed:
            conn = _psycopg().connect(self.url, autocommit=True, connect_timeout=10)
            self._own = conn
            self._own_gen = _forks
        return conn

    def _drop_own(self) -> None:
        conn, self._own = self._own, None
        if conn is not None and self._own_gen == _forks:
            with contextlib.suppress(Exception):
                conn.close()

    @contextmanager
    def connection(self, timeout: float = 30.0) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection, waiting at most ``timeout`` seconds for one (its transaction
        commits when the block ends)."""
        with self._get_pool().connection(timeout=timeout) as conn:
            yield conn

    def run(
        self,
        doing: str,
        work: Callable[[psycopg.Connection[Any]], T],
        *,
        deadline: float = 10.0,
        check_schema: bool = True,
        direct: bool = False,
        own: bool = False,
    ) -> T:
        """``work(conn)`` in one transaction, retried on serialization failures, deadlocks and
        lost connections until ``deadline`` seconds pass; then a :class:`ChainError` that says
        what could not be done. ``work`` must be safe to repeat (callers check what a lost
        commit did before repeating it). ``own``: over the process's connection of its own,
        in autocommit mode and kept open between calls (the ledger's commit leader: no pool
        round trips; the caller runs one such call at a time)."""
        psycopg = _psycopg()
        if check_schema:
            self.ensure_schema()
        end = time.monotonic() + deadline
        delay = 0.05
        while True:
            try:
                if own:
                    try:
                        return work(self._own_connection())
                    except BaseException:
                        self._drop_own()  # its state is unknown: the next try reconnects
                        raise
                if direct:
                    with psycopg.connect(self.url, connect_timeout=10) as conn:
                        return work(conn)
                wait = min(max(end - time.monotonic(), 1.0), POOL_WAIT)
                with self.connection(wait) as conn:
                    return work(conn)
            except psycopg.OperationalError as exc:
                # Lost connections, a server restarting, serialization failures, deadlocks,
                # an exhausted pool: all worth another try until the deadline.
                if not direct and not own and _pool_timeout(exc):
                    # The pool is still replacing connections a restarted server dropped:
                    # one direct try even when the deadline has passed waiting for it.
                    direct = True
                    continue
                if time.monotonic() >= end:
                    raise self.error(doing, exc) from None
                if not isinstance(exc, psycopg.errors.TransactionRollback):
                    # The pool replaces lost connections on its own, backing off, schedule:
                    # the retries connect directly rather than wait for it.
                    direct = True
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
            except psycopg.Error as exc:
                raise self.error(doing, exc) from None

    def version(self, *, deadline: float = 10.0) -> int:
        """The schema version applied (0: none)."""

        def read(conn: psycopg.Connection[Any]) -> int:
            row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (SCHEMA_TABLE,)).fetchone()
            if not row or not row[0]:
                return 0
            got = conn.execute(f"SELECT version FROM {SCHEMA_TABLE}").fetchone()
            return int(got[0]) if got else 0

        return self.run(
            "read the schema version", read, deadline=deadline, check_schema=False, direct=True
        )

    def ensure_schema(self) -> None:
        """:meth:`require_schema`, once per process."""
        if not self._checked:
            self.require_schema()

    def require_schema(self, *, deadline: float = 10.0, origin: str | None = None) -> None:
        """Refuse a database that cannot be reached (within ``deadline`` seconds) or whose
        schema is missing, older or newer than this heso's (``HesoConfigError``)."""
        by = f" (set by {origin})" if origin else ""
        try:
            have = self.version(deadline=deadline)
        except ChainError as exc:
            raise HesoConfigError(
                f"{exc}{by}",
                hint="check the URL and that the database is running and reachable",
            ) from None
        if have == SCHEMA_VERSION:
            self._checked = True
            return
        if have > SCHEMA_VERSION:
            raise HesoConfigError(
                f"the PostgreSQL store {self.location}{by} has heso schema version {have}, "
                f"newer than this heso knows ({SCHEMA_VERSION}); refusing to use it",
                hint="upgrade heso on this host",
            )
        what = "has no heso schema" if have == 0 else f"has heso schema version {have}"
        raise HesoConfigError(
            f"the PostgreSQL store {self.location}{by} {what}; this heso needs version "
            f"{SCHEMA_VERSION}",
            hint="run `heso store migrate` as the database's owner",
        )

    def close(self) -> None:
        self._drop_own()
        with self._lock:
            if self._pool is not None and self._gen == _forks:
                self._pool.close()
            self._pool = None


def migrate(db: Database, *, roles: bool = True) -> tuple[int, int]:
    """Apply every migration the database lacks, each in its own transaction; returns the
    versions before and after. ``roles``: create ``heso_writer`` / ``heso_reader`` (when the
    user may) and grant them their rights."""
    before = db.version()
    if before > SCHEMA_VERSION:
        db.require_schema()  # raises: newer than this heso
    with db.connect() as conn:
        for version in range(before + 1, SCHEMA_VERSION + 1):
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(7273657)")  # one migrator at a time
                row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (SCHEMA_TABLE,))
                exists = row.fetchone()
                if exists and exists[0]:
                    got = conn.execute(f"SELECT version FROM {SCHEMA_TABLE}").fetchone()
                    if got and int(got[0]) >= version:
                        continue
                for statement in MIGRATIONS[version - 1]:
                    conn.execute(statement)
                conn.execute(
                    f"INSERT INTO {SCHEMA_TABLE} (version) VALUES (%s) ON CONFLICT (one) "
                    "DO UPDATE SET version = EXCLUDED.version",
                    (version,),
                )
        if roles:
            with conn.transaction():
                for role in (WRITER_ROLE, READER_ROLE):
                    conn.execute(
                        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
                        f"'{role}') THEN CREATE ROLE {role} NOLOGIN; END IF; END $$"
                    )
                for statement in _GRANTS:
                    conn.execute(statement)
    db._checked = False
    return before, db.version()
