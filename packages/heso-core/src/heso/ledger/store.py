"""The ledger store interface: what every caller may ask of the store that keeps the chain.

Callers (the gate, approvals, the CLI, the console) hold a :class:`LedgerStore` from
:func:`heso.stores.open_ledger` and never learn which store it is. Two implement it: the file
store (:class:`heso.ledger.file_store.FileLedger`, ``heso-local-data/receipts.jsonl``) and, for
fleets, a PostgreSQL store (many writers on many hosts appending to one chain). Both keep
entries in the one format (:mod:`heso.ledger.format`) and are verified by the one verifier
(:mod:`heso.ledger.verify`), which reads a store only through :class:`Checkable`.

Positions: ``seq`` is an entry's position in the chain (0-based), which every valid entry also
states. Lines are entry lines without their newline (:func:`heso.ledger.format.encode_entry`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from heso.ledger.format import Entry, Head
    from heso.ledger.verify import Checked, Checker
    from heso.transparency.checkpoint_store import CheckpointStore
    from heso.transparency.tree import MerkleTree
    from heso.verdict import Verdict


Durability = Literal["buffered", "fsync"]
DURABILITY_MODES: tuple[str, ...] = ("buffered", "fsync")
"""How durable an acknowledged append is (``[heso] durability``): ``buffered`` survives a killed
process, ``fsync`` also a power cut."""


class Checkable(Protocol):
    """What verification reads (:func:`heso.ledger.verify.verify_ledger`)."""

    def signed_head(self) -> Head | Verdict | None:
        """The latest signed head, verified against its own key; ``None`` when there is none;
        a ``HeadInvalid`` verdict when it is malformed or its signature fails."""
        ...

    def first_line(self) -> bytes | None:
        """The first entry's line (it names the operator when there is no head), if complete
        and within the size limit."""
        ...

    def check(self, checker: Checker, *, workers: int | None = None) -> Checked:
        """Run ``checker`` over every complete entry line in order, in runs of consecutive
        lines the store chooses (possibly in parallel, up to ``workers`` processes), and say
        whether a torn line follows them."""
        ...

    def head_line(self, head: Head) -> bytes | None:
        """The line kept where ``head`` says its last entry ends (entry ``head.length - 1``,
        ending at byte ``head.size`` of the file form), or ``None`` when no entry ends there."""
        ...

    def quarantined(self) -> int:
        """How many torn writes were recovered and set aside (reported, never dropped)."""
        ...


class LedgerReader(Checkable, Protocol):
    """Read access to a ledger: lookups for the CLI, the console and approvals."""

    @property
    def location(self) -> str:
        """Where the ledger is kept, fit to show (a path, or a URL without its password)."""
        ...

    def entries(self, start: int = 0) -> Iterator[tuple[int, bytes]]:
        """``(seq, line)`` of every complete entry from position ``start``, in order."""
        ...

    def line(self, seq: int) -> bytes:
        """The line at position ``seq`` (``ChainError`` when there is none)."""
        ...

    def find(self, prefix: str) -> list[tuple[str, int]]:
        """``(action_hash, seq)`` of every entry whose receipt's hash starts with ``prefix``
        (hex; ``ValueError`` otherwise), in chain order. May use derived data (an index):
        confirm against :meth:`line` before relying on it."""
        ...

    def receipt(self, prefix: str) -> dict[str, Any]:
        """The receipt whose ``action_hash`` starts with ``prefix`` (its latest entry):
        ``ReceiptNotFoundError`` when none or the prefix is not hex, ``AmbiguousPrefixError``
        when several receipts match."""
        ...

    def scan(self, action_hash: str, start: int = 0) -> list[tuple[int, bytes]]:
        """``(seq, line)`` of every entry from position ``start`` whose receipt has exactly
        ``action_hash``, read from the entries themselves, never from derived data: for
        decisions that must hold when an index was tampered with (an approval's firing)."""
        ...

    def merkle_tree(self) -> MerkleTree:
        """The log's Merkle tree (C2SP ``merkle-tree``, a leaf per entry line), to read
        roots and proofs: O(log n) stored hashes per proof. A writer keeps it current through
        :class:`heso.transparency.ledger_tree.LedgerTree`, the one place that maintains it."""
        ...

    def checkpoint_store(self) -> CheckpointStore:
        """The signed checkpoints kept with the log."""
        ...

    def stamp(self) -> Hashable:
        """A value that changes whenever entries, the head or the quarantine change (the
        console caches what it derived until then)."""
        ...


class LedgerStore(LedgerReader, Protocol):
    """A ledger that can be appended to (opened with the operator key)."""

    def append(self, receipt: Mapping[str, Any]) -> Entry:
        """Link ``receipt`` into the chain; returns its entry once durable (per the store's
        durability), so the caller may then run the action. Raises ``ChainError`` when the
        receipt cannot be recorded: the gate then fails closed."""
        ...

    def checkpoint(self) -> bytes:
        """Issue a signed checkpoint of the whole log now; returns the note."""
        ...

    def keep_cosigned(self, note: bytes) -> None:
        """Keep a checkpoint this log issued, now carrying witness cosignatures."""
        ...

    @property
    def origin(self) -> str | None:
        """The origin line of the log's checkpoints."""
        ...

    def seal(self) -> None:
        """Sign the current head now (also done periodically and on :meth:`close`)."""
        ...

    def close(self) -> None:
        """Make every appended entry durable, seal them, and release what the store holds."""
        ...

    @property
    def length(self) -> int:
        """Entries in the chain as this writer knows it."""
        ...
