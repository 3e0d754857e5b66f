"""What ``heso console`` shows, read from a project's stores: receipts, the chain, approvals.

Everything here is read-only except :meth:`ProjectView.decide`, which records an approver's
decision signed in the browser (:mod:`heso.approvals.external`). Verification is the Python
verifier's, with the trust inputs ``heso verify`` reads (:func:`heso.trust.project_trust`): the
operator keys pinned by ``[heso] operator_keys`` and the registered approvers.
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from heso import stores
from heso.canonical import canonical_bytes, loads_strict
from heso.console import index_file
from heso.console.index import MISMATCH as index_mismatch
from heso.console.index import ChainIndex, newest_first, parse_stamp
from heso.display import escape
from heso.errors import CanonicalizationError, ChainError
from heso.ledger.format import Head, entry_hash
from heso.ledger.watch import ChainWatch, entry_status
from heso.project import POLICY_FILE, data_dir
from heso.toml_source import TomlSource
from heso.verdict import Verdict

FILTERS = ("verb", "tool", "decision", "workflow", "account")
MAX_LIMIT = 1000
CHAIN_WINDOW = 42
"""Entries the chain view draws at a time."""
_RELATIVE = re.compile(r"([1-9][0-9]{0,5})([mhdw])\Z")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def relative_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """The start of a relative range: ``30m``, ``24h``, ``7d``, ``2w`` before ``now``."""
    if not text:
        return None
    m = _RELATIVE.match(text.strip().lower())
    if m is None:
        raise ValueError(f"not a relative range: {text!r} (use e.g. 24h, 7d, 30m)")
    now = now or datetime.now(timezone.utc)
    return now - timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


def parse_bound(text: str | None) -> datetime | None:
    """A filter bound: ``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM[:SS]`` (UTC) or RFC 3339."""
    if not text:
        return None
    value = text.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a time: {text!r} (use e.g. 2026-01-02T03:04)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class Row:
    """One chain entry as the receipts list shows it."""

    seq: int
    entry_hash: str
    action_hash: str
    captured_at: str
    when: datetime | None
    verb: str
    tool: str
    decision: str
    rule_id: str
    workflow: str
    account: str
    approvers: int
    search: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "entry_hash": self.entry_hash,
            "action_hash": self.action_hash,
            "captured_at": self.captured_at,
            "verb": self.verb,
            "tool": self.tool,
            "decision": self.decision,
            "rule_id": self.rule_id,
            "workflow": self.workflow,
            "account": self.account,
            "approvers": self.approvers,
        }


@dataclass(frozen=True)
class RowFilter:
    """Which rows a listing keeps (the console's receipts list and ``heso log``): exact
    ``verb``/``tool``/``decision``/``workflow``/``account``, a word of ``q`` somewhere in the
    row, and ``captured_at`` within ``[since, until]``."""

    wanted: Mapping[str, str]
    q: str = ""
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str | None]) -> RowFilter:
        """From query or command-line parameters (``ValueError`` for a bad time); ``last``
        (``24h``, ``7d``) is a range ending now and wins over ``since``."""
        since = relative_since(params.get("last")) or parse_bound(params.get("since"))
        return cls(
            wanted={f: params.get(f) or "" for f in (*FILTERS, "host", "outcome")},
            q=(params.get("q") or "").strip().lower(),
            since=since,
            until=parse_bound(params.get("until")),
        )

    def matches(self, row: Row) -> bool:
        if any(v and getattr(row, f) != v for f, v in self.wanted.items() if f in FILTERS):
            return False
        if self.q and all(word not in row.search for word in self.q.split()):
            return False
        if self.since is not None and (row.when is None or row.when < self.since):
            return False
        return self.until is None or (row.when is not None and row.when <= self.until)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def row_of(seq: int, line: bytes) -> Row:
    """The row of the chain entry ``line`` (number ``seq``)."""
    hashed = entry_hash(line)
    try:
        entry = loads_strict(line)
        receipt = entry["receipt"]
        content = receipt["content"]
        action, policy = content["action"], content["policy"]
        sigs = receipt.get("signatures") or []
        approvers = sum(1 for s in sigs if isinstance(s, Mapping) and s.get("key_id") != "operator")
        fields = json.dumps(action.get("fields"), ensure_ascii=False, sort_keys=True)
    except (CanonicalizationError, ValueError, KeyError, TypeError, AttributeError):
        return Row(seq, hashed, "", "", None, "?", "?", "unreadable", "", "", "", 0, "")
    values = (
        _text(content.get("action_hash")),
        _text(content.get("captured_at")),
        _text(action.get("verb")),
        _text(action.get("tool_name")),
        _text(policy.get("decision")),
        _text(policy.get("rule_id")),
        _text(action.get("workflow")),
        _text(action.get("account")),
    )
    search = " ".join((*values, _text(action.get("agent")), fields)).lower()
    return Row(
        seq,
        hashed,
        values[0],
        values[1],
        parse_stamp(values[1]),
        *values[2:],
        approvers,
        search,
    )


class ProjectView:
    """A project's evidence for the console, read through its stores' interfaces.

    The ledger is never read whole per request: :class:`~heso.console.index.ChainIndex` keeps
    the columns the filters read in step with it (reading only appended entries), a page parses
    only its own entries, and :class:`~heso.ledger.watch.ChainWatch` keeps the chain's verdict
    current the same way.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.data_dir = data_dir(self.root)
        spec = stores.setting(TomlSource.read(self.root / POLICY_FILE), self.root)
        self.ledger = stores.open_ledger(spec)
        self.approvals_store = stores.open_approvals(spec)
        self.index = ChainIndex(self.ledger, self.data_dir / index_file.FILE_NAME)
        # One process: a background check in worker processes would leave them behind when
        # the console is stopped mid-check.
        self.watch = ChainWatch(self.ledger, workers=1)
        self._lock = threading.Lock()
        self._search: tuple[str, int, int, list[int]] = ("", -1, 0, [])
        self._picked: tuple[Any, range | list[int]] | None = None
        self._timeline: tuple[Any, dict[str, Any]] | None = None
        self._rewound: Verdict | None = None
        self._verdict: Verdict | None = None
        self._verifier: threading.Thread | None = None
        self._verify_lock = threading.Lock()
        self.verify_wait = 5.0
        """How long a request waits for the chain check before answering "verifying"."""
        self.index_wait = 0.25
        """How long a request waits for the index to catch up before answering from what is
        indexed (the index keeps building in the background)."""

    # -- files ---------------------------------------------------------------------------

    def trust(self) -> Any:
        """The project's trust inputs (``heso.toml``), read afresh."""
        from heso.trust import project_trust

        return project_trust(self.root)

    def registry(self) -> Any:
        """The project's approver registry (``heso.toml``), read afresh."""
        return self.trust().registry

    def operator(self) -> str | None:
        """The operator's public key, from ``operator.key`` (no passphrase needed)."""
        from heso.keys import read_public_key

        try:
            return read_public_key(self.data_dir / "operator.key").to_str()
        except Exception:  # a missing or unreadable key file only hides the line
            return None

    # -- receipts ------------------------------------------------------------------------

    def receipts(self, params: Mapping[str, str]) -> dict[str, Any]:
        """One page of the filtered list (newest first) and the filters' values. While the
        index is still being built (a large store, just opened), the unfiltered list is read
        from the store's end and a filtered one covers the entries indexed so far
        (``complete`` is false, ``indexed`` says how many)."""
        offset, limit = _page(params, 100)
        RowFilter.from_params(params)  # a bad filter is refused even while indexing
        total = self.entry_count()
        if _filter_key(params) == () and total - self.index.length > _LONG_WAY:
            # a large store just opened: its newest entries, read from its end
            complete = self.index.catch_up(0)
            picked: range | list[int] = range(total)
            outcomes = Outcomes(self)
        else:
            picked, outcomes, complete = self._pick(params)
            if complete:
                total = self.index.length
            elif _filter_key(params) == ():
                picked = range(total)
        seqs = list(newest_first(picked, offset, limit))
        lines: dict[int, bytes] = {}
        if seqs and seqs[0] - seqs[-1] == len(seqs) - 1:  # one run: read it in one pass
            for seq, line in self.ledger.entries(seqs[-1]):
                if seq > seqs[0]:
                    break
                lines[seq] = line
        rows = []
        hosts = self.hosts(seqs)
        for seq in seqs:
            row = self.row(seq, outcomes, lines.get(seq))
            if row is not None:
                row["host"] = hosts.get(seq, "")
                rows.append(row)
        return {
            "total": total,
            "matched": len(picked),
            "offset": offset,
            "limit": limit,
            "rows": rows,
            "facets": self.index.facets(),
            "complete": complete,
            "indexed": self.index.length,
            **self.index_check(),
        }

    def index_check(self) -> dict[str, Any]:
        """Where the index stands against the store: ``index_check`` is ``checking`` while an
        index taken up from its file is being rebuilt from the store and compared (filtered
        results may still change), ``rebuilt`` when they differed (``index_warning`` says
        so), else ``passed``."""
        index = self.index
        state = "checking" if index.checking else "rebuilt" if index.rebuilt else "passed"
        return {
            "index_check": state,
            "index_warning": index_mismatch if state == "rebuilt" else None,
        }

    def timeline(self, params: Mapping[str, str]) -> dict[str, Any]:
        """Actions over time for the filtered list (the indexed entries), each action counted
        once."""
        picked, _, complete = self._pick(params)
        key = (_filter_key(params), self.index.length, self.index.resets)
        cached = self._timeline
        if cached is not None and cached[0] == key and key[0] is not None:
            return {**cached[1], **self.index_check()}
        result = self.index.timeline(picked)
        result["complete"] = complete
        result.update(self.index_check())
        self._timeline = (key, result)
        return result

    def entry_count(self) -> int:
        """Entries in the store, without reading it whole: those the index holds, or those
        under the signed head when it covers more, plus the entries after them."""
        head = self.ledger.signed_head()
        base = self.index.length
        if isinstance(head, Head) and head.length > base:
            base = head.length
        count = base
        for seq, _ in self.ledger.entries(max(base - 1, 0)):
            count = seq + 1
        return max(count, base)

    def hosts(self, seqs: list[int]) -> dict[int, str]:
        """The host each of the entries ``seqs`` was appended from, as the store recorded it
        beside the entry (unsigned metadata; the file store records none)."""
        hosts_of = getattr(self.ledger, "hosts", None)
        if hosts_of is None or not seqs:
            return {}
        found: dict[int, str] = {}
        for seq in seqs:
            host = self.index.host(seq)
            if host is not None:
                found[seq] = host
        rest = [seq for seq in seqs if seq not in found]
        if rest:  # not indexed yet: the newest entries, one run read from the store
            found.update(hosts_of(min(rest), max(rest) + 1))
        return found

    def row(self, seq: int, outcomes: Outcomes, line: bytes | None = None) -> dict[str, Any] | None:
        """Entry ``seq`` (its ``line`` when already read) as the list shows it, parsed from the
        entry itself."""
        if line is None:
            try:
                line = self.ledger.line(seq)
            except ChainError:
                return None
        row = row_of(seq, line)
        out = row.to_dict()
        if seq < self.index.length:
            out["outcome"] = self.index.outcome_of(seq, row.action_hash, outcomes.of)
        elif row.decision == "require_approval":
            out["outcome"] = "approved" if row.approvers else outcomes.of(row.action_hash)
        else:
            out["outcome"] = _OUTCOME_OF_DECISION.get(row.decision, "unreadable")
        return out

    def _pick(self, params: Mapping[str, str]) -> tuple[range | list[int], Outcomes, bool]:
        """Positions of the indexed entries the filters keep (oldest first), the approvals'
        outcomes they were resolved with, and whether the index had caught up."""
        # a long way behind (a large store just opened): answer at once, index meanwhile
        behind = self.entry_count() - self.index.length > _LONG_WAY
        complete = self.index.catch_up(0 if behind else self.index_wait)
        keep = RowFilter.from_params(params)
        outcomes = Outcomes(self)
        key = (_filter_key(params), self.index.length, self.index.resets)
        cached = self._picked
        if cached is not None and cached[0] == key and key[0] is not None:
            return cached[1], outcomes, complete
        among = self._search_hits(keep.q) if keep.q else None
        picked = self.index.select(
            keep.wanted,
            _epoch(keep.since),
            _epoch(keep.until),
            outcomes.of,
            among,
        )
        self._picked = (key, picked)
        return picked, outcomes, complete

    def _search_hits(self, q: str) -> list[int]:
        """Positions of the entries with a word of ``q`` in their row (verb, tool, decision,
        rule, workflow, account, agent, fields, hash): the entries are read, once per query
        and then only the appended ones."""
        words = q.split()
        length, resets = self.index.length, self.index.resets
        with self._lock:
            cq, cresets, done, hits = self._search
            if cq != q or cresets != resets or done > length:
                done, hits = 0, []
            hits = list(hits)
            for seq, line in self.ledger.entries(done):
                if seq >= length:
                    break
                text = line.decode("utf-8", "replace").lower()
                if any(w in text for w in words):
                    search = row_of(seq, line).search
                    if any(w in search for w in words):
                        hits.append(seq)
                done = seq + 1
            self._search = (q, resets, done, hits)
            return hits

    def export(self, params: Mapping[str, str], form: str) -> Iterator[bytes]:
        """The filtered receipts in chain order: ``jsonl`` (one receipt a line, as signed) or
        ``csv`` (the list's columns, cells escaped for display and against formulas)."""
        if form not in ("jsonl", "csv"):
            raise ValueError("format must be jsonl or csv")
        self.index.catch_up(None)  # every entry, however long indexing takes
        # an index taken up from its file is not trusted until rebuilt from the store
        self.index.wait_checked()
        picked, outcomes, _ = self._pick(params)
        if form == "csv":
            yield _csv_line(EXPORT_COLUMNS)
        if not len(picked):
            return
        wanted = iter(picked)
        nxt = next(wanted, None)
        for seq, line in self.ledger.entries(picked[0]):
            if nxt is None:
                break
            if seq != nxt:
                continue
            nxt = next(wanted, None)
            if form == "jsonl":
                try:
                    yield canonical_bytes(loads_strict(line)["receipt"]) + b"\n"
                except (CanonicalizationError, KeyError, TypeError):
                    continue  # not a receipt (verification reports the entry)
            else:
                row = row_of(seq, line).to_dict()
                row["outcome"] = self.index.outcome_of(seq, row["action_hash"], outcomes.of)
                row["host"] = self.index.host(seq) or ""
                yield _csv_line([row[c] for c in EXPORT_COLUMNS])

    def entry(self, seq: int) -> dict[str, Any]:
        """One entry: its receipt, the receipt's verdict and its place in the chain."""
        self.index.catch_up(self.index_wait)
        inside = 0 <= seq < max(self.index.length, self.entry_count())
        row = self.row(seq, Outcomes(self)) if inside else None
        if row is None:
            raise LookupError(f"no chain entry {seq}")
        row["host"] = self.hosts([seq]).get(seq, "")
        try:
            entry = loads_strict(self.ledger.line(seq))
            receipt = entry["receipt"]
        except (ChainError, CanonicalizationError, ValueError, KeyError, TypeError) as exc:
            return {"row": row, "error": f"entry {seq} is not readable: {exc}"}
        verdict = self.trust().verify_receipt(receipt)
        chain, _ = self.verdict_now(self.verify_wait)
        return {
            "row": row,
            "prev": entry.get("prev") if isinstance(entry, Mapping) else None,
            "receipt": receipt,
            "verdict": verdict.to_dict(),
            "chain": (
                {"status": entry_status(chain, seq), "verdict": chain.to_dict()}
                if chain is not None
                else {"status": "verifying", "verdict": None}
            ),
            "approval": self._approval_of(row["action_hash"] if row else ""),
        }

    def _approval_of(self, action_hash: str) -> bool:
        return bool(action_hash) and self.approvals_store.session_of(action_hash) is not None

    # -- the transparency log ------------------------------------------------------------

    def checkpoints(self) -> dict[str, Any]:
        """The latest signed checkpoints, each verified (:mod:`heso.console.checkpoints`)."""
        from heso.console import checkpoints

        return checkpoints.checkpoints(self.root, self.trust(), self.ledger)

    def inclusion(self, seq: int) -> dict[str, Any]:
        """Entry ``seq``'s inclusion proof against the latest checkpoint, verified."""
        from heso.console import checkpoints

        if not 0 <= seq < self.entry_count():
            raise LookupError(f"no chain entry {seq}")
        return checkpoints.inclusion(self.root, self.trust(), self.ledger, seq)

    # -- the chain -----------------------------------------------------------------------

    def chain_verdict(self) -> Verdict:
        """``heso verify --chain``'s verdict, kept current (only new entries are checked)."""
        trust = self.trust()
        verdict: Verdict = trust.noted(self.watch.verdict(trust.chain_inputs()))
        self._verdict = verdict
        if verdict is not self._rewound:
            self._rewound = verdict
            if not verdict.ok and verdict.entry is not None:
                self.index.rewind(verdict.entry)  # the entry changed: index it afresh
        return verdict

    def verdict_now(self, wait: float) -> tuple[Verdict | None, bool]:
        """The chain's verdict, checked in a background thread: waits at most ``wait`` seconds
        for the check to finish; returns the latest verdict (``None`` before the first) and
        whether a check is still running."""
        with self._verify_lock:
            if self._verifier is None or not self._verifier.is_alive():
                self._verifier = threading.Thread(
                    target=self.chain_verdict, name="heso-console-verify", daemon=True
                )
                self._verifier.start()
            verifier = self._verifier
        verifier.join(wait)
        return self._verdict, verifier.is_alive()

    def status(self) -> dict[str, Any]:
        """What every tab shows at its top: the chain's verdict (``None`` while the first check
        runs), whether a check is running, the entry count and where the index stands
        (:meth:`index_check`)."""
        verdict, running = self.verdict_now(self.verify_wait)
        return {
            "verdict": verdict.to_dict() if verdict is not None else None,
            "verifying": running,
            "entries": self.entry_count(),
            **self.index_check(),
        }

    def chain(self, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The verdict and one window of entries with their status: around the first broken
        entry, else the newest (``offset``/``limit`` choose another)."""
        params = params or {}
        verdict, running = self.verdict_now(self.verify_wait)
        total = self.entry_count()
        if verdict is None:
            return {"verdict": None, "verifying": True, "total": total, "entries": []}
        _, limit = _page(params, CHAIN_WINDOW)
        if params.get("offset"):
            offset, _ = _page(params, CHAIN_WINDOW)
        else:
            focus = verdict.entry if not verdict.ok and verdict.entry is not None else total
            offset = focus - limit // 2
        offset = max(0, min(offset, total - limit))
        entries = []
        for seq, line in self.ledger.entries(offset):
            if seq >= offset + limit or seq >= total:
                break
            status = entry_status(verdict, seq)
            item: dict[str, Any] = {"seq": seq, "hash": entry_hash(line), "status": status}
            if status == "broken":
                item["code"] = verdict.code
            if status == "ok" and row_of(seq, line).approvers:
                item["trust_level"] = "L1"
            entries.append(item)
        head = self.ledger.signed_head()
        return {
            "verdict": verdict.to_dict(),
            "verifying": running,
            "total": total,
            "offset": offset,
            "limit": limit,
            "entries": entries,
            "head": (
                {
                    "length": head.length,
                    "sealed_at": head.sealed_at,
                    "operator": head.operator.to_str(),
                }
                if isinstance(head, Head)
                else None
            ),
        }

    # -- approvals -----------------------------------------------------------------------

    def approval_outcomes(self) -> dict[str, str]:
        """action_hash → ``waiting``, ``approved``, ``denied`` or ``expired``, for every action
        ever suspended (from the signed lifecycles)."""
        from heso.approvals import sla
        from heso.approvals.state import survey
        from heso.errors import LifecycleError

        out = {}
        for action_hash, _, st in survey(self.approvals_store, self.registry(), sla.clock()):
            if not isinstance(st, LifecycleError):
                out[action_hash] = _OUTCOME_OF_STATUS.get(st.decision, "waiting")
        return out

    def approvals(self, *, include_all: bool = False) -> list[dict[str, Any]]:
        """Actions awaiting a decision (``include_all``: every one ever suspended), derived
        from the signed lifecycles."""
        from heso.approvals import sla
        from heso.approvals.summary import summaries

        out = summaries(self.approvals_store, self.registry(), sla.clock(), include_all=include_all)
        out.sort(key=lambda a: a.get("deadline") or "~")
        return out

    def approval(self, action_hash: str, public_key: str | None = None) -> dict[str, Any]:
        """One action: its summary, and what a browser key may sign for it now."""
        from heso.approvals import sla
        from heso.approvals.state import fold
        from heso.approvals.summary import summary
        from heso.keys import PublicKey

        registry = self.registry()
        store = self.approvals_store
        found, session = store.resolve(action_hash)
        now = sla.clock()
        st = fold(session, store.lines(session), registry, now)
        if st is None:
            raise LookupError(f"session {session!r} has no lifecycle")
        data = summary(st, registry, now)
        data["superseded_by"] = st.action_hash if st.action_hash != found else None
        data["at"] = sla.stamp(now)
        if public_key:
            try:
                key = PublicKey.from_str(public_key)
            except ValueError as exc:
                raise ValueError(f"public_key: {exc}") from None
            name = registry.approver_keys().get(key)
            groups = registry.eligible(st.groups, name) if name else []
            data["signer"] = {
                "public_key": key.to_str(),
                "approver": name,
                "groups": [
                    {
                        "group": g.name,
                        "threshold": g.threshold,
                        "decided": key in st.legs.get(g.name, {}),
                    }
                    for g in groups
                ],
            }
        return data

    def decide(self, part: Any) -> dict[str, Any]:
        """Record an approver's decision signed in the browser."""
        from heso.approvals.external import record_external_decision

        return record_external_decision(self.approvals_store, self.registry(), part)


_LONG_WAY = 20_000
"""Entries the index may lag behind by for a request to wait for it (briefly)."""
_OUTCOME_OF_DECISION = {"allow": "ran", "block": "blocked"}
_OUTCOME_OF_STATUS = {
    "approved": "approved",
    "completed": "approved",
    "denied": "denied",
    "expired": "expired",
}
EXPORT_COLUMNS = (
    "seq",
    "captured_at",
    "verb",
    "tool",
    "decision",
    "outcome",
    "rule_id",
    "workflow",
    "account",
    "approvers",
    "action_hash",
    "entry_hash",
    "host",
)
"""The CSV export's columns (``host``: the store's unsigned record of where the entry was
appended, empty on the file store)."""
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


class Outcomes:
    """What became of suspended actions, read from the approvals store at most once a
    request, when a suspended entry is shown or filtered on."""

    def __init__(self, view: ProjectView) -> None:
        self._view = view
        self._map: dict[str, str] | None = None

    def of(self, action_hash: str) -> str:
        if self._map is None:
            self._map = self._view.approval_outcomes()
        return self._map.get(action_hash, "waiting")


def csv_cell(value: Any) -> str:
    """A CSV cell: unprintable characters escaped as everywhere else, and a leading quote
    before text a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` …)."""
    text = escape(str(value))
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_line(values: Any) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([csv_cell(v) for v in values])
    return out.getvalue().encode("utf-8")


def _page(params: Mapping[str, str], default: int) -> tuple[int, int]:
    try:
        limit = max(1, min(MAX_LIMIT, int(params.get("limit") or default)))
        offset = max(0, int(params.get("offset") or 0))
    except ValueError:
        raise ValueError("limit and offset must be integers") from None
    return offset, limit


def _filter_key(params: Mapping[str, str]) -> tuple[tuple[str, str], ...] | None:
    """The filters of ``params``, comparable; ``None`` when the result depends on the time
    or on the approvals store (not cached)."""
    if params.get("last") or params.get("outcome"):
        return None
    names = (*FILTERS, "host", "q", "since", "until")
    return tuple((k, params[k]) for k in names if params.get(k))


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()
