"""The approvals store interface: sessions' signed lifecycles, the pending list, the fire claim.

Every session (one gated call and whatever became of it) keeps a **lifecycle**: signed records,
each line the RFC 8785 form of ``{"prev", "record", "seq", "signer"}`` with ``prev`` the
BLAKE3 of the previous line (64 zeros first), so a record cannot be edited, dropped or
reordered unnoticed. Decisions (the operator's, an approver's) are records of it; the state of
a session, and so the pending list, is folded from the signed records alone
(:mod:`heso.approvals.state`). A session fires at most once: :meth:`ApprovalStore.claim_fire`
(and :meth:`ApprovalStore.claim_and_record_fired`, which records ``fired`` with the claim)
succeeds for exactly one caller, in any thread, process or host.

Callers obtain a store from the configuration (:func:`heso.stores.open_approvals`): the file
store (:class:`heso.approvals.file_store.FileApprovalStore`) or, for fleets, a PostgreSQL store.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import blake3

from heso.canonical import canonical_bytes, loads_strict
from heso.errors import ApprovalError, CanonicalizationError, LifecycleError

if TYPE_CHECKING:
    from heso.approvals.registry import Registry

GENESIS = "0" * 64
LINE_KEYS = frozenset({"prev", "record", "seq", "signer"})
OPENING_KINDS = ("suspended", "allowed", "blocked")
"""Record kinds that open a session (or, ``suspended`` with ``supersedes``, reopen it)."""
_HEX = frozenset("0123456789abcdef")


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


def is_action_hash(text: str) -> bool:
    """Whether ``text`` is a full action hash (64 lowercase hex digits)."""
    return len(text) == 64 and set(text) <= _HEX


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


def encode_line(seq: int, prev: str, part: Mapping[str, Any]) -> bytes:
    """The canonical lifecycle line (without newline) of a signed record ``part``."""
    return canonical_bytes(
        {"prev": prev, "record": part["record"], "seq": seq, "signer": part["signer"]}
    )


def read_lines(raw: Iterable[bytes], where: str) -> list[Line]:
    """Verify lifecycle lines (without newlines) in order: their form and their links.
    ``where`` names the lifecycle in errors (``LifecycleError``)."""
    out: list[Line] = []
    prev = GENESIS
    for i, line in enumerate(raw):
        at = f"{where}: line {i + 1}"
        try:
            entry = loads_strict(line)
        except (CanonicalizationError, ValueError) as exc:
            raise LifecycleError(f"{at} is not valid JSON: {exc}") from None
        if not isinstance(entry, dict) or set(entry) != LINE_KEYS:
            raise LifecycleError(f"{at} must have exactly prev, record, seq, signer")
        if entry["seq"] != i or entry["prev"] != prev:
            raise LifecycleError(
                f"{at} is out of sequence or does not link to the line before it: "
                "the lifecycle was edited"
            )
        if canonical_bytes(entry) != line:
            raise LifecycleError(f"{at} is not in canonical form: the lifecycle was edited")
        prev = blake3.blake3(line).hexdigest()
        out.append(Line(i, prev, entry["record"], entry["signer"]))
    return out


def pick(prefix: str, candidates: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """The one ``(action_hash, session)`` of ``candidates`` whose hash starts with ``prefix``
    (``ApprovalError`` when the prefix is not hex, matches nothing or several)."""
    p = prefix.strip().lower()
    if not p or not set(p) <= _HEX or len(p) > 64:
        raise ApprovalError(f"{prefix!r} is not an action_hash prefix (hex digits)")
    hits = [(h, s) for h, s in candidates if h.startswith(p)]
    if not hits:
        raise ApprovalError(f"no suspended action matches {prefix!r} (see `heso approvals list`)")
    if len(hits) > 1:
        shown = ", ".join(h[:16] for h, _ in hits[:5])
        raise ApprovalError(f"{prefix!r} matches {len(hits)} actions ({shown}); give more digits")
    return hits[0]


class ApprovalStore(Protocol):
    """Where sessions' lifecycles, their binding secrets and fire claims are kept.

    A session is changed only under :meth:`locked`; appends are durable when they return.
    """

    @property
    def location(self) -> str:
        """Where the store is, fit to show (a path, or a URL without its password)."""
        ...

    def locked(self, session: str) -> AbstractContextManager[None]:
        """Hold ``session``'s lock across processes (and hosts); re-entrant within a thread."""
        ...

    def create_session(self, session: str) -> bytes:
        """Create ``session`` if new (hold its lock); returns its argument-binding secret."""
        ...

    def binding_secret(self, session: str) -> bytes:
        """The per-session key the argument binding is computed with (``LifecycleError`` when
        the session has none)."""
        ...

    def exists(self, session: str) -> bool:
        """Whether ``session`` has a lifecycle."""
        ...

    def lines(self, session: str) -> list[Line]:
        """Every line of ``session``'s lifecycle, verified by :func:`read_lines`."""
        ...

    def append(self, session: str, part: Mapping[str, Any]) -> Line:
        """Append the signed record ``part`` (``{"record", "signer"}``) to ``session``'s
        lifecycle (hold its lock); durable when it returns."""
        ...

    def claim_fire(self, session: str, note: Mapping[str, Any]) -> bool:
        """Claim the one firing of ``session``: ``True`` for the first caller ever, in any
        thread, process or host; ``False`` for every other."""
        ...

    def claim_and_record_fired(
        self,
        session: str,
        note: Mapping[str, Any],
        records: Callable[[], Sequence[Mapping[str, Any]]],
    ) -> bool:
        """Claim the one firing of ``session`` (as :meth:`claim_fire`) and, only once it is won,
        append the signed records ``records()`` returns (hold its lock): ``False``, without
        calling ``records``, when another caller won it. Where the store has transactions the
        claim and the records are one (a failure anywhere takes the claim back)."""
        ...

    def fire_claimed(self, session: str) -> bool:
        """Whether :meth:`claim_fire` was won for ``session``."""
        ...

    def index(self, action_hash: str, session: str) -> str:
        """Map ``action_hash`` to ``session``; returns the session it already maps to, if any
        (first mapping wins)."""
        ...

    def session_of(self, action_hash: str) -> str | None:
        """The session that suspended exactly ``action_hash``, if any."""
        ...

    def sessions(self) -> list[str]:
        """Every session with a lifecycle."""
        ...

    def all_hashes(self) -> list[tuple[str, str]]:
        """``(action_hash, session)`` of every action ever suspended (or allowed, or blocked)
        in a session, sorted."""
        ...

    def resolve(self, prefix: str) -> tuple[str, str]:
        """``(action_hash, session)`` of the one action whose hash starts with ``prefix``
        (:func:`pick`'s errors)."""
        ...

    def wait_for_change(self, session: str, seen: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until ``session`` has more than ``seen`` records;
        whether it has (the file store polls; the database store is notified)."""
        ...

    def open_hashes(
        self, registry: Registry | None = None, now: datetime | None = None
    ) -> list[tuple[str, str]]:
        """The pending list: ``(action_hash, session)`` of every action awaiting a decision at
        ``now``, folded from the signed lifecycles with ``registry`` (default: the project's
        ``[approvers]`` and the approvals clock)."""
        ...
