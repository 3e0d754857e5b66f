"""The approvals file store: sessions under ``heso-local-data/approvals/``.

Layout::

    sessions/<key>/lifecycle.jsonl   one signed record a line, hash-chained (heso.approvals.store)
    sessions/<key>/session.json      the session id and its argument-binding secret (0600)
    sessions/<key>/lock              the session's inter-process lock (flock)
    sessions/<key>/fired             the exactly-once claim (created whole, only if absent)
    index/<action_hash>              the session that suspended this action (a lookup aid)

``<key>`` is the BLAKE3 of the session id (ids are free text). Appends hold the session lock, go
out in one ``write`` and are fsynced; a torn last line left by a killed writer is dropped by
the next writer (it was never acknowledged).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import blake3

from heso import durable
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
from heso.errors import CanonicalizationError, LifecycleError

APPROVALS_DIR = "approvals"
LIFECYCLE_FILE = "lifecycle.jsonl"
SESSION_FILE = "session.json"
LOCK_FILE = "lock"
FIRED_FILE = "fired"

_held = threading.local()


def session_key(session: str) -> str:
    """The directory name of ``session``."""
    return blake3.blake3(b"heso-session\n" + session.encode("utf-8")).hexdigest()[:32]


class FileApprovalStore:
    """The approvals directory of one project (``heso-local-data/approvals/``)."""

    def __init__(self, data_dir: str | Path) -> None:
        self.root = Path(data_dir) / APPROVALS_DIR

    @property
    def location(self) -> str:
        return str(self.root)

    # -- paths -------------------------------------------------------------------------------

    def session_dir(self, session: str) -> Path:
        return self.root / "sessions" / session_key(check_session(session))

    # -- locking -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, session: str) -> Iterator[None]:
        directory = self.session_dir(session)
        held: set[str] = getattr(_held, "sessions", set())
        _held.sessions = held
        token = str(directory)
        if token in held:
            yield
            return
        durable.make_private_dir(directory)
        fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held.add(token)
            try:
                yield
            finally:
                held.discard(token)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _require_lock(self, session: str) -> None:
        if str(self.session_dir(session)) not in getattr(_held, "sessions", set()):
            raise RuntimeError("hold the store's locked(session) to change a session")

    # -- session file ------------------------------------------------------------------------

    def create_session(self, session: str) -> bytes:
        self._require_lock(session)
        directory = durable.make_private_dir(self.session_dir(session))
        path = directory / SESSION_FILE
        if not path.exists():
            durable.remove_stale_temps(path)  # under the session lock: left by a killed writer
            doc = {"session": session, "binding_secret": secrets.token_hex(32)}
            durable.atomic_write(path, json.dumps(doc, sort_keys=True).encode() + b"\n")
        return self.binding_secret(session)

    def binding_secret(self, session: str) -> bytes:
        try:
            doc = json.loads((self.session_dir(session) / SESSION_FILE).read_bytes())
            return bytes.fromhex(doc["binding_secret"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LifecycleError(f"session {session!r} has no readable {SESSION_FILE}") from exc

    def exists(self, session: str) -> bool:
        return (self.session_dir(session) / LIFECYCLE_FILE).exists()

    # -- the lifecycle log -------------------------------------------------------------------

    def lines(self, session: str) -> list[Line]:
        path = self.session_dir(session) / LIFECYCLE_FILE
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return []
        return read_lines(data[: data.rfind(b"\n") + 1].split(b"\n")[:-1], str(path))

    def append(self, session: str, part: Mapping[str, Any]) -> Line:
        self._require_lock(session)
        directory = durable.make_private_dir(self.session_dir(session))
        path = directory / LIFECYCLE_FILE
        with durable.locked_append(path) as lifecycle:
            existing = read_lines(lifecycle.read().split(b"\n")[:-1], str(path))
            seq = len(existing)
            line = encode_line(seq, existing[-1].hash if existing else GENESIS, part)
            lifecycle.write(line + b"\n")
        return Line(
            seq, blake3.blake3(line).hexdigest(), dict(part["record"]), dict(part["signer"])
        )

    # -- exactly once ------------------------------------------------------------------------

    def claim_fire(self, session: str, note: Mapping[str, Any]) -> bool:
        data = json.dumps(dict(note), sort_keys=True).encode() + b"\n"
        return durable.create_exclusive(self.session_dir(session) / FIRED_FILE, data)

    def claim_and_record_fired(
        self,
        session: str,
        note: Mapping[str, Any],
        records: Callable[[], Sequence[Mapping[str, Any]]],
    ) -> bool:
        """The claim file, then the records appended (a crash between leaves the claim: the
        session then never fires)."""
        self._require_lock(session)
        if not self.claim_fire(session, note):
            return False
        for part in records():
            self.append(session, part)
        return True

    def fire_claimed(self, session: str) -> bool:
        return (self.session_dir(session) / FIRED_FILE).exists()

    # -- index of action hashes --------------------------------------------------------------

    def index(self, action_hash: str, session: str) -> str:
        directory = durable.make_private_dir(self.root / "index")
        path = directory / action_hash
        if durable.create_exclusive(path, session.encode("utf-8")):
            return session
        return path.read_text(encoding="utf-8")

    def session_of(self, action_hash: str) -> str | None:
        if not is_action_hash(action_hash):
            return None
        try:
            return (self.root / "index" / action_hash).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def sessions(self) -> list[str]:
        """Every session with a lifecycle, by the id its first record names (a directory whose
        name does not match that id is not a session heso wrote, and is left out)."""
        directory = self.root / "sessions"
        try:
            keys = sorted(os.listdir(directory))
        except FileNotFoundError:
            return []
        out = []
        for key in keys:
            openings = _openings(directory / key / LIFECYCLE_FILE, first_only=True)
            if openings and session_key(openings[0][1]) == key:
                out.append(openings[0][1])
        return out

    def all_hashes(self) -> list[tuple[str, str]]:
        """Read from the sessions' lifecycles (and the index, which names sessions too damaged
        to read)."""
        found = {
            (action_hash, session)
            for session in self.sessions()
            for action_hash, _ in _openings(self.session_dir(session) / LIFECYCLE_FILE)
        }
        found.update(self._indexed())
        return sorted(found)

    def resolve(self, prefix: str) -> tuple[str, str]:
        return pick(prefix, self.all_hashes())

    def open_hashes(
        self, registry: Registry | None = None, now: datetime | None = None
    ) -> list[tuple[str, str]]:
        if registry is None:
            registry = load_project_registry(self.root.parent.parent)
        return pending(self, registry, now or clock())

    def wait_for_change(self, session: str, seen: int, timeout: float) -> bool:
        """Poll ``session`` until it has more than ``seen`` records, for up to ``timeout``
        seconds."""
        deadline = time.monotonic() + timeout
        delay = 0.02
        while len(self.lines(session)) <= seen:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(delay, left))
            delay = min(delay * 2, 0.25)
        return True

    def _indexed(self) -> list[tuple[str, str]]:
        directory = self.root / "index"
        try:
            names = sorted(os.listdir(directory))
        except FileNotFoundError:
            return []
        out = []
        for h in names:
            if not is_action_hash(h):
                continue
            with contextlib.suppress(FileNotFoundError):
                out.append((h, (directory / h).read_text(encoding="utf-8")))
        return out


def _openings(path: Path, *, first_only: bool = False) -> list[tuple[str, str]]:
    """``(action_hash, session)`` of the opening records in the lifecycle at ``path``, read
    without verifying anything (a listing; :func:`heso.approvals.state.fold` verifies)."""
    out: list[tuple[str, str]] = []
    try:
        f = open(path, "rb")
    except OSError:
        return out
    with f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break
            try:
                record = loads_strict(raw[:-1])["record"]
                kind, action_hash = record["kind"], record["action_hash"]
                session = record["session"]
            except (CanonicalizationError, ValueError, KeyError, TypeError):
                if first_only:
                    break
                continue
            if kind in OPENING_KINDS and isinstance(action_hash, str) and isinstance(session, str):
                out.append((action_hash, session))
            if first_only:
                break
    return out
