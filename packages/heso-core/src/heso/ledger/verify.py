"""Verifying a ledger, whatever store kept it: entry lines and a signed head in, one verdict out.

A store hands its lines to a :class:`Checker` in runs (:class:`Segment`: the file store splits
``receipts.jsonl`` by byte ranges across processes); each run checks its own lines and links,
and :func:`conclude` checks the boundaries between runs, the torn tail and the head, so the
verdict equals a sequential pass. :func:`verify_ledger` verifies any store
(:class:`~heso.ledger.store.Checkable`); :func:`verify_entries` verifies lines and a head held
in memory.

Most lines are decided on a fast path (:func:`heso.canonical.loads_canonical`: ``orjson``
parses and re-encodes the line); every line not accepted there goes to the strict parser, and
both reach the same verdict (``tests/reliability/test_rel_tamper.py`` compares them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import blake3

from heso import verdict as v
from heso.canonical import MAX_PARSE_DEPTH, canonical_bytes, loads_canonical, loads_strict
from heso.errors import CanonicalizationError
from heso.keys import PublicKey
from heso.ledger import format as fmt
from heso.ledger.format import ENTRY_KEYS, GENESIS, HEAD_FILE, TORN_FILE, Head, entry_hash
from heso.receipt import ALG, ApproverGroup, RegisteredGroup, verify_receipt
from heso.verdict import Verdict

if TYPE_CHECKING:
    from heso.ledger.store import Checkable


@dataclass
class Segment:
    """What checking one run of consecutive lines found."""

    lines: int = 0
    first_seq: Any = None
    first_prev: Any = None
    last_hash: str = GENESIS
    failure: Verdict | None = None
    failure_at: int = -1
    l1: int = 0


@dataclass(frozen=True)
class Checker:
    """Checks runs of entry lines with one set of trust inputs (plain data: it pickles, for a
    store that checks runs in worker processes)."""

    trusted: Collection[PublicKey] | None = None
    approver_keys: Mapping[PublicKey, str] | None = None
    approver_groups: Mapping[str, ApproverGroup] | None = field(default=None)

    def __call__(self, lines: Iterable[bytes | None]) -> Segment:
        """Check consecutive complete lines (without their newlines; ``None`` for a line longer
        than :data:`~heso.ledger.format.MAX_ENTRY_BYTES`): their form, links and receipts."""
        seg = Segment()
        prev_hash: str | None = None
        prev_seq: int | None = None
        for line in lines:
            i = seg.lines
            seg.lines += 1
            if line is None:
                if seg.failure is None:
                    seg.failure = v.fail(
                        v.MALFORMED_ENTRY, f"the line is longer than {fmt.MAX_ENTRY_BYTES} bytes"
                    )
                    seg.failure_at = i
                prev_hash, seg.last_hash = None, ""
                continue
            h = entry_hash(line)
            if seg.failure is None:
                bad, prev_seq = self._check(line, i, prev_hash, prev_seq, seg)
                if bad is not None:
                    seg.failure, seg.failure_at = bad, i
            prev_hash = h
            seg.last_hash = h
        return seg

    def _check(
        self, line: bytes, i: int, prev_hash: str | None, prev_seq: int | None, seg: Segment
    ) -> tuple[Verdict | None, int | None]:
        """Check one line; returns the first problem (if any) and the entry's seq."""
        entry = loads_canonical(line)
        if type(entry) is dict and entry.keys() == ENTRY_KEYS:
            # The common case, decided in one pass: the line is provably its own RFC 8785 form.
            seq, prev = entry["seq"], entry["prev"]
            if type(seq) is not int or type(prev) is not str:
                return v.fail(v.MALFORMED_ENTRY, "seq must be an integer and prev a string"), None
            content_hash = _canonical_content_hash(line, entry, canonical=True)
        else:
            found = _check_entry_strictly(line)
            if isinstance(found, Verdict):
                return found, None
            entry, seq, prev, content_hash = found
        if i == 0:
            seg.first_seq, seg.first_prev = seq, prev
        elif prev_seq is None or seq != prev_seq + 1:
            return v.fail(
                v.SEQUENCE_MISMATCH,
                f"entry says seq {seq} after seq {prev_seq}: an entry was deleted, inserted, "
                "duplicated or reordered here",
            ), seq
        elif prev != prev_hash:
            return v.fail(
                v.CHAIN_BROKEN, "prev does not match the hash of the entry before it"
            ), seq
        verdict = verify_receipt(
            entry["receipt"],
            trusted_operators=self.trusted,
            approver_keys=self.approver_keys,
            approver_groups=self.approver_groups,
            content_hash=content_hash,
        )
        if not verdict.ok:
            if verdict.code == v.UNTRUSTED_KEY:
                verdict = v.fail(
                    v.OPERATOR_MISMATCH, verdict.reason, action_hash=verdict.action_hash
                )
            return verdict, seq
        if verdict.trust_level == "L1":
            seg.l1 += 1
        return None, seq


@dataclass(frozen=True)
class Checked:
    """What a store's :meth:`~heso.ledger.store.Checkable.check` found: one :class:`Segment` per
    run, in ledger order, and whether a torn (newline-less) last line follows them."""

    segments: Sequence[Segment]
    torn_tail: bool = False


def operator_of(line: bytes | None) -> PublicKey | None:
    """The operator key the first entry's receipt names (``agent_identity``), if readable."""
    if line is None:
        return None
    try:
        return PublicKey.from_str(loads_strict(line)["receipt"]["content"]["agent_identity"])
    except (CanonicalizationError, ValueError, KeyError, TypeError):
        return None


def head_matches(head: Head, line: bytes | None) -> bool:
    """Whether ``line`` (the one the store keeps where the head says its last entry ends)
    hashes to the signed head. Each line carries its seq and the previous hash, so this one
    hash binds the whole prefix."""
    if head.length == 0:
        return head.head == GENESIS and head.size == 0
    return line is not None and entry_hash(line) == head.head


def verify_ledger(
    store: Checkable,
    *,
    trusted_operators: Collection[PublicKey] | None = None,
    approver_keys: Mapping[PublicKey, str] | None = None,
    approver_groups: Mapping[str, ApproverGroup] | None = None,
    workers: int | None = None,
    require_sealed: bool = False,
) -> Verdict:
    """Verify every entry, every link and the signed head; the verdict names the first failure.

    Each receipt is verified by :func:`heso.receipt.verify_receipt` with these trust inputs
    (:mod:`heso.trust` reads them from a project). Without ``trusted_operators`` the ledger's
    own head (or first receipt) names the operator, and every entry must be signed by that one
    key. ``require_sealed`` (``heso verify --chain --sealed``, for a store at rest) also fails
    (``Unsealed``) when entries follow the signed head: only the head proves that nothing was
    appended after it or cut off the end.
    """
    prepared = prepare(
        store,
        trusted_operators=trusted_operators,
        approver_keys=approver_keys,
        approver_groups=approver_groups,
    )
    if isinstance(prepared, Verdict):
        return prepared
    head, anchor, checker = prepared
    checked = store.check(checker, workers=workers)
    return conclude(
        checked,
        head,
        store.head_line,
        anchor=anchor,
        quarantined=store.quarantined,
        require_sealed=require_sealed,
    )


def prepare(
    store: Checkable,
    *,
    trusted_operators: Collection[PublicKey] | None = None,
    approver_keys: Mapping[PublicKey, str] | None = None,
    approver_groups: Mapping[str, ApproverGroup] | None = None,
) -> tuple[Head | None, PublicKey | None, Checker] | Verdict:
    """What checking ``store`` needs: its signed head, the operator it anchors on and the
    :class:`Checker` for its lines (or the verdict that ends verification before any line)."""
    head = store.signed_head()
    if isinstance(head, Verdict):
        return head
    if (
        head is not None
        and trusted_operators is not None
        and head.operator not in trusted_operators
    ):
        return v.fail(v.HEAD_INVALID, f"head signed by untrusted key {head.operator.to_str()}")
    anchor = head.operator if head is not None else operator_of(store.first_line())
    trusted = (
        trusted_operators
        if trusted_operators is not None
        else ({anchor} if anchor is not None else None)
    )
    groups = None  # plain data: worker processes receive it pickled
    if approver_groups is not None:
        groups = {
            n: RegisteredGroup(g.threshold, frozenset(g.keys)) for n, g in approver_groups.items()
        }
    return head, anchor, Checker(trusted, approver_keys, groups)


def conclude(
    checked: Checked,
    head: Head | None,
    head_line: Callable[[Head], bytes | None],
    *,
    anchor: PublicKey | None,
    quarantined: Callable[[], int],
    require_sealed: bool = False,
) -> Verdict:
    """The verdict of checked runs and a head: the first failure (runs' own, their boundaries,
    a torn tail, the head), else ``Valid`` with the counts. ``head_line(head)`` and
    ``quarantined()`` are asked only when needed."""
    total = 0
    prev_hash = GENESIS
    l1 = 0
    for seg in checked.segments:
        if seg.lines:
            boundary: Verdict | None = None
            if seg.first_seq is not None and seg.first_seq != total:
                boundary = v.fail(
                    v.SEQUENCE_MISMATCH,
                    f"entry says seq {seg.first_seq}, expected {total}: an entry was deleted, "
                    "inserted, duplicated or reordered here",
                )
            elif seg.first_prev is not None and seg.first_prev != prev_hash:
                boundary = v.fail(
                    v.CHAIN_BROKEN, "prev does not match the hash of the entry before it"
                )
            if boundary is not None and (seg.failure is None or seg.failure_at > 0):
                return boundary.at(total)
            if seg.failure is not None:
                return seg.failure.at(total + seg.failure_at)
        total += seg.lines
        prev_hash = seg.last_hash
        l1 += seg.l1
    if checked.torn_tail:
        return v.fail(
            v.TORN_TAIL,
            "the last line is incomplete (a writer was killed mid-write); the next append "
            f"moves it to {TORN_FILE}",
        ).at(total)
    if head is not None:
        if head.length > total:
            return v.fail(
                v.CHAIN_TRUNCATED,
                f"the signed head covers {head.length} entries but only {total} remain",
            ).at(total)
        if not head_matches(head, head_line(head) if head.length else None):
            return v.fail(
                v.HEAD_MISMATCH, "the entry under the signed head differs from what was signed"
            ).at(max(head.length - 1, 0))
    elif total:
        return v.fail(
            v.HEAD_MISSING,
            f"{HEAD_FILE} is missing, so truncation cannot be ruled out",
        )
    sealed = head.length if head is not None else 0
    if require_sealed and total > sealed:
        return v.fail(
            v.UNSEALED,
            f"{total - sealed} entries follow the signed head, which covers {sealed}; a store "
            "at rest must be sealed (entries appended after the seal cannot be told from "
            "forged ones, and cutting them off would go unnoticed)",
        ).at(sealed)
    details: dict[str, Any] = {
        "entries": total,
        "sealed": sealed,
        "unsealed": total - sealed,
        "l1_receipts": l1,
        "torn_tails_recovered": quarantined(),
    }
    if head is not None:
        details["head"] = head.head
        details["sealed_at"] = head.sealed_at
    if anchor is not None:
        details["operator"] = anchor.to_str()
    level = "L0" if total else None
    return Verdict(v.VALID, level, details=details)


def verify_entries(
    lines: Iterable[bytes],
    head: bytes | None,
    *,
    trusted_operators: Collection[PublicKey] | None = None,
    approver_keys: Mapping[PublicKey, str] | None = None,
    approver_groups: Mapping[str, ApproverGroup] | None = None,
    require_sealed: bool = False,
) -> Verdict:
    """Verify complete entry lines (without newlines, in ledger order) and the head document
    (``None``: no head) held in memory, by exactly :func:`verify_ledger`'s rules."""
    return verify_ledger(
        _Lines(list(lines), head),
        trusted_operators=trusted_operators,
        approver_keys=approver_keys,
        approver_groups=approver_groups,
        workers=1,
        require_sealed=require_sealed,
    )


class _Lines:
    """Lines and a head in memory, as a :class:`~heso.ledger.store.Checkable`."""

    def __init__(self, lines: list[bytes], head: bytes | None) -> None:
        self._lines = lines
        self._head = head

    def signed_head(self) -> Head | Verdict | None:
        return None if self._head is None else fmt.parse_head(self._head)

    def first_line(self) -> bytes | None:
        return self._lines[0] if self._lines else None

    def check(self, checker: Checker, *, workers: int | None = None) -> Checked:
        return Checked([checker(_bounded(self._lines))] if self._lines else [])

    def head_line(self, head: Head) -> bytes | None:
        end = 0
        for line in self._lines:
            end += len(line) + 1
            if end >= head.size:
                return line if end == head.size else None
        return None

    def quarantined(self) -> int:
        return 0


def _bounded(lines: Iterable[bytes]) -> Iterator[bytes | None]:
    for line in lines:
        yield None if len(line) > fmt.MAX_ENTRY_BYTES else line


# -- the per-line checks ---------------------------------------------------------------------


_LONG_DIGITS = re.compile(r"-?[0-9]{16}").match


class _LongNumber(Exception):
    """A number token with 16 or more integer digits (see :data:`_ENTRY_DECODER`)."""


def _int_token(text: str) -> int:
    if len(text) > 15 and _LONG_DIGITS(text):
        raise _LongNumber
    return int(text)


def _float_token(text: str) -> float:
    if len(text) > 15 and _LONG_DIGITS(text):
        raise _LongNumber
    return float(text)


_ENTRY_DECODER = json.JSONDecoder(parse_int=_int_token, parse_float=_float_token)
"""``json.loads`` for chain lines that stops at a number of 16 or more integer digits: the
strict parser reads those as doubles (an integer beyond 2**53 is not the int json.loads
makes of it), so such a line goes to the strict parser, as does one nested too deeply."""


_RECEIPT_HEAD = b'","receipt":{"alg":"' + ALG.encode() + b'","content":'
_SIGNATURES = b',"signatures":'
_RECEIPT_KEYS = frozenset({"alg", "content", "signatures"})
_CONTENT_START = 9 + 64 + len(_RECEIPT_HEAD)


def _canonical_content_hash(
    line: bytes, entry: Mapping[str, Any], *, canonical: bool = False
) -> str | None:
    """The content hash from the line's own bytes, when the line is provably canonical.

    The line must be exactly ``{"prev":…,"receipt":{"alg":…,"content":C,"signatures":S},
    "seq":n}`` with the fixed prefix, ``S`` and the tail re-encoded to the same bytes (not
    needed when the caller proved the whole line ``canonical``), and ``C`` minus its
    ``action_hash`` member hashing to the claimed value — so ``C`` is the very text the
    operator hashed and the parse is unambiguous. Anything else returns ``None`` and is
    verified the generic way.
    """
    receipt = entry["receipt"]
    if type(receipt) is not dict or receipt.keys() != _RECEIPT_KEYS:
        return None
    content = receipt["content"]
    if type(content) is not dict:
        return None
    claimed = content.get("action_hash")
    prev = entry["prev"]
    if type(claimed) is not str or len(claimed) != 64 or len(prev) != 64:
        return None
    if canonical:
        # prev is 64 characters: in a canonical line, 64 bytes only if it needs no escapes.
        if not line.startswith(_RECEIPT_HEAD, 73):
            return None
    elif line[:_CONTENT_START] != b'{"prev":"' + prev.encode("ascii", "replace") + _RECEIPT_HEAD:
        return None
    # In a canonical line, the last ',"signatures":' is the receipt's own member: a nested one
    # could only sit in S, whose objects verify_receipt checks (and refuses) before any hash.
    end = line.rfind(_SIGNATURES)
    if end < _CONTENT_START:
        return None
    if not canonical:
        try:
            tail = b'%s%s},"seq":%d}' % (
                _SIGNATURES,
                canonical_bytes(receipt["signatures"]),
                entry["seq"],
            )
        except (CanonicalizationError, TypeError):
            return None
        if line[end:] != tail:
            return None
    member = b',"action_hash":"%s"' % claimed.encode("ascii", "replace")
    at = line.find(member, _CONTENT_START, end)
    if at < 0:
        return None
    view = memoryview(line)
    hasher = blake3.blake3(view[_CONTENT_START:at])
    hasher.update(view[at + len(member) : end])
    h = hasher.hexdigest()
    return h if h == claimed else None


def _check_entry_strictly(line: bytes) -> Verdict | tuple[dict[str, Any], int, str, str | None]:
    """Parse and canonical-check a line the fast path left undecided (or refused)."""
    long_number = False
    try:
        try:
            entry = _ENTRY_DECODER.decode(line.decode("utf-8"))
        except _LongNumber:
            entry, long_number = json.loads(line), True
    except ValueError as exc:
        return v.fail(v.MALFORMED_JSON, f"line is not valid JSON: {str(exc)[:160]}")
    except RecursionError:
        return v.fail(
            v.MALFORMED_JSON, f"line is not valid JSON: nested deeper than {MAX_PARSE_DEPTH} levels"
        )
    if not isinstance(entry, dict) or entry.keys() != ENTRY_KEYS:
        return v.fail(v.MALFORMED_ENTRY, "an entry must have exactly prev, receipt and seq")
    seq, prev = entry["seq"], entry["prev"]
    if type(seq) is not int or not isinstance(prev, str):
        return v.fail(v.MALFORMED_ENTRY, "seq must be an integer and prev a string")
    # The line must be byte for byte the RFC 8785 form heso writes: then no byte of it can
    # change without changing what it says, and its hash is the hash of its meaning.
    content_hash = _canonical_content_hash(line, entry)
    try:
        if content_hash is not None:
            # Its prefix and tail already match their canonical bytes: only the content is
            # left to re-encode (a third less work than the whole line).
            canonical = (
                canonical_bytes(entry["receipt"]["content"])
                == line[_CONTENT_START : line.rfind(_SIGNATURES)]
            )
        else:
            canonical = canonical_bytes(entry) == line
    except (CanonicalizationError, RecursionError):
        canonical = False
    if not canonical or long_number or line.count(b"[") + line.count(b"{") > MAX_PARSE_DEPTH:
        # The strict parser decides: it refuses what json.loads tolerates, and reads numbers
        # as doubles (an integer beyond 2**53 is not the int json.loads makes of it).
        try:
            entry = loads_strict(line)
        except (CanonicalizationError, ValueError, RecursionError) as exc:
            return v.fail(v.MALFORMED_JSON, f"line is not valid JSON: {str(exc)[:160]}")
        if canonical_bytes(entry) != line:
            return v.fail(
                v.MALFORMED_ENTRY,
                "the line is not in canonical (RFC 8785) form, so it is not the line heso wrote",
            )
        seq, prev = entry["seq"], entry["prev"]
        if type(seq) is not int:
            return v.fail(v.MALFORMED_ENTRY, "seq must be an integer and prev a string")
        content_hash = _canonical_content_hash(line, entry)
    return entry, seq, prev, content_hash
