"""The Merkle tree and checkpoints of one ledger, whatever store keeps it.

A ledger store owns one :class:`LedgerTree` and calls it, always under its write lock:
:meth:`~LedgerTree.recover` when it opens (or after another writer appended),
:meth:`~LedgerTree.add` with the lines it just wrote (hashed and stored at once: a store that
writes them in the entry's own transaction), or :meth:`~LedgerTree.defer` (held in memory,
then hashed and stored in one write by :meth:`~LedgerTree.flush`, which the store calls before
it signs a head; :meth:`~LedgerTree.issue` and a full buffer flush too), and
:meth:`~LedgerTree.issue` when :meth:`~LedgerTree.due` says a checkpoint is due (every
``checkpoint_every`` entries or ``checkpoint_interval`` seconds). The store supplies a
:class:`~heso.transparency.hash_store.HashStore` and a
:class:`~heso.transparency.checkpoint_store.CheckpointStore`; the file store keeps them in
``receipts.tree`` and ``checkpoints/``, a database in tables.

The tree is derived data: the log's lines rebuild it. Recovery cuts hashes past the log's
length, checks the last stored leaf against the log's line, and hashes only the entries it
lacks, so a crash that loses deferred leaves loses nothing the next writer does not recompute.
Readers of the stored tree see at least every leaf a checkpoint (or, for the file store, the
signed head) covers, and possibly fewer than the log holds. A checkpoint is signed only if the
tree at its size extends the last checkpoint issued: a log never signs two inconsistent
checkpoints, and refuses to go on once its entries no longer match what it signed.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

from heso.errors import ChainError, TransparencyError
from heso.keys import SigningKey
from heso.transparency.checkpoint import Checkpoint, issue_checkpoint, open_checkpoint
from heso.transparency.checkpoint_store import CheckpointStore
from heso.transparency.hash_store import HashStore
from heso.transparency.merkle import leaf_hash
from heso.transparency.note import Ed25519Signer, parse_note
from heso.transparency.settings import TransparencySettings
from heso.transparency.tree import MerkleTree

__all__ = ["MAX_DEFERRED_BYTES", "MAX_DEFERRED_LEAVES", "LedgerTree", "Lines"]

log = logging.getLogger("heso.transparency")

Lines = Callable[[int], Iterator[tuple[int, bytes]]]
"""``entries(start)``: ``(seq, line)`` of the log's complete entries from ``start`` on."""

MAX_DEFERRED_LEAVES = 1024
"""Deferred leaves held before :meth:`LedgerTree.defer` flushes them itself …"""
MAX_DEFERRED_BYTES = 1 << 20
"""… or deferred line bytes (bounds the memory they hold)."""


class LedgerTree:
    """The tree over a ledger's lines and the checkpoints signed over it (see the module)."""

    def __init__(
        self,
        hashes: HashStore,
        checkpoints: CheckpointStore,
        entries: Lines,
        *,
        settings: TransparencySettings | None = None,
        key: SigningKey | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or TransparencySettings()
        self.checkpoints = checkpoints
        self._entries = entries
        self._clock = clock
        self.signer: Ed25519Signer | None = None
        if key is not None:
            origin = self.settings.origin_for(key.public_key())
            self.signer = Ed25519Signer(origin, key)
        self.tree = MerkleTree(hashes)
        self._deferred: list[bytes] = []
        self._deferred_bytes = 0
        self._last_size: int | None = None  # the latest checkpoint's size (None: not read yet)
        self._last_time = clock()
        self._due_size = 1
        self._due_time = float("inf")

    @property
    def origin(self) -> str | None:
        """The origin line of this log's checkpoints (``None`` when opened without the key)."""
        return self.signer.name if self.signer else None

    # -- keeping up with the log ------------------------------------------------------------

    @property
    def size(self) -> int:
        """The leaves added so far, stored or deferred."""
        return self.tree.size + len(self._deferred)

    def recover(self, length: int) -> None:
        """Bring the tree to the log's ``length`` entries: drop deferred leaves and hashes of
        entries the log no longer has, rebuild when the last stored leaf is not the log's line
        (a store restored from elsewhere), and hash the entries it lacks."""
        self._drop_deferred()
        tree = self.tree
        tree.reload(length)
        if tree.size:
            last = next(self._entries(tree.size - 1), None)
            if last is None or tree.leaf_hash(tree.size - 1) != leaf_hash(last[1]):
                log.warning("the Merkle tree does not match the log's entries; rebuilding it")
                tree.truncate(0)
        if tree.size < length:
            self.add(line for seq, line in self._entries(tree.size) if seq < length)

    def add(self, lines: Iterable[bytes]) -> None:
        """Append the log's new lines as leaves (in order, right after the tree's last) and
        store their hashes now (after any deferred ones), one leaf's group per store write."""
        self.flush()
        append = self.tree.append
        for line in lines:
            append(line)

    def defer(self, lines: Sequence[bytes]) -> None:
        """Append the log's new lines as leaves, hashed and stored at the next :meth:`flush`
        (or now, once ``MAX_DEFERRED_LEAVES`` or ``MAX_DEFERRED_BYTES`` are held)."""
        deferred = self._deferred
        deferred += lines
        for line in lines:
            self._deferred_bytes += len(line)
        if len(deferred) >= MAX_DEFERRED_LEAVES or self._deferred_bytes >= MAX_DEFERRED_BYTES:
            self.flush()

    def flush(self) -> None:
        """Hash the deferred leaves and store their hashes in one write. On failure they are
        dropped (the store keeps what it had) and :meth:`recover` rehashes them from the log."""
        if not self._deferred:
            return
        lines = self._deferred
        self._drop_deferred()
        self.tree.extend(lines)

    def _drop_deferred(self) -> None:
        self._deferred = []
        self._deferred_bytes = 0

    # -- checkpoints -------------------------------------------------------------------------

    def latest_size(self) -> int:
        """The size of the latest checkpoint issued (0 when none)."""
        if self._last_size is None:
            sizes = self.checkpoints.sizes()
            self._last_size = sizes[-1] if sizes else 0
            self._plan()
        return self._last_size

    def _plan(self) -> None:
        """When the next checkpoint is due: at a size, or at a time (``due`` compares only)."""
        last = self._last_size or 0
        self._due_size = last + self.settings.checkpoint_every if last else 1
        interval = self.settings.checkpoint_interval
        self._due_time = self._last_time + interval if interval else float("inf")

    def due(self, now: float | None = None) -> bool:
        """Whether the writer should issue a checkpoint now (``now``: its monotonic clock)."""
        if self._last_size is None:
            if self.signer is None:
                return False
            self.latest_size()
        elif self.signer is None:
            return False
        size = self.tree.size + len(self._deferred)  # self.size: once per append, one call less
        if size >= self._due_size:
            return True
        if now is None:
            now = self._clock()
        return now >= self._due_time and size > (self._last_size or 0)

    def latest(self) -> bytes | None:
        """The latest signed checkpoint note, or ``None``."""
        self._last_size = None
        size = self.latest_size()
        return self.checkpoints.get(size) if size else None

    def issue(self) -> bytes:
        """Sign a checkpoint of the tree as it is, keep it, and return it (the one already
        kept when nothing was appended since). Refuses (``ChainError``) when the tree does
        not extend the latest checkpoint, even after rebuilding the tree from the entries."""
        if self.signer is None:
            raise ChainError("this ledger was opened to read: issuing a checkpoint needs its key")
        self.flush()
        previous = self.latest()
        prev_cp = None
        if previous is not None:
            prev_cp = Checkpoint.from_text(parse_note(previous).text)
            if prev_cp.origin != self.signer.name:
                # The same log under another name (the operator key, and with it the default
                # origin, was rotated): its tree must still extend what was signed before.
                prev_cp = dataclasses.replace(prev_cp, origin=self.signer.name)
            elif prev_cp.size == self.tree.size and prev_cp.root == self.tree.root():
                return previous
        try:
            note = issue_checkpoint(self.tree, self.signer, previous=prev_cp)
        except TransparencyError:
            size = self.tree.size
            log.warning("the Merkle tree disagrees with the last checkpoint; rebuilding it")
            self.tree.truncate(0)
            self.recover(size)
            try:
                note = issue_checkpoint(self.tree, self.signer, previous=prev_cp)
            except TransparencyError as exc:
                raise ChainError(
                    f"refusing to go on: the log's entries no longer match checkpoint "
                    f"{prev_cp.size if prev_cp else 0} it signed ({exc}); the log was rewritten "
                    "(run `heso verify --chain`)"
                ) from None
        self.checkpoints.put(self.tree.size, note)
        self._last_size, self._last_time = self.tree.size, self._clock()
        self._plan()
        return note

    def keep_cosigned(self, note: bytes) -> None:
        """Replace the kept checkpoint of the same size with ``note`` (it gained
        cosignatures); the log's own signature must still verify."""
        if self.signer is None:
            raise ChainError("this ledger was opened to read: it cannot keep checkpoints")
        verified = open_checkpoint(note, [self.signer.verifier()], origin=self.signer.name)
        self.checkpoints.put(verified.checkpoint.size, note)

    # -- proofs ------------------------------------------------------------------------------

    def prove_consistency(self, old: int, new: int) -> Sequence[bytes]:
        """The consistency proof between two sizes (for witnesses)."""
        self.flush()
        return self.tree.consistency_proof(old, new)
