"""Approvals on disk: per-session hash-chained lifecycles, the pending index, the fire claim.

Layout under ``heso-local-data/approvals/``::

    sessions/<key>/lifecycle.jsonl   one signed record a line, hash-chained like receipts.jsonl
    sessions/<key>/session.json      the session id and its argument-binding secret (0600)
    sessions/<key>/lock              the session's inter-process lock (flock)
    sessions/<key>/fired             the exactly-once claim (created with O_CREAT|O_EXCL)
    index/<action_hash>              the session that suspended this action (a lookup aid)

``<key>`` is the BLAKE3 of the session id (ids are free text). A lifecycle line is the RFC 8785
form of ``{"prev", "record", "seq", "signer"}``; ``prev`` is the BLAKE3 of the previous line
(64 zeros first). Appends hold the session lock, go out in one ``write`` and are fsynced; a torn
last line left by a killed writer is dropped by the next writer (it was never acknowledged).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import blake3

from heso.canonical import canonical_bytes, loads_strict
from heso.errors import ApprovalError, CanonicalizationError, LifecycleError

APPROVALS_DIR = "approvals"
LIFECYCLE_FILE = "lifecycle.jsonl"
SESSION_FILE = "session.json"
LOCK_FILE = "lock"
FIRED_FILE = "fired"
GENESIS = "0" * 64
LINE_KEYS = frozenset({"prev", "record", "seq", "signer"})
OPENING_KINDS = ("suspended", "allowed", "blocked")
"""Record kinds that open a session (or, ``suspended`` with ``supersedes``, reopen it)."""
_HEX = frozenset("0123456789abcdef")

_held = threading.local()


def session_key(session: str) -> str:
    """The directory name of ``session``."""
    return blake3.blake3(b"heso-session\n" + session.encode("utf-8")).hexdigest()[:32]


def new_session_id() -> str:
    """A fresh random session id."""
    return "sess_" + secrets.token_hex(12)


def check_session(session: Any) -> str:
    """``session`` if it is a usable session id."""
    if not isinstance(session, str) or not session or len(session) > 256:
        raise ApprovalError(
            f"a session id is a non-empty string of at most 256 characters, not {session!r}"
        )
    return session


@dataclass(frozen=True)
class Line:
    """One verified lifecycle line."""

    seq: int
    hash: str
    record: dict[str, Any]
    signer: dict[str, Any]

    @property
    def part(self) -> dict[str, Any]:
        """The signed record as relayed (without chain position)."""
        return {"record": self.record, "signer": self.signer}


class Store:
    """The approvals directory of one project."""

    def __init__(self, data_dir: str | Path) -> None:
        self.root = Path(data_dir) / APPROVALS_DIR

    # -- paths -------------------------------------------------------------------------------

    def session_dir(self, session: str) -> Path:
        return self.root / "sessions" / session_key(check_session(session))

    def _mkdir(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)

    # -- locking -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, session: str) -> Iterator[None]:
        """Hold ``session``'s inter-process lock (re-entrant within a thread)."""
        directory = self.session_dir(session)
        held: set[str] = getattr(_held, "sessions", set())
        _held.sessions = held
        token = str(directory)
        if token in held:
            yield
            return
        self._mkdir(directory)
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
            raise RuntimeError("hold Store.locked(session) to change a session")

    # -- session file ------------------------------------------------------------------------

    def create_session(self, session: str) -> bytes:
        """Create ``session`` (idempotent); returns its binding secret."""
        self._require_lock(session)
        directory = self.session_dir(session)
        self._mkdir(directory)
        path = directory / SESSION_FILE
        if not path.exists():
            doc = {"session": session, "binding_secret": secrets.token_hex(32)}
            _write_atomic(path, json.dumps(doc, sort_keys=True).encode() + b"\n")
        return self.binding_secret(session)

    def binding_secret(self, session: str) -> bytes:
        """The per-session key the argument binding is computed with."""
        try:
            doc = json.loads((self.session_dir(session) / SESSION_FILE).read_bytes())
            return bytes.fromhex(doc["binding_secret"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LifecycleError(f"session {session!r} has no readable {SESSION_FILE}") from exc

    def exists(self, session: str) -> bool:
        return (self.session_dir(session) / LIFECYCLE_FILE).exists()

    # -- the lifecycle log -------------------------------------------------------------------

    def lines(self, session: str) -> list[Line]:
        """Every complete line of ``session``'s lifecycle, links verified."""
        path = self.session_dir(session) / LIFECYCLE_FILE
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return []
        out: list[Line] = []
        prev = GENESIS
        end = data.rfind(b"\n") + 1
        for i, raw in enumerate(data[:end].split(b"\n")[:-1]):
            where = f"{path}: line {i + 1}"
            try:
                entry = loads_strict(raw)
            except (CanonicalizationError, ValueError) as exc:
                raise LifecycleError(f"{where} is not valid JSON: {exc}") from None
            if not isinstance(entry, dict) or set(entry) != LINE_KEYS:
                raise LifecycleError(f"{where} must have exactly prev, record, seq, signer")
            if entry["seq"] != i or entry["prev"] != prev:
                raise LifecycleError(
                    f"{where} is out of sequence or does not link to the line before it: "
                    "the lifecycle was edited"
                )
            if canonical_bytes(entry) != raw:
                raise LifecycleError(f"{where} is not in canonical form: the lifecycle was edited")
            prev = blake3.blake3(raw).hexdigest()
            out.append(Line(i, prev, entry["record"], entry["signer"]))
        return out

    def append(self, session: str, part: Mapping[str, Any]) -> Line:
        """Append a signed record to ``session``'s lifecycle (hold the session lock)."""
        self._require_lock(session)
        directory = self.session_dir(session)
        self._mkdir(directory)
        path = directory / LIFECYCLE_FILE
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            data = os.pread(fd, size, 0) if size else b""
            end = data.rfind(b"\n") + 1
            if end < size:
                os.ftruncate(fd, end)
            existing = self.lines(session)
            seq = len(existing)
            prev = existing[-1].hash if existing else GENESIS
            entry = {"prev": prev, "record": part["record"], "seq": seq, "signer": part["signer"]}
            line = canonical_bytes(entry)
            written = os.write(fd, line + b"\n")
            if written != len(line) + 1:
                os.ftruncate(fd, end)
                raise LifecycleError(f"short write to {path}")
            os.fsync(fd)
        finally:
            os.close(fd)
        return Line(
            seq, blake3.blake3(line).hexdigest(), dict(part["record"]), dict(part["signer"])
        )

    # -- exactly once ------------------------------------------------------------------------

    def claim_fire(self, session: str, note: Mapping[str, Any]) -> bool:
        """Atomically claim the one firing of ``session``; only the first caller ever wins."""
        path = self.session_dir(session) / FIRED_FILE
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        try:
            os.write(fd, json.dumps(dict(note), sort_keys=True).encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        return True

    def fire_claimed(self, session: str) -> bool:
        return (self.session_dir(session) / FIRED_FILE).exists()

    # -- index of action hashes --------------------------------------------------------------

    def index(self, action_hash: str, session: str) -> str:
        """Map ``action_hash`` to ``session``; returns the session it already maps to, if any."""
        directory = self.root / "index"
        self._mkdir(directory)
        path = directory / action_hash
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text(encoding="utf-8")
        try:
            os.write(fd, session.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return session

    def session_of(self, action_hash: str) -> str | None:
        """The session that suspended exactly ``action_hash``, if any."""
        if len(action_hash) != 64 or not set(action_hash) <= _HEX:
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
        """``(action_hash, session)`` of every action ever suspended here, read from the
        sessions' lifecycles (and the index, which names sessions too damaged to read)."""
        found = {
            (action_hash, session)
            for session in self.sessions()
            for action_hash, _ in _openings(self.session_dir(session) / LIFECYCLE_FILE)
        }
        found.update(self._listing("index"))
        return sorted(found)

    def open_hashes(self) -> list[tuple[str, str]]:
        """``(action_hash, session)`` of every action awaiting a decision now, folded from the
        signed lifecycles with the project's ``[approvers]`` (for tools and tests; the CLI and
        the console use :func:`heso.approvals.state.survey`)."""
        from heso.approvals.registry import load_project_registry
        from heso.approvals.sla import clock
        from heso.approvals.state import survey

        registry = load_project_registry(self.root.parent.parent)
        return [
            (h, session)
            for h, session, st in survey(self, registry, clock())
            if not isinstance(st, LifecycleError) and st.action_hash == h and st.is_open
        ]

    def _listing(self, name: str) -> list[tuple[str, str]]:
        directory = self.root / name
        try:
            names = sorted(os.listdir(directory))
        except FileNotFoundError:
            return []
        out = []
        for h in names:
            if len(h) != 64 or not set(h) <= _HEX:
                continue
            with contextlib.suppress(FileNotFoundError):
                out.append((h, (directory / h).read_text(encoding="utf-8")))
        return out

    def resolve(self, prefix: str) -> tuple[str, str]:
        """``(action_hash, session)`` of the one suspended action whose hash starts with
        ``prefix``."""
        p = prefix.strip().lower()
        if not p or not set(p) <= _HEX or len(p) > 64:
            raise ApprovalError(f"{prefix!r} is not an action_hash prefix (hex digits)")
        hits = [(h, s) for h, s in self.all_hashes() if h.startswith(p)]
        if not hits:
            raise ApprovalError(
                f"no suspended action matches {prefix!r} (see `heso approvals list`)"
            )
        if len(hits) > 1:
            shown = ", ".join(h[:16] for h, _ in hits[:5])
            raise ApprovalError(
                f"{prefix!r} matches {len(hits)} actions ({shown}); give more digits"
            )
        return hits[0]


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


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
