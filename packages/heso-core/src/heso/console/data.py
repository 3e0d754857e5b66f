"""What ``heso console`` shows, read from a project's stores: receipts, the chain, approvals.

Everything here is read-only except :meth:`ProjectView.decide`, which records an approver's
decision signed in the browser (:mod:`heso.approvals.external`). Verification is the Python
verifier's, with the trust inputs ``heso verify`` reads (:func:`heso.trust.project_trust`): the
operator keys pinned by ``[heso] operator_keys`` and the registered approvers.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from heso import stores
from heso.canonical import loads_strict
from heso.errors import CanonicalizationError, ChainError
from heso.ledger.format import Head, entry_hash
from heso.project import POLICY_FILE, data_dir
from heso.toml_source import TomlSource

FILTERS = ("verb", "tool", "decision", "workflow", "account")
MAX_LIMIT = 1000
_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z\Z", re.ASCII)
_BUCKETS = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400, 30 * 86400)
_MAX_BUCKETS = 48


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
        """From query or command-line parameters (``ValueError`` for a bad time)."""
        return cls(
            wanted={f: params.get(f) or "" for f in FILTERS},
            q=(params.get("q") or "").strip().lower(),
            since=parse_bound(params.get("since")),
            until=parse_bound(params.get("until")),
        )

    def matches(self, row: Row) -> bool:
        if any(v and getattr(row, f) != v for f, v in self.wanted.items()):
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
    """A project's evidence for the console; caches what it parsed until the files change."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.data_dir = data_dir(self.root)
        spec = stores.setting(TomlSource.read(self.root / POLICY_FILE), self.root)
        self.ledger = stores.open_ledger(spec)
        self.approvals_store = stores.open_approvals(spec)
        self._lock = threading.Lock()
        self._rows: list[Row] = []
        self._rows_stamp: Any = None
        self._chain: dict[str, Any] | None = None
        self._chain_stamp: tuple[Any, ...] | None = None

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

    def rows(self) -> list[Row]:
        """Every entry of the chain, oldest first (complete lines only)."""
        with self._lock:
            stamp = self.ledger.stamp()
            if stamp != self._rows_stamp:
                self._rows = [row_of(seq, line) for seq, line in self.ledger.entries()]
                self._rows_stamp = stamp
            return self._rows

    # -- receipts ------------------------------------------------------------------------

    def receipts(self, params: Mapping[str, str]) -> dict[str, Any]:
        """The filtered list (newest first), its facets and its timeline."""
        rows = self.rows()
        keep = RowFilter.from_params(params)
        picked = [row for row in rows if keep.matches(row)]
        try:
            limit = max(1, min(MAX_LIMIT, int(params.get("limit") or 100)))
            offset = max(0, int(params.get("offset") or 0))
        except ValueError:
            raise ValueError("limit and offset must be integers") from None
        newest = picked[::-1]
        return {
            "total": len(rows),
            "matched": len(picked),
            "offset": offset,
            "limit": limit,
            "rows": [r.to_dict() for r in newest[offset : offset + limit]],
            "facets": {f: sorted({getattr(r, f) for r in rows if getattr(r, f)}) for f in FILTERS},
            "timeline": timeline(picked),
        }

    def entry(self, seq: int) -> dict[str, Any]:
        """One entry: its receipt, the receipt's verdict and its place in the chain."""
        rows = self.rows()
        if not 0 <= seq < len(rows):
            raise LookupError(f"no chain entry {seq}")
        row = rows[seq]
        try:
            entry = loads_strict(self.ledger.line(seq))
            receipt = entry["receipt"]
        except (ChainError, CanonicalizationError, ValueError, KeyError, TypeError) as exc:
            return {"row": row.to_dict(), "error": f"entry {seq} is not readable: {exc}"}
        verdict = self.trust().verify_receipt(receipt)
        status = self.chain()
        return {
            "row": row.to_dict(),
            "prev": entry.get("prev") if isinstance(entry, Mapping) else None,
            "receipt": receipt,
            "verdict": verdict.to_dict(),
            "chain": {"status": status["entries"][seq]["status"], "verdict": status["verdict"]},
            "approval": self._approval_of(row.action_hash),
        }

    def _approval_of(self, action_hash: str) -> bool:
        return bool(action_hash) and self.approvals_store.session_of(action_hash) is not None

    # -- the chain -----------------------------------------------------------------------

    def chain(self) -> dict[str, Any]:
        """``heso verify --chain``'s verdict and every entry's status for the picture."""
        with self._lock:
            stamp = (self.ledger.stamp(), self._policy_stamp())
            if stamp == self._chain_stamp and self._chain is not None:
                return self._chain
        verdict = self.trust().verify_chain(self.ledger)
        rows = self.rows()
        entries = []
        for row in rows:
            status = _entry_status(verdict, row.seq)
            item: dict[str, Any] = {"seq": row.seq, "hash": row.entry_hash, "status": status}
            if status == "broken":
                item["code"] = verdict.code
            if status == "ok" and row.approvers:
                item["trust_level"] = "L1"
            entries.append(item)
        head = self.ledger.signed_head()
        result = {
            "verdict": verdict.to_dict(),
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
        with self._lock:
            self._chain, self._chain_stamp = result, stamp
        return result

    def _policy_stamp(self) -> tuple[int, int]:
        try:
            info = (self.root / POLICY_FILE).stat()
        except FileNotFoundError:
            return (-1, -1)
        return (info.st_size, info.st_mtime_ns)

    # -- approvals -----------------------------------------------------------------------

    def approvals(self, *, include_all: bool = False) -> list[dict[str, Any]]:
        """Actions awaiting a decision (``include_all``: every one ever suspended), derived
        from the signed lifecycles."""
        from heso.approvals import sla
        from heso.approvals.errors import LifecycleError
        from heso.approvals.state import survey

        registry = self.registry()
        now = sla.clock()
        out = []
        for action_hash, session, st in survey(self.approvals_store, registry, now):
            if isinstance(st, LifecycleError):
                out.append(
                    {
                        "action_hash": action_hash,
                        "session": session,
                        "status": "corrupt",
                        "error": str(st),
                    }
                )
                continue
            if st.action_hash != action_hash:
                continue
            if not include_all and not st.is_open:
                continue
            out.append(summary(st, registry, now))
        out.sort(key=lambda a: a.get("deadline") or "~")
        return out

    def approval(self, action_hash: str, public_key: str | None = None) -> dict[str, Any]:
        """One action: its summary, and what a browser key may sign for it now."""
        from heso.approvals import sla
        from heso.approvals.state import fold
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


def _entry_status(verdict: Any, seq: int) -> str:
    """``ok``, ``broken`` (the entry the verdict names) or ``unchecked`` (after it)."""
    from heso import verdict as v

    if verdict.ok or verdict.code in (v.HEAD_MISSING, v.TORN_TAIL, v.CHAIN_TRUNCATED):
        return "ok"
    if verdict.entry is None:
        return "unchecked"
    if seq == verdict.entry:
        return "broken"
    if seq < verdict.entry or verdict.code == v.HEAD_MISMATCH:
        return "ok"
    return "unchecked"


def summary(st: Any, registry: Any, now: datetime) -> dict[str, Any]:
    """An action awaiting (or past) approval, as the console lists it."""
    from heso.approvals import sla

    content = st.receipt["content"]
    action = content["action"]
    out: dict[str, Any] = {
        "action_hash": st.action_hash,
        "session": st.session,
        "status": st.decision,
        "open": st.is_open,
        "verb": action["verb"],
        "tool": action["tool_name"],
        "workflow": action["workflow"],
        "account": action["account"],
        "fields": action.get("fields", {}),
        "rule_id": content["policy"]["rule_id"],
        "rule_display": content["policy"].get("rule_display", ""),
        "captured_at": content["captured_at"],
        "on_timeout": st.on_timeout,
        "groups": [],
        "approvals": [
            {"approver": leg.approver, "group": leg.group, "at": leg.at}
            for legs in st.legs.values()
            for leg in legs.values()
        ],
    }
    for g in st.groups:
        group = registry.groups.get(g)
        out["groups"].append(
            {
                "group": g,
                "approvals": len(st.legs.get(g, {})),
                "threshold": group.threshold if group else None,
                "members": sorted(group.members) if group else [],
            }
        )
    if st.deadline is not None:
        out["deadline"] = sla.stamp(st.deadline)
        out["sla_left_seconds"] = int((st.deadline - now).total_seconds())
        out["sla_left"] = sla.describe_left(st.deadline, now)
    if st.expires_at is not None:
        out["expires_at"] = sla.stamp(st.expires_at)
    if st.approved_by is not None:
        out["approved_by"] = st.approved_by
    out["rejected"] = len(st.rejected)
    return out


def timeline(rows: list[Row]) -> dict[str, Any]:
    """Counts per time bucket and decision; the bucket size keeps at most 48 buckets."""
    times = [r.when for r in rows if r.when is not None]
    if not times:
        return {"bucket_seconds": 0, "buckets": []}
    first, last = min(times), max(times)
    span = (last - first).total_seconds()
    size = next((b for b in _BUCKETS if span / b < _MAX_BUCKETS), _BUCKETS[-1])
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)

    def start_of(t: datetime) -> int:
        return int((t - epoch).total_seconds()) // size

    base, end = start_of(first), start_of(last)
    if end - base >= 400:  # 30-day buckets over decades: keep the picture bounded
        base = end - 399
    counts: list[dict[str, int]] = [{} for _ in range(end - base + 1)]
    for r in rows:
        if r.when is None or start_of(r.when) < base:
            continue
        bucket = counts[start_of(r.when) - base]
        bucket[r.decision] = bucket.get(r.decision, 0) + 1
    fmt = "%Y-%m-%d" if size >= 86400 else "%Y-%m-%d %H:%M"
    return {
        "bucket_seconds": size,
        "buckets": [
            {"start": (epoch + timedelta(seconds=(base + i) * size)).strftime(fmt), "counts": c}
            for i, c in enumerate(counts)
        ],
    }
