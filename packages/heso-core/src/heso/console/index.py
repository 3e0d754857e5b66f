"""The console's index of a ledger: the columns its filters read, kept in step with the store.

One small record per entry, in arrays (a few dozen bytes an entry, whatever the receipts
hold): a code for each of verb, tool, decision, rule, workflow, account and host (the
PostgreSQL store's unsigned record of where the entry was appended), the capture time,
the approver count and the entry's outcome. :meth:`ChainIndex.refresh` reads only the entries
appended since it last read (:meth:`~heso.ledger.store.LedgerReader.entries` from the last
position) and starts over only when the entries it read are no longer there. The index is
derived data, used to pick which entries to show; what a page shows is parsed from the entries
themselves, and the chain's verdict comes from the verifier.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from array import array
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from heso.console import index_file
from heso.errors import ChainError
from heso.ledger.format import entry_hash
from heso.ledger.store import LedgerReader

COLUMNS = ("verb", "tool", "decision", "rule_id", "workflow", "account", "host")
FILTERS = ("verb", "tool", "decision", "workflow", "account", "host", "outcome")
_READ = 6
"""The columns read from the entry itself (``host`` comes from the store, beside it)."""

# Outcomes: what became of the action an entry records.
RAN, BLOCKED, APPROVED, SUSPENDED, UNREADABLE = range(5)
OUTCOME_NAMES = ("ran", "blocked", "approved", "suspended", "unreadable")
"""``suspended`` is resolved from the approvals store: ``waiting``, ``approved``, ``denied`` or
``expired``."""
OUTCOMES = ("ran", "blocked", "approved", "waiting", "denied", "expired", "unreadable")
REPEAT = 1
"""Flag: the entry is the L1 receipt of an action listed before (counted once)."""

_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z\Z", re.ASCII)
_FAST_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?Z\Z", re.ASCII).match
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_BUCKETS = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400, 30 * 86400)
_MAX_BUCKETS = 48
_BATCH = 5_000
SAVE_EVERY = 50_000
"""Entries the index grows by before it is written to its file again (a smaller store is
indexed afresh in about a second)."""
_QUICK = 2_000
"""Entries a request indexes itself before handing the rest to a background thread."""
MISMATCH = "the saved console index did not match the store; it was rebuilt"

_log = logging.getLogger("heso")

try:
    from orjson import loads as _loads
except ImportError:  # PyPy: the standard parser
    _loads = json.loads  # type: ignore[assignment]  # takes what the index passes (bytes, str)


def parse_stamp(text: Any) -> datetime | None:
    """An RFC 3339 UTC ``...Z`` timestamp (up to 9 fraction digits), else ``None``."""
    if not isinstance(text, str):
        return None
    m = _STAMP.match(text.strip())
    if m is None:
        return None
    try:
        moment = datetime.fromisoformat(m.group(1)).replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    fraction = (m.group(2) or "").ljust(6, "0")[:6]
    return moment + timedelta(microseconds=int(fraction))


def epoch_of(stamp: Any) -> float:
    """Seconds since the epoch of a ``captured_at`` stamp (NaN when it is not one)."""
    if type(stamp) is str and len(stamp) in (20, 27) and _FAST_STAMP(stamp):
        try:
            return datetime.fromisoformat(stamp[:-1] + "+00:00").timestamp()
        except ValueError:
            return math.nan
    moment = parse_stamp(stamp)
    return math.nan if moment is None else (moment - _EPOCH).total_seconds()


class ChainIndex:
    """The filterable columns of every entry of one ledger (thread-safe)."""

    def __init__(
        self, ledger: LedgerReader, path: Path | None = None, save_every: int = SAVE_EVERY
    ) -> None:
        self.ledger = ledger
        self.path = path
        """Where the index is kept between runs (``None``: never kept)."""
        self.save_every = save_every
        self._saved = 0
        self._tried_load = False
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._builder: threading.Thread | None = None
        self._checked = threading.Event()
        self._checked.set()
        self.rebuilt = False
        """The saved index taken up did not match the index rebuilt from the store."""
        self._reset()

    def _reset(self) -> None:
        self.length = 0
        self.values: dict[str, list[str]] = {c: [""] for c in COLUMNS}
        self._codes: dict[str, dict[str, int]] = {c: {"": 0} for c in COLUMNS}
        self.columns: dict[str, array[int]] = {c: array("I") for c in COLUMNS}
        self._column_list = [self.columns[c] for c in COLUMNS]
        self._code_list = [self._codes[c] for c in COLUMNS]
        self._value_list = [self.values[c] for c in COLUMNS]
        self.when = array("d")
        self.approvers = array("H")
        self.outcome = array("B")
        self.flags = array("B")
        self.suspended: dict[str, int] = {}
        """action_hash → seq of require_approval entries whose L1 receipt is not chained."""
        self._last_hash = ""
        self._stamp: Any = None
        self.resets = 0

    # -- keeping up with the store --------------------------------------------------------

    def refresh(self, batch: int | None = None) -> bool:
        """Read the entries appended since the last refresh (at most ``batch`` of them);
        returns whether the index has caught up with the store."""
        with self._lock:
            stamp = self.ledger.stamp()
            if stamp == self._stamp:
                return True
            if self.length and not self._still_there():
                self._reset()
                self.resets += 1
            last = None
            left = batch
            first = self.length
            for seq, line in self.ledger.entries(self.length):
                if seq != self.length:
                    break
                if left is not None:
                    if left == 0:
                        break
                    left -= 1
                self._add(line)
                last = line
            if last is not None:
                self._last_hash = entry_hash(last)
            self._add_hosts(first, self.length)
            if left != 0:
                self._stamp = stamp
            return left != 0

    def catch_up(self, wait: float | None) -> bool:
        """Bring the index up to date, in a background thread when that takes long: waits at
        most ``wait`` seconds (``None``: until done); returns whether it is up to date."""
        with self._build_lock:
            if self._builder is None or not self._builder.is_alive():
                # a saved index is taken up by the builder, not by this request
                saved = not self._tried_load and self.path is not None and self.path.exists()
                self._tried_load = self._tried_load or not saved
                if not saved and wait != 0 and self.refresh(batch=_QUICK):
                    return True
                self._builder = threading.Thread(
                    target=self._build, name="heso-console-index", daemon=True
                )
                self._builder.start()
            builder = self._builder
        builder.join(wait)
        return not builder.is_alive() and self.refresh(batch=_BATCH)

    def _build(self) -> None:
        if not self._tried_load:
            self._tried_load = True
            self.load()
        while not self.refresh(batch=_BATCH):
            pass
        self._save_quietly()

    def _save_quietly(self, force: bool = False) -> None:
        try:
            self.save(force)
        except OSError:
            pass  # a read-only or full data directory: the index is rebuilt next time

    def rewind(self, seq: int) -> None:
        """Forget entries from ``seq`` on (the verifier found entry ``seq`` changed), so the
        next refresh reads them again."""
        with self._lock:
            if seq >= self.length:
                return
            for name in COLUMNS:
                del self.columns[name][seq:]
            for col in (self.when, self.approvers, self.outcome, self.flags):
                del col[seq:]
            self.suspended = {h: s for h, s in self.suspended.items() if s < seq}
            self.length = seq
            self._stamp = None
            self._last_hash = entry_hash(self.ledger.line(seq - 1)) if seq else ""

    def _still_there(self) -> bool:
        try:
            return entry_hash(self.ledger.line(self.length - 1)) == self._last_hash
        except ChainError:
            return False

    def _add_hosts(self, start: int, end: int) -> None:
        """The host column of entries ``start`` to ``end``: what the store recorded beside
        each entry (``hosts``, the PostgreSQL store), else empty."""
        column, codes, table = self.columns["host"], self._codes["host"], self.values["host"]
        hosts_of = getattr(self.ledger, "hosts", None)
        known = hosts_of(start, end) if hosts_of is not None and end > start else {}
        for seq in range(start, end):
            value = known.get(seq, "")
            code = codes.get(value)
            if code is None:
                code = codes[value] = len(table)
                table.append(value)
            column.append(code)

    def _add(self, line: bytes) -> None:
        seq = self.length
        read = read_entry(line)
        if read is None:
            values, action_hash, approvers = ("?", "?", "unreadable", "", "", ""), "", 0
            outcome, flag, when = UNREADABLE, 0, math.nan
        else:
            values, action_hash, approvers, when = read
            outcome, flag = RAN, 0
            decision = values[2]
            if decision == "block":
                outcome = BLOCKED
            elif decision == "require_approval" and type(action_hash) is str:
                if approvers:
                    outcome = APPROVED
                    first = self.suspended.pop(action_hash, None)
                    if first is not None:
                        self.outcome[first] = APPROVED
                        flag = REPEAT
                else:
                    outcome = SUSPENDED
                    self.suspended.setdefault(action_hash, seq)
        columns, codes, tables = self._column_list, self._code_list, self._value_list
        for k in range(_READ):
            value = values[k]
            if type(value) is not str:
                value = ""
            code = codes[k].get(value)
            if code is None:
                code = codes[k][value] = len(tables[k])
                tables[k].append(value)
            columns[k].append(code)
        self.when.append(when)
        self.approvers.append(min(approvers, 65535))
        self.outcome.append(outcome)
        self.flags.append(flag)
        self.length += 1

    # -- kept on disk ----------------------------------------------------------------------

    def save(self, force: bool = False) -> bool:
        """Write the index to its file (atomically), when it has one and grew by
        ``save_every`` entries since it was last written or read (``force``: whatever its
        growth); returns whether it wrote. An index taken up from the file is not written
        before it is checked."""
        if self.path is None or (self.checking and not force):
            return False
        with self._lock:
            if self.length - self._saved < self.save_every and not force:
                return False
            data = index_file.dump(self, self.ledger.location)
            length = self.length
        index_file.write(self.path, data)
        self._saved = length
        return True

    def load(self) -> bool:
        """Take up the index saved in its file when it still describes the store (the same
        store, its entries still there, a sample of them read again the same); a stale,
        foreign or damaged file is ignored (and rebuilt). Returns whether it was taken up.

        The file is a speed-up, never a source of truth: once taken up, the index is rebuilt
        from the store in a background thread anyway and compared (:attr:`checking` until
        then); when they differ the rebuilt one replaces it, :attr:`rebuilt` is set, a
        warning is logged and the file is written again."""
        if self.path is None or self.length:
            return False
        state = index_file.load(self.path, self.ledger, COLUMNS, read_entry)
        if state is None:
            return False
        with self._lock:
            fresh = self._empty()  # nothing was indexed meanwhile
            if fresh:
                self._take(state)
                self._saved = self.length
                self._checked.clear()
        if fresh:
            threading.Thread(
                target=self._check, name="heso-console-index-check", daemon=True
            ).start()
        return fresh

    @property
    def checking(self) -> bool:
        """An index taken up from its file is being checked against the store."""
        return not self._checked.is_set()

    def wait_checked(self, timeout: float | None = None) -> bool:
        """Wait until an index taken up from its file is checked; returns whether it is."""
        return self._checked.wait(timeout)

    def _check(self) -> None:
        """Rebuild the index from the store and compare it with the one taken up."""
        try:
            fresh = ChainIndex(self.ledger)
            while True:
                while not fresh.refresh(batch=_BATCH):
                    pass
                while not self.refresh(batch=_BATCH):
                    pass
                with self._lock:
                    if fresh.length != self.length or fresh._last_hash != self._last_hash:
                        continue  # entries were appended in between: read them too
                    same = _agree(self, fresh)
                    if not same:
                        self._adopt(fresh)
                        self.rebuilt = True
                    break
        except Exception:  # the store could not be read: keep nothing from the file
            _log.exception("checking the saved console index failed; it is rebuilt")
            with self._lock:
                self._reset()
                self.resets += 1
            self._checked.set()
            return
        if not same:
            _log.warning("%s (%s)", MISMATCH, self.path)
        if not same:
            self._save_quietly(force=True)
        self._checked.set()
        self._save_quietly()  # the entries appended while it was checked (not saved meanwhile)

    def _adopt(self, other: ChainIndex) -> None:
        """Take ``other``'s entries in place of these (under the lock)."""
        for name in (
            "values",
            "_codes",
            "columns",
            "_column_list",
            "_code_list",
            "_value_list",
            "when",
            "approvers",
            "outcome",
            "flags",
            "suspended",
            "_last_hash",
            "_stamp",
            "length",
        ):
            setattr(self, name, getattr(other, name))
        self.resets += 1

    def _empty(self) -> bool:
        return self.length == 0

    def _take(self, state: index_file.State) -> None:
        self._reset()
        for k, name in enumerate(COLUMNS):
            self.values[name][:] = state.values[name]
            self._codes[name].clear()
            self._codes[name].update((v, i) for i, v in enumerate(state.values[name]))
            self.columns[name].extend(state.columns[name])
            self._value_list[k] = self.values[name]
        self.when, self.approvers = state.when, state.approvers
        self.outcome, self.flags = state.outcome, state.flags
        self.suspended = dict(state.suspended)
        self.length = state.length
        self._last_hash = state.last_hash

    # -- asking it -------------------------------------------------------------------------

    def facets(self) -> dict[str, list[str]]:
        """The values each filter can take (those seen in the store)."""
        out = {c: sorted(v for v in self.values[c] if v) for c in COLUMNS if c != "rule_id"}
        out["outcome"] = list(OUTCOMES)
        return out

    def select(
        self,
        wanted: Mapping[str, str],
        since: float | None,
        until: float | None,
        resolve: Callable[[str], str] | None = None,
        among: Any = None,
    ) -> range | list[int]:
        """Positions of the entries matching the exact ``wanted`` values and the time range,
        oldest first (``among``: only these positions). A ``range`` when nothing filters."""
        with self._lock:
            return self._select(wanted, since, until, resolve, among)

    def _select(
        self,
        wanted: Mapping[str, str],
        since: float | None,
        until: float | None,
        resolve: Callable[[str], str] | None,
        among: Any,
    ) -> range | list[int]:
        n = self.length
        equal: list[tuple[array[int], int]] = []
        for name in COLUMNS:
            value = wanted.get(name)
            if value:
                code = self._codes[name].get(value)
                if code is None:
                    return []
                equal.append((self.columns[name], code))
        tests: list[Callable[[int], bool]] = []
        when = self.when
        if since is not None:
            tests.append(lambda i: when[i] >= since)
        if until is not None:
            tests.append(lambda i: when[i] <= until)
        outcome = wanted.get("outcome")
        if outcome:
            tests.append(self._outcome_test(outcome, resolve))
        pool: range | list[int] = range(n) if among is None else among
        if not equal and not tests:
            return pool
        # the exact columns first, each one pass over what is left (no call per entry)
        for col, code in equal:
            if among is None and pool == range(n):
                pool = [i for i, c in enumerate(col) if c == code]
            else:
                pool = [i for i in pool if col[i] == code]
        for test in tests:
            pool = [i for i in pool if test(i)]
        return pool

    def _outcome_test(
        self, outcome: str, resolve: Callable[[str], str] | None
    ) -> Callable[[int], bool]:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        codes = self.outcome
        direct = {"ran": RAN, "blocked": BLOCKED, "unreadable": UNREADABLE}
        if outcome in direct:
            code = direct[outcome]
            return lambda i: codes[i] == code
        # approved, waiting, denied, expired: decided by the approvals store for suspensions
        # whose L1 receipt is not chained
        resolved = {
            seq
            for h, seq in self.suspended.items()
            if resolve is not None and resolve(h) == outcome
        }
        if outcome == "approved":
            return lambda i: codes[i] == APPROVED or i in resolved
        return lambda i: i in resolved

    def host(self, seq: int) -> str | None:
        """The host of entry ``seq`` (empty when the store recorded none); ``None`` when the
        entry is not indexed."""
        with self._lock:
            if not 0 <= seq < self.length:
                return None
            return self.values["host"][self.columns["host"][seq]]

    def outcome_of(self, seq: int, action_hash: str, resolve: Callable[[str], str]) -> str:
        code = self.outcome[seq]
        if code == SUSPENDED:
            return resolve(action_hash)
        return OUTCOME_NAMES[code]

    def timeline(self, picked: range | list[int]) -> dict[str, Any]:
        """Actions per time bucket and decision, each action counted once (an L1 receipt of
        an action listed before is not a new action); at most 48 buckets."""
        with self._lock:
            return self._timeline(picked)

    def _timeline(self, picked: range | list[int]) -> dict[str, Any]:
        when, flags, decisions = self.when, self.flags, self.columns["decision"]
        names = self.values["decision"]
        times = [when[i] for i in picked if not flags[i] and when[i] == when[i]]
        if not times:
            return {"bucket_seconds": 0, "buckets": []}
        first, last = min(times), max(times)
        size = next((b for b in _BUCKETS if (last - first) / b < _MAX_BUCKETS), _BUCKETS[-1])
        base, end = int(first // size), int(last // size)
        if end - base >= 400:  # 30-day buckets over decades: keep the picture bounded
            base = end - 399
        counts: list[dict[str, int]] = [{} for _ in range(end - base + 1)]
        for i in picked:
            t = when[i]
            if flags[i] or t != t:
                continue
            k = int(t // size) - base
            if k < 0:
                continue
            bucket = counts[k]
            d = names[decisions[i]]
            bucket[d] = bucket.get(d, 0) + 1
        fmt = "%Y-%m-%d" if size >= 86400 else "%Y-%m-%d %H:%M"
        return {
            "bucket_seconds": size,
            "buckets": [
                {
                    "start": (_EPOCH + timedelta(seconds=(base + i) * size)).strftime(fmt),
                    "counts": c,
                }
                for i, c in enumerate(counts)
            ],
        }


def _agree(a: ChainIndex, b: ChainIndex) -> bool:
    """Whether two indexes of the same entries hold the same values (their code tables may
    be ordered differently)."""
    for name in COLUMNS:
        va, vb = a.values[name], b.values[name]
        if [va[c] for c in a.columns[name]] != [vb[c] for c in b.columns[name]]:
            return False
    if (a.approvers, a.outcome, a.flags, a.suspended) != (
        b.approvers,
        b.outcome,
        b.flags,
        b.suspended,
    ):
        return False
    if a.when.tobytes() == b.when.tobytes():
        return True
    return len(a.when) == len(b.when) and all(
        x == y or (x != x and y != y) for x, y in zip(a.when, b.when, strict=True)
    )


def read_entry(line: bytes) -> tuple[tuple[Any, ...], Any, int, float] | None:
    """The indexed fields of an entry: the columns read from it (verb, tool, decision, rule,
    workflow, account), its action_hash, its approvers and capture time; ``None`` when it is
    not a readable receipt."""
    try:
        receipt = _loads(line)["receipt"]
        content = receipt["content"]
        action, policy = content["action"], content["policy"]
        approvers = 0
        for sig in receipt.get("signatures") or ():
            if type(sig) is dict and sig.get("key_id") != "operator":
                approvers += 1
        values = (
            action.get("verb"),
            action.get("tool_name"),
            policy.get("decision"),
            policy.get("rule_id"),
            action.get("workflow"),
            action.get("account"),
        )
        return values, content.get("action_hash"), approvers, epoch_of(content.get("captured_at"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _start(bucket: int, size: int, fmt: str) -> str:
    return (_EPOCH + timedelta(seconds=bucket * size)).strftime(fmt)


def newest_first(picked: range | list[int], offset: int, limit: int) -> Iterator[int]:
    """Positions ``offset`` to ``offset + limit`` of ``picked`` read from its end."""
    n = len(picked)
    for k in range(offset, min(n, offset + limit)):
        yield picked[n - 1 - k]
