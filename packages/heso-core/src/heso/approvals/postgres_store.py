"""The approvals store in PostgreSQL: one approval queue for a fleet.

Tables (:mod:`heso.database`): ``heso_sessions`` (each session's argument-binding secret),
``heso_lifecycle`` (one signed, hash-linked record a row; ``(session, seq)`` is the key, so two
hosts can never both write record ``n``), ``heso_fired`` (the exactly-once claim: its primary
key admits one row per session, so exactly one ``INSERT`` wins, on any host) and
``heso_action_sessions`` (which session suspended an action). A session's lock is a
PostgreSQL advisory lock held on a connection of its own. Every record appended notifies the
``heso_approvals`` channel, so a waiting worker (:func:`heso.wait`) learns of a decision at once.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import blake3

from heso.approvals.registry import Registry, load_project_registry
from heso.approvals.sla import clock
from heso.approvals.state import pending
from heso.approvals.store import (
    GENESIS,
    OPENING_KINDS,
    Line,
    check_session,
    encode_line,
    is_action_hash,
    pick,
    read_lines,
)
from heso.canonical import loads_strict
from heso.database import Database
from heso.errors import CanonicalizationError, LifecycleError

if TYPE_CHECKING:
    from heso.approvals.file_store import FileApprovalStore

CHANNEL = "heso_approvals"


def lock_key(session: str) -> int:
    """The advisory lock id of ``session`` (a signed 64-bit integer)."""
    digest = blake3.blake3(b"heso-session-lock\n" + session.encode("utf-8")).digest()[:8]
    return int.from_bytes(digest, "big", signed=True)


class PostgresApprovalStore:
    """The approvals of a fleet, in the database at ``url``; ``project_root`` is where the
    project's ``heso.toml`` (its approvers) is."""

    def __init__(
        self, url: str, *, project_root: str | Path | None = None, db: Database | None = None
    ) -> None:
        self.db = db if db is not None else Database(url)
        self.project_root = Path(project_root) if project_root is not None else None
        self._held = threading.local()

    @property
    def location(self) -> str:
        return self.db.location

    def _run(self, doing: str, work: Any) -> Any:
        return self.db.run(doing + " in the approvals store", work)

    # -- locking -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, session: str) -> Iterator[None]:
        check_session(session)
        held: set[str] = getattr(self._held, "sessions", set())
        self._held.sessions = held
        if session in held:
            yield
            return
        self.db.ensure_schema()
        conn = self.db.connect(autocommit=True)
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (lock_key(session),))
            held.add(session)
            try:
                yield
            finally:
                held.discard(session)
                with contextlib.suppress(Exception):
                    conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key(session),))
        finally:
            conn.close()

    def _require_lock(self, session: str) -> None:
        if session not in getattr(self._held, "sessions", set()):
            raise RuntimeError("hold the store's locked(session) to change a session")

    # -- sessions ----------------------------------------------------------------------------

    def create_session(self, session: str) -> bytes:
        self._require_lock(session)
        fresh = secrets.token_bytes(32)
        self._run(
            "create a session",
            lambda conn: conn.execute(
                "INSERT INTO heso_sessions (session, binding_secret) VALUES (%s, %s) "
                "ON CONFLICT (session) DO NOTHING",
                (session, fresh),
            ),
        )
        return self.binding_secret(session)

    def binding_secret(self, session: str) -> bytes:
        row = self._run(
            "read a session",
            lambda conn: conn.execute(
                "SELECT binding_secret FROM heso_sessions WHERE session = %s", (session,)
            ).fetchone(),
        )
        if row is None or len(row[0]) != 32:
            raise LifecycleError(f"session {session!r} has no binding secret in {self.location}")
        return bytes(row[0])

    def exists(self, session: str) -> bool:
        check_session(session)
        row = self._run(
            "read a session",
            lambda conn: conn.execute(
                "SELECT 1 FROM heso_lifecycle WHERE session = %s LIMIT 1", (session,)
            ).fetchone(),
        )
        return row is not None

    # -- the lifecycle -----------------------------------------------------------------------

    def _raw(self, conn: Any, session: str) -> list[bytes]:
        rows = conn.execute(
            "SELECT line FROM heso_lifecycle WHERE session = %s ORDER BY seq", (session,)
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def lines(self, session: str) -> list[Line]:
        check_session(session)
        raw = self._run("read a lifecycle", lambda conn: self._raw(conn, session))
        return read_lines(raw, f"{self.location} session {session!r}")

    def append(self, session: str, part: Mapping[str, Any]) -> Line:
        self._require_lock(session)
        return self._run(  # type: ignore[no-any-return]
            "append to a lifecycle", lambda conn: self._insert_line(conn, session, part)
        )

    def _insert_line(self, conn: Any, session: str, part: Mapping[str, Any]) -> Line:
        """Insert ``part`` as the next line of ``session``'s lifecycle in ``conn``'s
        transaction (notified at commit)."""
        existing = read_lines(self._raw(conn, session), f"{self.location} session {session!r}")
        seq = len(existing)
        line = encode_line(seq, existing[-1].hash if existing else GENESIS, part)
        conn.execute(
            "INSERT INTO heso_lifecycle (session, seq, line) VALUES (%s, %s, %s)",
            (session, seq, line),
        )
        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, session))
        return Line(
            seq, blake3.blake3(line).hexdigest(), dict(part["record"]), dict(part["signer"])
        )

    # -- exactly once ------------------------------------------------------------------------

    def claim_fire(self, session: str, note: Mapping[str, Any]) -> bool:
        data = json.dumps(dict(note), sort_keys=True).encode()

        def work(conn: Any) -> bool:
            # After a lost commit the retry finds the row: ours if the note is the same.
            row = conn.execute(
                "INSERT INTO heso_fired (session, note) VALUES (%s, %s) "
                "ON CONFLICT (session) DO NOTHING RETURNING session",
                (session, data),
            ).fetchone()
            if row is not None:
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, session))
                return True
            got = conn.execute(
                "SELECT note FROM heso_fired WHERE session = %s", (session,)
            ).fetchone()
            return got is not None and bytes(got[0]) == data and attempted[0]

        attempted = [False]

        def once(conn: Any) -> bool:
            try:
                return work(conn)
            finally:
                attempted[0] = True

        return bool(self._run("claim the firing", once))

    def claim_and_record_fired(
        self,
        session: str,
        note: Mapping[str, Any],
        records: Callable[[], Sequence[Mapping[str, Any]]],
    ) -> bool:
        """One transaction: the claim's row inserted (a concurrent claimer waits on its key
        until this commits, then loses), ``records()`` appended, committed together.
        ``records`` is called once (it chains the firing receipt): a try that fails after it
        (a lost connection, a serialization failure at commit) is retried with the same
        records, and a retry that finds the claim already holding ``note`` knows the lost
        commit happened. Only a claim taken meanwhile by another caller (the session lock
        lost with the connection) leaves the action unfired: its chained firing then keeps
        it from ever firing (:mod:`heso.approvals.evidence`)."""
        self._require_lock(session)
        data = json.dumps(dict(note), sort_keys=True).encode()
        parts: Sequence[Mapping[str, Any]] | None = None

        def work(conn: Any) -> bool:
            nonlocal parts
            row = conn.execute(
                "INSERT INTO heso_fired (session, note) VALUES (%s, %s) "
                "ON CONFLICT (session) DO NOTHING RETURNING session",
                (session, data),
            ).fetchone()
            if row is None:
                if parts is None:
                    return False
                got = conn.execute(
                    "SELECT note FROM heso_fired WHERE session = %s", (session,)
                ).fetchone()
                return got is not None and bytes(got[0]) == data
            if parts is None:
                parts = records()
            for part in parts:
                self._insert_line(conn, session, part)
            return True

        return bool(self._run("claim the firing", work))

    def fire_claimed(self, session: str) -> bool:
        row = self._run(
            "read the firing claim",
            lambda conn: conn.execute(
                "SELECT 1 FROM heso_fired WHERE session = %s", (session,)
            ).fetchone(),
        )
        return row is not None

    # -- action hashes -----------------------------------------------------------------------

    def index(self, action_hash: str, session: str) -> str:
        def work(conn: Any) -> str:
            conn.execute(
                "INSERT INTO heso_action_sessions (action_hash, session) VALUES (%s, %s) "
                "ON CONFLICT (action_hash) DO NOTHING",
                (action_hash, session),
            )
            row = conn.execute(
                "SELECT session FROM heso_action_sessions WHERE action_hash = %s", (action_hash,)
            ).fetchone()
            return str(row[0])

        return str(self._run("index an action", work))

    def session_of(self, action_hash: str) -> str | None:
        if not is_action_hash(action_hash):
            return None
        row = self._run(
            "look up an action",
            lambda conn: conn.execute(
                "SELECT session FROM heso_action_sessions WHERE action_hash = %s", (action_hash,)
            ).fetchone(),
        )
        return None if row is None else str(row[0])

    def _openings(self) -> list[tuple[str, int, str, str]]:
        """``(session, seq, action_hash, named session)`` of every opening record, read without
        verifying anything (a listing; :func:`heso.approvals.state.fold` verifies)."""
        rows = self._run(
            "list sessions",
            lambda conn: conn.execute(
                "SELECT session, seq, line FROM heso_lifecycle ORDER BY session, seq"
            ).fetchall(),
        )
        out = []
        for session, seq, line in rows:
            try:
                record = loads_strict(bytes(line))["record"]
                kind, action_hash, named = record["kind"], record["action_hash"], record["session"]
            except (CanonicalizationError, ValueError, KeyError, TypeError):
                continue
            if kind in OPENING_KINDS and isinstance(action_hash, str) and isinstance(named, str):
                out.append((str(session), int(seq), action_hash, named))
        return out

    def sessions(self) -> list[str]:
        """Every session whose first record names it."""
        return sorted({s for s, seq, _, named in self._openings() if seq == 0 and named == s})

    def all_hashes(self) -> list[tuple[str, str]]:
        found = {(h, s) for s, _, h, named in self._openings() if named == s}
        rows = self._run(
            "list actions",
            lambda conn: conn.execute(
                "SELECT action_hash, session FROM heso_action_sessions"
            ).fetchall(),
        )
        found.update((str(h), str(s)) for h, s in rows if is_action_hash(str(h)))
        return sorted(found)

    def resolve(self, prefix: str) -> tuple[str, str]:
        return pick(prefix, self.all_hashes())

    def open_hashes(
        self, registry: Registry | None = None, now: datetime | None = None
    ) -> list[tuple[str, str]]:
        if registry is None:
            registry = (
                load_project_registry(self.project_root)
                if self.project_root is not None
                else Registry()
            )
        return pending(self, registry, now or clock())

    # -- moving evidence ---------------------------------------------------------------------

    def import_files(self, source: FileApprovalStore) -> int:
        """Copy every session of the file store ``source`` (its lifecycle lines byte for byte,
        binding secret, firing claim) and its action index; the number of sessions copied.
        Each lifecycle is verified first (``LifecycleError`` refuses a broken one)."""
        from heso.approvals.file_store import FIRED_FILE, LIFECYCLE_FILE, SESSION_FILE

        sessions = source.sessions()
        copied = []
        for session in sessions:
            directory = source.session_dir(session)
            data = (directory / LIFECYCLE_FILE).read_bytes()
            raw = data[: data.rfind(b"\n") + 1].split(b"\n")[:-1]
            read_lines(raw, str(directory / LIFECYCLE_FILE))
            secret = None
            if (directory / SESSION_FILE).exists():
                secret = source.binding_secret(session)
            fired = directory / FIRED_FILE
            note = fired.read_bytes().rstrip(b"\n") if fired.exists() else None
            copied.append((session, raw, secret, note))
        indexed = source._indexed()

        def work(conn: Any) -> None:
            for session, raw, secret, note in copied:
                if secret is not None:
                    conn.execute(
                        "INSERT INTO heso_sessions (session, binding_secret) VALUES (%s, %s)",
                        (session, secret),
                    )
                for seq, line in enumerate(raw):
                    conn.execute(
                        "INSERT INTO heso_lifecycle (session, seq, line) VALUES (%s, %s, %s)",
                        (session, seq, line),
                    )
                if note is not None:
                    conn.execute(
                        "INSERT INTO heso_fired (session, note) VALUES (%s, %s)", (session, note)
                    )
            for action_hash, session in indexed:
                conn.execute(
                    "INSERT INTO heso_action_sessions (action_hash, session) VALUES (%s, %s) "
                    "ON CONFLICT DO NOTHING",
                    (action_hash, session),
                )

        self.db.run("copy the approvals", work, deadline=0)
        return len(copied)

    # -- waiting -----------------------------------------------------------------------------

    def wait_for_change(self, session: str, seen: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for ``session`` to have more than ``seen`` records
        (or a firing claim); ``True`` when it has. Listens on the ``heso_approvals`` channel."""
        deadline = time.monotonic() + timeout
        conn = self.db.connect(autocommit=True)
        try:
            conn.execute(f"LISTEN {CHANNEL}")
            while True:
                if len(self.lines(session)) > seen:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                for note in conn.notifies(timeout=min(left, 5.0), stop_after=1):
                    del note
        finally:
            conn.close()
