"""A ledger's verdict kept current as the ledger grows: one full pass, then only new entries.

:class:`ChainWatch` remembers what the last pass found (the checked runs: counts, first and
last links, the first failure) and, when the store has only grown since, checks just the
appended entries and concludes again, so the verdict equals a full
:func:`~heso.ledger.verify.verify_ledger` of the same store. It goes back to a full pass when
the trust inputs change, when the store did not simply grow or get sealed (it changed with
neither new entries nor a new head, the last checked entry no longer hashes to what was
checked, or entries are gone), and at least every ``full_every`` seconds, which bounds how long
a rewrite of an old entry by a local process, made while a writer keeps appending, can go
unseen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from heso import verdict as v
from heso.errors import ChainError
from heso.keys import PublicKey
from heso.ledger import format as fmt
from heso.ledger.format import Head, entry_hash
from heso.ledger.store import LedgerReader
from heso.ledger.verify import Checked, Checker, Segment, conclude, prepare
from heso.receipt import ApproverGroup
from heso.verdict import Verdict


@dataclass(frozen=True)
class TrustInputs:
    """The trust inputs a verdict was reached with (compared to notice a change)."""

    trusted_operators: Collection[PublicKey] | None = None
    approver_keys: Mapping[PublicKey, str] | None = None
    approver_groups: Mapping[str, ApproverGroup] | None = None


@dataclass
class _Pass:
    """What the last pass found: its runs, how many entries they hold, and how it verified."""

    inputs: TrustInputs
    head: Head | None
    anchor: PublicKey | None
    checker: Checker
    segments: list[Segment]
    full_at: float

    @property
    def count(self) -> int:
        return sum(s.lines for s in self.segments)


def merged(a: Segment, b: Segment) -> Segment | None:
    """Two consecutive clean runs as one (``None`` when they do not join cleanly)."""
    if a.failure is not None or b.failure is not None or not a.lines or not b.lines:
        return None
    if b.first_seq != (a.first_seq or 0) + a.lines or b.first_prev != a.last_hash:
        return None
    return replace(a, lines=a.lines + b.lines, last_hash=b.last_hash, l1=a.l1 + b.l1)


def torn_tail(store: Any) -> bool:
    """Whether a torn line follows the store's complete entries (only a store that appends
    lines to a file can have one; it says so with ``torn_tail()``)."""
    probe: Callable[[], bool] | None = getattr(store, "torn_tail", None)
    return bool(probe()) if probe is not None else False


class ChainWatch:
    """The current verdict of one ledger (thread-safe; one pass at a time). ``workers`` is
    passed to the store's :meth:`~heso.ledger.store.Checkable.check` for full passes."""

    def __init__(
        self, store: LedgerReader, *, full_every: float = 600.0, workers: int | None = None
    ) -> None:
        self.store = store
        self.full_every = full_every
        self.workers = workers
        self._lock = threading.Lock()
        self._pass: _Pass | None = None
        self._stamp: Hashable = None
        self._verdict: Verdict | None = None
        self.full_passes = 0
        self.incremental_passes = 0

    def verdict(self, inputs: TrustInputs) -> Verdict:
        """The ledger's verdict with these trust inputs, checking only what changed."""
        with self._lock:
            stamp = self.store.stamp()
            last = self._pass
            if (
                self._verdict is not None
                and last is not None
                and stamp == self._stamp
                and last.inputs == inputs
                and time.monotonic() - last.full_at < self.full_every
            ):
                return self._verdict
            verdict = self._incremental(inputs) if last is not None else None
            if verdict is None:
                verdict = self._full(inputs)
            self._stamp, self._verdict = stamp, verdict
            return verdict

    @property
    def checked(self) -> int:
        """Entries the last pass covered."""
        return self._pass.count if self._pass is not None else 0

    def _full(self, inputs: TrustInputs) -> Verdict:
        self._pass = None
        prepared = prepare(
            self.store,
            trusted_operators=inputs.trusted_operators,
            approver_keys=inputs.approver_keys,
            approver_groups=inputs.approver_groups,
        )
        if isinstance(prepared, Verdict):
            return prepared
        head, anchor, checker = prepared
        checked = self.store.check(checker, workers=self.workers)
        self._pass = _Pass(inputs, head, anchor, checker, list(checked.segments), time.monotonic())
        self.full_passes += 1
        return self._conclude(self._pass, checked.torn_tail)

    def _incremental(self, inputs: TrustInputs) -> Verdict | None:
        """Check only the entries appended since the last pass; ``None`` when the store did
        not simply grow (or a full pass is due)."""
        last = self._pass
        assert last is not None
        if last.inputs != inputs or time.monotonic() - last.full_at >= self.full_every:
            return None
        head = self.store.signed_head()
        if isinstance(head, Verdict):
            return None
        if (head is None) != (last.head is None) or (
            head is not None and last.head is not None and head.operator != last.head.operator
        ):
            return None  # the anchor may have changed: decide afresh
        count = last.count
        if count:
            try:
                if entry_hash(self.store.line(count - 1)) != last.segments[-1].last_hash:
                    return None
            except ChainError:
                return None
        lines = (
            None if len(line) > fmt.MAX_ENTRY_BYTES else line
            for _, line in self.store.entries(count)
        )
        segment = last.checker(lines)
        if not segment.lines and head == last.head:
            return None  # changed without growing or sealing: rewritten, check it all
        if segment.lines:
            joined = merged(last.segments[-1], segment) if last.segments else None
            if joined is not None:
                last.segments[-1] = joined
            else:
                last.segments.append(segment)
        last.head = head
        self.incremental_passes += 1
        return self._conclude(last, torn_tail(self.store))

    def _conclude(self, p: _Pass, torn: bool) -> Verdict:
        return conclude(
            Checked(p.segments, torn),
            p.head,
            self.store.head_line,
            anchor=p.anchor,
            quarantined=self.store.quarantined,
        )


def entry_status(verdict: Verdict, seq: int) -> str:
    """``ok``, ``broken`` (the entry the verdict names) or ``unchecked`` (after it)."""
    if verdict.ok or verdict.code in (v.HEAD_MISSING, v.TORN_TAIL, v.CHAIN_TRUNCATED):
        return "ok"
    if verdict.entry is None:
        return "unchecked"
    if seq == verdict.entry:
        return "broken"
    if seq < verdict.entry or verdict.code == v.HEAD_MISMATCH:
        return "ok"
    return "unchecked"
